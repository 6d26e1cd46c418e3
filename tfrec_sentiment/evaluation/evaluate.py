"""Score one `Recommender` on a time split: per-user rating and top-K metrics.

The protocol (see also `metrics.py` for the metric definitions):

- Rating metrics (RMSE, MAE) over the test rows.
- Top-K metrics over the full catalogue: every item of the training data (or a given
  catalogue), scored for every test user in batches of users, so memory stays at
  `max_elements` scores whatever the catalogue size. Each user's training items (and
  validation items, when scoring the test split) are excluded from the ranking.
- Test rows whose item is not in the catalogue are dropped by default
  (`drop_unknown_items`): no model can rank an item it never saw, and rating one is a
  pure fallback. They are counted in `EvalResult.counts`. With
  `drop_unknown_items=False` they stay: rated through each model's fallback, and counted
  as relevant items that no ranking reaches.
- Per-user arrays (`UserMetrics`) are kept so that two models can be compared with a
  paired bootstrap over users.

Example:

>>> import pandas as pd
>>> from tfrec_sentiment.evaluation.baselines import Popularity
>>> train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
...                       "rating": [5.0, 3.0, 4.0]})
>>> test = pd.DataFrame({"user_id": ["b"], "item_id": ["y"], "rating": [2.0]})
>>> result = evaluate(Popularity().fit(train), train, test, k=1)
>>> result.metrics["rmse"], result.metrics["hitrate@1"]  # 4 - 2; y is b's only unseen item
(2.0, 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.evaluation.metrics import (
    EXCLUDED,
    finite_scores,
    rating_errors,
    topk_metrics,
)
from tfrec_sentiment.evaluation.protocol import Recommender, SplitLike
from tfrec_sentiment.evaluation.stats import Statistic

LOWER_IS_BETTER = frozenset({"rmse", "mae"})
DEFAULT_MAX_ELEMENTS = 1 << 22  # scores held at once: 4M float64 = 32 MB per array


def metric_names(k: int) -> tuple[str, ...]:
    """The metric keys of a result, e.g. ("rmse", "mae", "recall@10", "ndcg@10", "hitrate@10")."""
    return ("rmse", "mae", f"recall@{k}", f"ndcg@{k}", f"hitrate@{k}")


def metric_label(metric: str) -> str:
    """Display name of a metric key: "ndcg@10" -> "NDCG@10", "rmse" -> "RMSE"."""
    names = {"rmse": "RMSE", "mae": "MAE", "recall": "Recall", "ndcg": "NDCG",
             "hitrate": "HitRate"}
    base, _, k = metric.partition("@")
    return names.get(base, base) + (f"@{k}" if k else "")


@dataclasses.dataclass
class UserMetrics:
    """Per-user metric parts, aligned with `user_ids` (all arrays [U]).

    Rating parts are sums over the user's test rows, so resampled users give the row-level
    RMSE / MAE of their rows; top-K arrays are NaN for users with no relevant item.
    """

    user_ids: np.ndarray
    squared_error: np.ndarray
    absolute_error: np.ndarray
    n_ratings: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    hit: np.ndarray
    k: int

    def statistic(self, metric: str) -> Statistic:
        """The metric as a function of users: int [R, n] index rows -> float [R].

        Example:
            >>> everyone = np.arange(len(per_user.user_ids))[None]  # doctest: +SKIP
            >>> per_user.statistic("rmse")(everyone)  # [1]: the RMSE of all users  # doctest: +SKIP
        """
        if metric in ("rmse", "mae"):
            errors = self.squared_error if metric == "rmse" else self.absolute_error

            def rating(index: np.ndarray) -> np.ndarray:
                mean = errors[index].sum(1) / np.maximum(self.n_ratings[index].sum(1), 1)
                return np.sqrt(mean) if metric == "rmse" else mean

            return rating
        values = self._topk_array(metric)
        valid = ~np.isnan(values)
        filled = np.where(valid, values, 0.0)

        def topk(index: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return filled[index].sum(1) / valid[index].sum(1)

        return topk

    def summary(self) -> dict[str, float]:
        """Every metric over all users, e.g. {"rmse": 0.96, ..., "ndcg@10": 0.04}."""
        everyone = np.arange(len(self.user_ids))[None, :]
        return {name: float(self.statistic(name)(everyone)[0]) for name in metric_names(self.k)}

    def _topk_array(self, metric: str) -> np.ndarray:
        arrays = {f"recall@{self.k}": self.recall, f"ndcg@{self.k}": self.ndcg,
                  f"hitrate@{self.k}": self.hit}
        if metric not in arrays:
            raise KeyError(f"unknown metric {metric!r}; have {metric_names(self.k)}")
        return arrays[metric]

    @classmethod
    def average(cls, runs: Sequence[UserMetrics]) -> UserMetrics:
        """Per-user mean over runs of one model (e.g. its seeds), for the bootstrap."""
        first = runs[0]
        for run in runs[1:]:
            if run.k != first.k or not np.array_equal(run.user_ids, first.user_ids):
                raise ValueError("runs to average must share k and the test users")
        fields = ("squared_error", "absolute_error", "recall", "ndcg", "hit")
        means = {f: np.mean([getattr(r, f) for r in runs], axis=0) for f in fields}
        return cls(user_ids=first.user_ids, n_ratings=first.n_ratings, k=first.k, **means)


@dataclasses.dataclass
class EvalResult:
    """Metrics of one model on one split, with the per-user parts and the row counts."""

    metrics: dict[str, float]
    per_user: UserMetrics
    counts: dict[str, int]


def evaluate_split(model: Recommender, split: SplitLike, *, on: str = "test", k: int = 10,
                   catalogue: np.ndarray | None = None, drop_unknown_items: bool = True,
                   max_elements: int = DEFAULT_MAX_ELEMENTS) -> EvalResult:
    """Evaluates on `split.test` (excluding training and validation items) or `split.validation`.

    Args:
        model: any `Recommender`.
        split: train / validation / test frames (`tfrec_sentiment.data.splits.Split`).
        on: "test" or "validation".
        k, catalogue, drop_unknown_items, max_elements: as in `evaluate`.

    Example:
        >>> evaluate_split(model, split).metrics["ndcg@10"]  # doctest: +SKIP
    """
    if on not in ("test", "validation"):
        raise ValueError(f"on must be 'test' or 'validation', got {on!r}")
    held_out = split.test if on == "test" else split.validation
    seen = (split.validation,) if on == "test" else ()
    return evaluate(model, split.train, held_out, seen=seen, k=k, catalogue=catalogue,
                    drop_unknown_items=drop_unknown_items, max_elements=max_elements)


def evaluate(model: Recommender, train: pd.DataFrame, test: pd.DataFrame, *,
             seen: Sequence[pd.DataFrame] = (), k: int = 10,
             catalogue: np.ndarray | None = None, drop_unknown_items: bool = True,
             max_elements: int = DEFAULT_MAX_ELEMENTS) -> EvalResult:
    """Rating and full-catalogue top-K metrics of `model` on `test`.

    Args:
        model: any `Recommender`.
        train: training rows (`user_id`, `item_id`); their items form the default
            catalogue and each user's training items are excluded from their ranking.
        test: held-out rows (`user_id`, `item_id`, `rating`) [N].
        seen: more frames whose (user, item) pairs are excluded (validation, when
            scoring test).
        k: top-K cut-off.
        catalogue: str [I], the items to rank; default the sorted unique train items.
        drop_unknown_items: drop test rows whose item is not in the catalogue (counted).
        max_elements: scores held in memory at once (users per batch = this // I).

    Returns:
        `EvalResult`; `counts` has test_rows, dropped_unknown_item, users, topk_users,
        catalogue, relevant_outside_catalogue.
    """
    items = pd.Index(np.unique(train["item_id"].to_numpy(str)) if catalogue is None
                     else np.asarray(catalogue, str))
    if not items.is_unique or len(items) == 0:
        raise ValueError("the catalogue must hold unique item ids and not be empty")
    in_catalogue = items.get_indexer(test["item_id"].to_numpy(str)) >= 0
    rows = test[in_catalogue] if drop_unknown_items else test
    if len(rows) == 0:
        raise ValueError("no test rows left to evaluate (is every test item unknown?)")
    users = pd.Index(np.unique(rows["user_id"].to_numpy(str)))
    relevant, n_relevant, outside = _relevance(rows, [train, *seen], users, items)
    excluded = _pairs(pd.concat([f[["user_id", "item_id"]] for f in [train, *seen]]), users, items)
    topk = _score_in_batches(model, users, items, relevant, excluded, n_relevant, k,
                             max_elements)
    squared, absolute, counts = _rating_parts(model, rows, users, max_elements)
    per_user = UserMetrics(user_ids=users.to_numpy(), squared_error=squared,
                           absolute_error=absolute, n_ratings=counts, k=k, **topk)
    return EvalResult(metrics=per_user.summary(), per_user=per_user, counts={
        "test_rows": int(len(rows)),
        "dropped_unknown_item": int((~in_catalogue).sum()) if drop_unknown_items else 0,
        "users": len(users),
        "topk_users": int((n_relevant > 0).sum()),
        "catalogue": len(items),
        "relevant_outside_catalogue": outside,
    })


def _pairs(frame: pd.DataFrame, users: pd.Index, items: pd.Index) -> np.ndarray:
    """Unique (user code, item code) pairs of `frame` inside users x items, sorted, int [P, 2]."""
    user_code = users.get_indexer(frame["user_id"].to_numpy(str))
    item_code = items.get_indexer(frame["item_id"].to_numpy(str))
    keep = (user_code >= 0) & (item_code >= 0)
    pairs = np.stack([user_code[keep], item_code[keep]], axis=1).astype(np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def _relevance(rows: pd.DataFrame, seen: Sequence[pd.DataFrame], users: pd.Index,
               items: pd.Index) -> tuple[np.ndarray, np.ndarray, int]:
    """Relevant (user, item) catalogue pairs [P, 2], relevant count per user [U], outside count.

    Relevant = the user's distinct test items that are not among their seen items.
    """
    test_pairs = rows[["user_id", "item_id"]].astype(str).drop_duplicates()
    seen_pairs = pd.concat([f[["user_id", "item_id"]] for f in seen]).astype(str)
    fresh = test_pairs[~pd.MultiIndex.from_frame(test_pairs).isin(
        pd.MultiIndex.from_frame(seen_pairs))]
    n_relevant = np.bincount(users.get_indexer(fresh["user_id"].to_numpy()),
                             minlength=len(users))
    outside = int((items.get_indexer(fresh["item_id"].to_numpy()) < 0).sum())
    return _pairs(fresh, users, items), n_relevant, outside


def _score_in_batches(model: Recommender, users: pd.Index, items: pd.Index,
                      relevant: np.ndarray, excluded: np.ndarray, n_relevant: np.ndarray,
                      k: int, max_elements: int) -> dict[str, np.ndarray]:
    n_items = len(items)
    batch = max(1, max_elements // n_items)
    item_ids = items.to_numpy()
    parts = []
    for begin in range(0, len(users), batch):
        end = min(begin + batch, len(users))
        scores = finite_scores(model.score_items(users[begin:end].to_numpy(), item_ids),
                               type(model).__name__)
        if scores.shape != (end - begin, n_items):
            raise ValueError(f"{type(model).__name__}.score_items returned shape "
                             f"{scores.shape}, expected {(end - begin, n_items)}")
        drop = _batch_pairs(excluded, begin, end)
        scores[drop[:, 0], drop[:, 1]] = EXCLUDED
        mask = np.zeros(scores.shape, bool)
        keep = _batch_pairs(relevant, begin, end)
        mask[keep[:, 0], keep[:, 1]] = True
        parts.append(topk_metrics(scores, mask, k, n_relevant[begin:end]))
    return {name: np.concatenate([getattr(p, name) for p in parts])
            for name in ("recall", "ndcg", "hit")}


def _batch_pairs(pairs: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The pairs of users [begin, end) (pairs sorted by user), user codes made batch-relative."""
    lo, hi = np.searchsorted(pairs[:, 0], [begin, end])
    return pairs[lo:hi] - np.array([begin, 0])


def _rating_parts(model: Recommender, rows: pd.DataFrame, users: pd.Index,
                  max_elements: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    user_ids = rows["user_id"].to_numpy(str)
    item_ids = rows["item_id"].to_numpy(str)
    predicted = np.concatenate([
        np.asarray(model.predict_rating(user_ids[i:i + max_elements],
                                        item_ids[i:i + max_elements]), np.float64).reshape(-1)
        for i in range(0, len(rows), max_elements)])
    if predicted.shape != (len(rows),) or not np.isfinite(predicted).all():
        raise ValueError(f"{type(model).__name__}.predict_rating must return {len(rows)} "
                         f"finite values, got shape {predicted.shape}")
    squared, absolute = rating_errors(predicted, rows["rating"].to_numpy(np.float64))
    code = users.get_indexer(user_ids)
    return (np.bincount(code, squared, len(users)), np.bincount(code, absolute, len(users)),
            np.bincount(code, minlength=len(users)))
