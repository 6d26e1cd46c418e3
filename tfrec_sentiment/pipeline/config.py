"""Feedback-update and erasure configs (tfrec_sentiment.pipeline: update.py, forget.py).

Example:

>>> config = UpdateConfig(tolerance=0.05)
>>> config.eval_quantile, config.validation_quantile
(0.8, 0.7)
"""

from __future__ import annotations

import dataclasses

from tfrec_sentiment.config_checks import ConfigError, check_fields

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
        min_eval_rows: the least evidence the guardrail compares on: evaluation-slice
            rows that both models can score (reviews of catalogue items). Below it
            (or below `min_eval_users`) the update refuses, whatever the metrics
            say, unless `force`: a slice of 1 row has a confidence interval of
            width 0 and decides nothing. Counted on the slice as evaluated.
        min_eval_users: the least number of distinct users in that slice.
        keep_versions: after publishing, keep this many newest versions and delete
            older ones (at least `export.num_versions`, which TF Serving keeps loaded).
        force: publish whatever the guardrail says, too little evidence included (the
            decision still records it).
        seed: training seed; None = the parent run's.
        replace_other_lineage: publish even though the newest version under the
            model name was exported from another lineage (another training run and
            its updates): off, the update refuses before any work, since its version
            would replace a model it never compared with its own data
            (`update_records.check_lineage`).
    """

    eval_fraction: float = dataclasses.field(default=0.2, metadata={"above": 0.0, "below": 1.0})
    validation_fraction: float = dataclasses.field(default=0.1, metadata={"min": 0.0})
    epochs: int = dataclasses.field(default=10, metadata={"min": 1})
    learning_rate: float | None = dataclasses.field(default=None, metadata={"above": 0.0})
    tolerance: float = dataclasses.field(default=0.02, metadata={"min": 0.0})
    guard_metrics: tuple[str, ...] = dataclasses.field(
        default=("rmse", "ndcg"), metadata={"choices": GUARD_METRICS, "min_items": 1})
    k: int = dataclasses.field(default=10, metadata={"min": 1})
    # the guardrail needs evidence: at least one row and one user
    min_eval_rows: int = dataclasses.field(default=20, metadata={"min": 1})
    min_eval_users: int = dataclasses.field(default=5, metadata={"min": 1})
    keep_versions: int = dataclasses.field(default=5, metadata={"min": 1})
    force: bool = False
    seed: int | None = dataclasses.field(default=None, metadata={"min": 0})
    replace_other_lineage: bool = False

    def __post_init__(self) -> None:
        check_fields(self)  # also turns a list of guard metrics into a tuple
        if self.validation_fraction >= 1.0 - self.eval_fraction:
            raise ConfigError(f"must be < 1 - eval_fraction = {1.0 - self.eval_fraction:g}",
                              "validation_fraction", self.validation_fraction)
        if self.min_eval_users > self.min_eval_rows:
            raise ConfigError(f"cannot exceed min_eval_rows={self.min_eval_rows} (each user "
                              "has a row)", "min_eval_users", self.min_eval_users)

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


CLEANUP_MODES = ("delete", "list")
UNKNOWN_ID_MODES = ("error", "count")


@dataclasses.dataclass
class ForgetConfig:
    """How `tools/forget.py` erases users from a run (see pipeline/forget.py).

    Attributes:
        epochs: warm-start training epochs after the users' rows are gone.
        learning_rate: warm-start learning rate; None = the parent's.
        seed: training seed; None = the parent run's.
        cleanup: what becomes of the older versions and run folders that still hold
            the users once the new version is live: "delete" them, or "list" them in
            the run's `erasure.json` (and on stdout) for the operator to delete.
        unknown_ids: a requested id the run does not know (neither as given nor as
            its pseudonym): "error" stops before any work (a typo must not pass
            for an erasure; the message gives the ids' positions, never the ids),
            "count" erases the known ones and records how many were unknown.
        keep_versions: after publishing, keep this many newest versions (as
            `UpdateConfig`); the cleanup then deletes older ones that hold the users.
        replace_other_lineage: as `UpdateConfig`.
        tolerance, guard_metrics, k: the guardrail's checks, as `UpdateConfig`. They
            are computed and recorded, but never refuse: an erasure is published
            whatever they say (a legal duty is not subject to a quality check).
    """

    epochs: int = dataclasses.field(default=3, metadata={"min": 1})
    learning_rate: float | None = dataclasses.field(default=None, metadata={"above": 0.0})
    seed: int | None = dataclasses.field(default=None, metadata={"min": 0})
    cleanup: str = dataclasses.field(default="delete", metadata={"choices": CLEANUP_MODES})
    unknown_ids: str = dataclasses.field(default="error",
                                         metadata={"choices": UNKNOWN_ID_MODES})
    keep_versions: int = dataclasses.field(default=5, metadata={"min": 1})
    tolerance: float = dataclasses.field(default=0.02, metadata={"min": 0.0})
    guard_metrics: tuple[str, ...] = dataclasses.field(
        default=("rmse", "ndcg"), metadata={"choices": GUARD_METRICS, "min_items": 1})
    k: int = dataclasses.field(default=10, metadata={"min": 1})
    replace_other_lineage: bool = False

    def __post_init__(self) -> None:
        check_fields(self)

    def update_config(self) -> UpdateConfig:
        """The `UpdateConfig` the shared stages read: these settings, `force` on."""
        return UpdateConfig(epochs=self.epochs, learning_rate=self.learning_rate,
                            seed=self.seed, keep_versions=self.keep_versions,
                            tolerance=self.tolerance, guard_metrics=self.guard_metrics,
                            k=self.k, force=True,
                            replace_other_lineage=self.replace_other_lineage)
