"""Feedback-update config (owned by tfrec_sentiment.pipeline; see pipeline/update.py).

Example:

>>> config = UpdateConfig(tolerance=0.05)
>>> config.eval_quantile, config.validation_quantile
(0.8, 0.7)
"""

from __future__ import annotations

import dataclasses

GUARD_METRICS = ("rmse", "mae", "recall", "ndcg", "hitrate")


@dataclasses.dataclass
class UpdateConfig:
    """How `tools/update.py` folds feedback into a run and decides to publish.

    Attributes:
        eval_fraction: the newest share of the NEW feedback reviews (by time) held
            out as the evaluation slice on which the candidate meets the published
            version. A day is never cut in two (see `data.splits.time_cutoff`).
        validation_fraction: the share just before it, held out for the candidate's
            early stopping (0 = none: train `epochs` epochs). Never the evaluation
            slice, so that choosing the epoch does not flatter the candidate.
        epochs: warm-start training epochs (early stopping may stop sooner).
        learning_rate: warm-start learning rate; None = the parent's.
        tolerance: the guardrail's relative slack: the candidate is published only if,
            on every metric of `guard_metrics`, it is not worse than the published
            version by more than this share of the published value (RMSE may rise
            by at most 2% with 0.02; NDCG@10 may fall by at most 2%).
        guard_metrics: metrics the guardrail checks: "rmse", "mae", and top-K
            "recall", "ndcg", "hitrate" (at `k`).
        k: the top-K cut-off of the ranking metrics.
        keep_versions: after publishing, keep this many newest versions and delete
            older ones (at least `export.num_versions`, which TF Serving keeps loaded).
        force: publish whatever the guardrail says (the decision still records it).
        seed: training seed; None = the parent run's.
    """

    eval_fraction: float = 0.2
    validation_fraction: float = 0.1
    epochs: int = 10
    learning_rate: float | None = None
    tolerance: float = 0.02
    guard_metrics: tuple[str, ...] = ("rmse", "ndcg")
    k: int = 10
    keep_versions: int = 5
    force: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        self.guard_metrics = tuple(self.guard_metrics)
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in (0, 1), got {self.eval_fraction}")
        if not 0.0 <= self.validation_fraction < 1.0 - self.eval_fraction:
            raise ValueError(f"validation_fraction must be in [0, 1 - eval_fraction), got "
                             f"{self.validation_fraction}")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        unknown = set(self.guard_metrics) - set(GUARD_METRICS)
        if unknown or not self.guard_metrics:
            raise ValueError(f"guard_metrics {self.guard_metrics}: choose from {GUARD_METRICS}")
        if self.keep_versions < 1 or self.epochs < 1 or self.k < 1:
            raise ValueError("keep_versions, epochs and k must be >= 1")

    @property
    def eval_quantile(self) -> float:
        """Share of the new reviews (by time) before the evaluation slice."""
        return round(1.0 - self.eval_fraction, 10)

    @property
    def validation_quantile(self) -> float | None:
        """Share before the validation part; None when there is none."""
        if self.validation_fraction <= 0:
            return None
        return round(1.0 - self.eval_fraction - self.validation_fraction, 10)

    def metric_keys(self) -> list[str]:
        """Evaluation keys of `guard_metrics`, e.g. ["rmse", "ndcg@10"]."""
        return [m if m in ("rmse", "mae") else f"{m}@{self.k}" for m in self.guard_metrics]
