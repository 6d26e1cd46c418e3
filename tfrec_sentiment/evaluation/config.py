"""Evaluation stage config (owned by tfrec_sentiment.evaluation).

Example:

>>> config = EvalConfig(seeds=(0, 1))
>>> config.k, len(config.seeds)
(10, 2)
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class EvalConfig:
    """How models are scored, compared and reported."""

    k: int = 10  # top-K cut-off of Recall / NDCG / HitRate
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds per non-deterministic variant
    level: float = 0.95  # confidence level of seed intervals and bootstrap intervals
    n_resamples: int = 2000  # paired bootstrap resamples of test users
    bootstrap_seed: int = 0
    # Test rows whose item the training data lacks cannot be ranked: drop (and count) them.
    drop_unknown_items: bool = True
    max_elements: int = 1 << 22  # scores held in memory at once while ranking the catalogue
    mf_factors: int = 10  # the matrix-factorisation baseline's latent dimension
