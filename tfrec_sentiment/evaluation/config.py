"""Evaluation stage config (owned by tfrec_sentiment.evaluation).

Example:

>>> config = EvalConfig(seeds=(0, 1))
>>> config.k, len(config.seeds)
(10, 2)
"""

from __future__ import annotations

import dataclasses

from tfrec_sentiment.config_checks import ConfigError, check_fields


@dataclasses.dataclass
class EvalConfig:
    """How models are scored, compared and reported."""

    k: int = dataclasses.field(default=10, metadata={"min": 1})  # top-K of Recall / NDCG / HitRate
    # Training seeds per non-deterministic variant. One by default: the comparisons'
    # intervals are the paired bootstrap over test users, and each extra seed costs one
    # more training of every variant (on Musical Instruments two more seeds took 270 of
    # the 423 s of the evaluation stage). The README's tables use --seeds 0,1,2 for the
    # mean +- interval over seeds.
    seeds: tuple[int, ...] = dataclasses.field(default=(0,),
                                               metadata={"min": 0, "min_items": 1})
    # confidence level of seed intervals and bootstrap intervals
    level: float = dataclasses.field(default=0.95, metadata={"above": 0.0, "below": 1.0})
    # paired bootstrap resamples of test users
    n_resamples: int = dataclasses.field(default=2000, metadata={"min": 1})
    bootstrap_seed: int = dataclasses.field(default=0, metadata={"min": 0})
    # Test rows whose item the training data lacks cannot be ranked: drop (and count) them.
    drop_unknown_items: bool = True
    # At most this many test users are ranked, the same ones for every model (first by
    # a fixed hash of the id, `data.splits.user_sample_mask`); none = all. Ranking costs
    # users x items, so without a cap the evaluation grows as the square of the data;
    # 10,000 keeps every test user of the packaged real data sets.
    max_users: int | None = dataclasses.field(default=10_000, metadata={"min": 1})
    # scores held in memory at once while ranking the catalogue
    max_elements: int = dataclasses.field(default=1 << 22, metadata={"min": 1})
    # the matrix-factorisation baseline's latent dimension
    mf_factors: int = dataclasses.field(default=10, metadata={"min": 1})
    # Liked / disliked protocols (evaluate.py): held-out stars >= / <= these.
    liked_min_rating: float = dataclasses.field(default=4.0, metadata={"min": 0.0})
    disliked_max_rating: float = dataclasses.field(default=2.0, metadata={"min": 0.0})
    # Slices: users by training reviews (increasing lower bounds: "1", "2-4", "5+") ...
    history_bounds: tuple[int, ...] = dataclasses.field(default=(1, 2, 5),
                                                        metadata={"min": 0, "min_items": 1})
    # ... and held-out items with at most this many training reviews.
    few_reviews_max: int = dataclasses.field(default=5, metadata={"min": 0})
    # Paired bootstrap on every slice too (False: on all test users only, cheaper).
    bootstrap_slices: bool = True
    # Cold-start protocol (evaluation.cold_start): reviews given per held-out user
    # (data.cold_user_share); () = off.
    cold_start_ks: tuple[int, ...] = dataclasses.field(default=(1, 3), metadata={"min": 1})

    # Comment-only protocol (evaluation.comment_only): every model trained with the
    # training / validation stars hidden, sentiment the only graded signal.
    comment_only: bool = True
    comment_only_seeds: tuple[int, ...] = dataclasses.field(default=(0,),
                                                             metadata={"min": 0, "min_items": 1})
    # Stars of the (negative, neutral, positive) classes: pseudo-rating = expected stars.
    comment_only_class_stars: tuple[float, ...] = dataclasses.field(
        default=(1.0, 3.0, 5.0), metadata={"min": 1.0, "max": 5.0, "min_items": 3})

    def __post_init__(self) -> None:
        check_fields(self)
        if len(self.comment_only_class_stars) != 3:
            raise ConfigError("needs 3 values (negative, neutral, positive)",
                              "comment_only_class_stars", self.comment_only_class_stars)
        if self.liked_min_rating <= self.disliked_max_rating:
            raise ConfigError(f"must be above disliked_max_rating ({self.disliked_max_rating})",
                              "liked_min_rating", self.liked_min_rating)
        bounds = self.history_bounds
        if any(low >= high for low, high in zip(bounds, bounds[1:])):
            raise ConfigError("must be strictly increasing", "history_bounds", bounds)
