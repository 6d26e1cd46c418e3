"""What an evaluation returns: metric names, per-user metric parts, the result.

`UserMetrics` keeps each test user's rating and top-K parts, so that a metric is a
function of the users (`statistic`), which the paired bootstrap resamples;
`EvalResult` holds them for all users and per slice. `evaluate.py` computes them.

Example:

>>> metric_label("liked_ndcg@10"), "disliked@10" in LOWER_IS_BETTER
('Liked NDCG@10', True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tfrec_sentiment.evaluation.stats import Statistic


class _MetricNames(frozenset):
    """A set of metric base names that also holds their "@K" keys ("disliked@10")."""

    def __contains__(self, metric: object) -> bool:
        return (frozenset.__contains__(self, metric)
                or frozenset.__contains__(self, str(metric).partition("@")[0]))


LOWER_IS_BETTER = _MetricNames({"rmse", "mae", "disliked", "disliked_cond"})
ALL_USERS = "all"  # the population of `EvalResult.metrics`
# Top-K arrays of `UserMetrics` by metric base name.
_TOPK_FIELDS = {"recall": "recall", "ndcg": "ndcg", "hitrate": "hit",
                "liked_recall": "liked_recall", "liked_ndcg": "liked_ndcg",
                "disliked": "disliked"}


def metric_names(k: int) -> tuple[str, ...]:
    """The metric keys of a result, in report order.

    Example:
        >>> metric_names(10)[:5]
        ('rmse', 'mae', 'recall@10', 'ndcg@10', 'hitrate@10')
        >>> metric_names(10)[5:]
        ('liked_recall@10', 'liked_ndcg@10', 'disliked@10', 'disliked_cond@10')
    """
    return ("rmse", "mae", f"recall@{k}", f"ndcg@{k}", f"hitrate@{k}", f"liked_recall@{k}",
            f"liked_ndcg@{k}", f"disliked@{k}", f"disliked_cond@{k}")


def metric_label(metric: str) -> str:
    """Display name of a metric key: "ndcg@10" -> "NDCG@10", "rmse" -> "RMSE"."""
    names = {"rmse": "RMSE", "mae": "MAE", "recall": "Recall", "ndcg": "NDCG",
             "hitrate": "HitRate", "liked_recall": "Liked Recall", "liked_ndcg": "Liked NDCG",
             "disliked": "Disliked", "disliked_cond": "Cond. Disliked"}
    base, _, k = metric.partition("@")
    return names.get(base, base) + (f"@{k}" if k else "")


def history_buckets(bounds: Sequence[int]) -> list[tuple[str, int, float]]:
    """User-history buckets (label, low, high): training reviews n with low <= n < high.

    Args:
        bounds: increasing lower bounds >= 0; a "0" bucket is added below a first bound > 0.

    Example:
        >>> [label for label, _, _ in history_buckets((1, 2, 5))]
        ['0', '1', '2-4', '5+']
    """
    bounds = [int(b) for b in bounds]
    if not bounds or bounds[0] < 0 or any(b >= c for b, c in zip(bounds, bounds[1:])):
        raise ValueError(f"history bounds must be increasing and >= 0, got {tuple(bounds)}")
    edges = ([0] if bounds[0] > 0 else []) + bounds
    out = []
    for low, high in zip(edges, [*edges[1:], np.inf]):
        label = (f"{low}+" if high == np.inf else str(low) if high == low + 1
                 else f"{low}-{int(high) - 1}")
        out.append((label, low, high))
    return out


@dataclasses.dataclass
class UserMetrics:
    """Per-user metric parts, aligned with `user_ids` (all arrays [U]).

    Rating parts are sums over the user's test rows, so resampled users give the row-level
    RMSE / MAE of their rows. Top-K arrays are expected values in [0, 1], NaN for users
    with no item of the metric's relevance set (any / liked); `disliked` is 0 for users
    with no disliked item (`has_disliked` False), as Disliked@K counts them.
    """

    user_ids: np.ndarray
    squared_error: np.ndarray
    absolute_error: np.ndarray
    n_ratings: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    hit: np.ndarray
    k: int
    liked_recall: np.ndarray
    liked_ndcg: np.ndarray
    disliked: np.ndarray
    has_disliked: np.ndarray  # bool

    def statistic(self, metric: str) -> Statistic:
        """The metric as a function of users: int [R, n] index rows -> float [R].

        Example:
            >>> everyone = np.arange(len(per_user.user_ids))[None]  # doctest: +SKIP
            >>> per_user.statistic("rmse")(everyone)  # [1]: the RMSE of all users  # doctest: +SKIP
        """
        if metric in ("rmse", "mae"):
            errors = self.squared_error if metric == "rmse" else self.absolute_error

            def rating(index: np.ndarray) -> np.ndarray:
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = errors[index].sum(1) / self.n_ratings[index].sum(1)
                return np.sqrt(mean) if metric == "rmse" else mean

            return rating
        values = self._topk_array(metric)
        valid = ~np.isnan(values)
        filled = np.where(valid, values, 0.0)
        if valid.all():  # every user counts: one gather per resample, not two
            return lambda index: filled[index].mean(1)

        def topk(index: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return filled[index].sum(1) / valid[index].sum(1)

        return topk

    def summary(self) -> dict[str, float]:
        """Every metric over all users, e.g. {"rmse": 0.96, ..., "ndcg@10": 0.04}; NaN when
        no user qualifies (no rating row, no liked item, ...)."""
        everyone = np.arange(len(self.user_ids))[None, :]
        return {name: float(self.statistic(name)(everyone)[0]) for name in metric_names(self.k)}

    def counts(self) -> dict[str, int]:
        """Users, rating rows, and the users each top-K mean averages over."""
        return {"users": len(self.user_ids), "test_rows": int(self.n_ratings.sum()),
                "topk_users": int((~np.isnan(self.recall)).sum()),
                "liked_users": int((~np.isnan(self.liked_recall)).sum()),
                "disliked_users": int(self.has_disliked.sum())}

    def subset(self, keep: np.ndarray) -> UserMetrics:
        """The users selected by a bool [U] mask (or int index), every array cut alike."""
        arrays = {f.name: getattr(self, f.name)[keep] for f in dataclasses.fields(self)
                  if f.name != "k"}
        return UserMetrics(k=self.k, **arrays)

    def _topk_array(self, metric: str) -> np.ndarray:
        base, _, k = metric.partition("@")
        if k != str(self.k) or (base not in _TOPK_FIELDS and base != "disliked_cond"):
            raise KeyError(f"unknown metric {metric!r}; have {metric_names(self.k)}")
        if base == "disliked_cond":
            return np.where(self.has_disliked, self.disliked, np.nan)
        return getattr(self, _TOPK_FIELDS[base])

    @classmethod
    def average(cls, runs: Sequence[UserMetrics]) -> UserMetrics:
        """Per-user mean over runs of one model (e.g. its seeds), for the bootstrap."""
        first = runs[0]
        for run in runs[1:]:
            if run.k != first.k or not np.array_equal(run.user_ids, first.user_ids):
                raise ValueError("runs to average must share k and the test users")
        fields = ("squared_error", "absolute_error", "recall", "ndcg", "hit", "liked_recall",
                  "liked_ndcg", "disliked")
        means = {f: np.mean([getattr(r, f) for r in runs], axis=0) for f in fields}
        return cls(user_ids=first.user_ids, n_ratings=first.n_ratings, k=first.k,
                   has_disliked=first.has_disliked, **means)


@dataclasses.dataclass
class EvalResult:
    """Metrics of one model on one split, with the per-user parts and the row counts.

    `metrics` and `per_user` cover all test users; `slices` maps a slice name
    ("user_history=1", "item_reviews<=5", ...) to its own `UserMetrics`.
    """

    metrics: dict[str, float]
    per_user: UserMetrics
    counts: dict[str, int]
    slices: dict[str, UserMetrics] = dataclasses.field(default_factory=dict)

    @property
    def slice_metrics(self) -> dict[str, dict[str, float]]:
        """slice name -> every metric on that slice."""
        return {name: part.summary() for name, part in self.slices.items()}
