"""Score one `Recommender` on a time split: per-user rating and top-K metrics, by slice.

The protocol (see `metrics.py` for the metric maths):

- Rating metrics (RMSE, MAE) over the test rows.
- Top-K metrics over the full catalogue: every item of the training data (or a given
  catalogue), scored for every test user in batches of users, so memory stays at
  `max_elements` scores whatever the catalogue size. Each user's training items (and
  validation items, when scoring the test split) are excluded from the ranking. Each
  batch is ranked once (`metrics.Ranking`) and every relevance set below is scored
  from that one top-K list.
- Test rows whose item is not in the catalogue are dropped by default
  (`drop_unknown_items`): no model can rank an item it never saw, and rating one is a
  pure fallback. They are counted in `EvalResult.counts`. With
  `drop_unknown_items=False` they stay: rated through each model's fallback, and counted
  as relevant items that no ranking reaches.
- Per-user arrays (`UserMetrics`) are kept so that two models can be compared with a
  paired bootstrap over users.

Relevance sets, all from the user's "fresh" held-out items (test items not already
seen in training / validation; a pair held out twice takes its mean rating):

- any item (today's protocol): Recall@K, NDCG@K, HitRate@K over users with at least one
  fresh held-out item (`topk_users`).
- liked items: those rated >= `liked_min_rating` (4). Liked Recall@K and Liked NDCG@K
  average over the users with at least one liked held-out item (`liked_users`); users
  with none are excluded from these two means, and counted.
- disliked items: those rated <= `disliked_max_rating` (2). **Disliked@K** (lower is
  better) = the share of ALL test users whose top K holds at least one item they then
  rated that low: a user without a disliked held-out item counts as 0, as the issue
  defines it. With one held-out review per user most users have none, so
  **Cond. Disliked@K** gives the same share among the users who have one
  (`disliked_users`). Both are expected values under random tie-breaking (the HitRate
  formula on the disliked set).

Slices (`EvalResult.slices`), every metric recomputed on each:

- users by training history: the number of the user's rows in `train`, bucketed by
  `history_bounds` (default (1, 2, 5): "1", "2-4", "5+"; a "0" bucket appears for
  users with no training review, e.g. under a global time cut-off). Empty buckets are
  left out.
- items with few training reviews: the test rows whose item has at most
  `few_reviews_max` (5) rows in `train`; all relevance sets, and RMSE / MAE, restricted
  to those rows. The ranking is unchanged (the full catalogue competes), so this asks
  whether a model finds the long-tail items a user goes on to review. Its users are
  those with at least one such row.

`UserMetrics`, `EvalResult` and the metric names: `user_metrics.py` (re-exported here).

Example:

>>> import pandas as pd
>>> from tfrec_sentiment.evaluation.baselines import Popularity
>>> train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
...                       "rating": [5.0, 3.0, 4.0]})
>>> test = pd.DataFrame({"user_id": ["b"], "item_id": ["y"], "rating": [2.0]})
>>> result = evaluate(Popularity().fit(train), train, test, k=1)
>>> result.metrics["rmse"], result.metrics["hitrate@1"]  # 4 - 2; y is b's only unseen item
(2.0, 1.0)
>>> result.metrics["disliked@1"], sorted(result.slices)  # y rated 2 is b's top item
(1.0, ['item_reviews<=5', 'user_history=1'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tfrec_sentiment.data.split_keys import user_sample_mask
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.held_out import (
    evaluated_counts,
    fresh_pairs,
    held_out_rows,
    relevance_sets,
)
from tfrec_sentiment.evaluation.metrics import (
    DEFAULT_MAX_ELEMENTS,
    EXCLUDED,
    Ranking,
    TopK,
    batch_pairs,
    finite_scores,
    rating_errors,
)
from tfrec_sentiment.evaluation.protocol import Recommender, SplitLike
from tfrec_sentiment.evaluation.user_metrics import (
    ALL_USERS,
    LOWER_IS_BETTER,
    EvalResult,
    UserMetrics,
    history_buckets,
    metric_label,
    metric_names,
)

__all__ = ["ALL_USERS", "LOWER_IS_BETTER", "EvalResult", "UserMetrics", "evaluate",
           "evaluate_many", "evaluate_split", "evaluated_counts", "history_buckets", "metric_label",
           "metric_names"]


def evaluate_split(model: Recommender, split: SplitLike, *, on: str = "test", k: int = 10,
                   catalogue: np.ndarray | None = None, drop_unknown_items: bool = True,
                   max_elements: int = DEFAULT_MAX_ELEMENTS,
                   config: EvalConfig | None = None) -> EvalResult:
    """Evaluates on `split.test` (excluding training and validation items) or `split.validation`.

    Args:
        model: any `Recommender`.
        split: train / validation / test frames (`tfrec_sentiment.data.splits.Split`).
        on: "test" or "validation".
        k, catalogue, drop_unknown_items, max_elements: as in `evaluate`.
        config: when given, its thresholds, slice settings and user cap
            (`liked_min_rating`, `disliked_max_rating`, `history_bounds`,
            `few_reviews_max`, `max_users`).

    Example:
        >>> evaluate_split(model, split).metrics["ndcg@10"]  # doctest: +SKIP
    """
    if on not in ("test", "validation"):
        raise ValueError(f"on must be 'test' or 'validation', got {on!r}")
    held_out = split.test if on == "test" else split.validation
    seen = (split.validation,) if on == "test" else ()
    config = config or EvalConfig()
    return evaluate(model, split.train, held_out, seen=seen, k=k, catalogue=catalogue,
                    drop_unknown_items=drop_unknown_items, max_elements=max_elements,
                    liked_min_rating=config.liked_min_rating,
                    disliked_max_rating=config.disliked_max_rating,
                    history_bounds=config.history_bounds,
                    few_reviews_max=config.few_reviews_max, max_users=config.max_users)


def evaluate(model: Recommender, train: pd.DataFrame, test: pd.DataFrame,
             **options: Any) -> EvalResult:
    """Rating and full-catalogue top-K metrics of `model` on `test`, overall and by slice.

    `evaluate_many([model], train, test, **options)`: its arguments (keyword-only
    `options`: `seen`, `k`, `catalogue`, `drop_unknown_items`, `max_elements`,
    `liked_min_rating`, `disliked_max_rating`, `history_bounds`, `few_reviews_max`,
    `ratings`, `max_users`), raising as it does.

    Returns:
        `EvalResult` (see `evaluate_many`).

    Example:
        >>> evaluate(model, split.train, split.test, k=10).metrics["ndcg@10"]  # doctest: +SKIP
    """
    return next(evaluate_many([model], train, test, **options))


def evaluate_many(models: Iterable[Recommender], train: pd.DataFrame, test: pd.DataFrame, *,
                  seen: Sequence[pd.DataFrame] = (), k: int = 10,
                  catalogue: np.ndarray | None = None, drop_unknown_items: bool = True,
                  max_elements: int = DEFAULT_MAX_ELEMENTS,
                  liked_min_rating: float = EvalConfig.liked_min_rating,
                  disliked_max_rating: float = EvalConfig.disliked_max_rating,
                  history_bounds: Sequence[int] = EvalConfig.history_bounds,
                  few_reviews_max: int = EvalConfig.few_reviews_max,
                  ratings: bool = True, max_users: int | None = None
                  ) -> Iterator[EvalResult]:
    """`evaluate` of each model on the same data, its preparation done once.

    The held-out sets, the excluded pairs and the slices depend on the data only, so a
    search over many settings (e.g. `baselines.ItemKNN`'s grid) pays for them once.

    Args:
        models: `Recommender`s; may be lazy (a generator fitting each when it is
            asked for), since each is scored before the next is drawn.
        train: training rows (`user_id`, `item_id`); their items form the default
            catalogue and each user's training items are excluded from their ranking.
        test: held-out rows (`user_id`, `item_id`, `rating`) [N].
        seen: more frames whose (user, item) pairs are excluded (validation, when
            scoring test).
        k: top-K cut-off.
        catalogue: str [I], the items to rank; default the sorted unique train items.
        drop_unknown_items: drop test rows whose item is not in the catalogue (counted).
        max_elements: scores held in memory at once (users per batch = this // I).
        liked_min_rating: stars from which a held-out item counts as liked.
        disliked_max_rating: stars up to which a held-out item counts as disliked.
        history_bounds: lower bounds of the user-history buckets (training rows).
        few_reviews_max: the item slice holds items with at most this many training rows.
        ratings: False skips `predict_rating` (RMSE / MAE become NaN), for callers that
            only rank (e.g. a hyper-parameter search on NDCG).
        max_users: evaluate at most this many test users, the same ones for every model
            (`data.splits.user_sample_mask`: first by a fixed hash of the id): ranking
            costs users x items, so without a cap it grows as the square of the data.
            None = every user.

    Yields:
        One `EvalResult` per model, in order; `counts` has test_rows,
        dropped_unknown_item, users (evaluated), users_before_sample, topk_users,
        liked_users, disliked_users, catalogue, relevant_outside_catalogue.

    Raises:
        ValueError: `liked_min_rating` not above `disliked_max_rating`; no test row left;
            a model's scores or ratings of the wrong shape, NaN or infinite (named).

    Example:
        >>> [r.metrics["ndcg@10"] for r in evaluate_many(models, train, test)]  # doctest: +SKIP
    """
    if liked_min_rating <= disliked_max_rating:
        raise ValueError(f"liked_min_rating ({liked_min_rating}) must be above "
                         f"disliked_max_rating ({disliked_max_rating})")
    items, in_catalogue, keep = held_out_rows(train, test, catalogue, drop_unknown_items)
    test_items, test_users = test["item_id"].to_numpy(str), test["user_id"].to_numpy(str)
    users_before_sample = len(np.unique(test_users[keep]))
    keep = keep.copy()  # may be `in_catalogue` itself, which still counts the dropped rows
    keep[keep] = user_sample_mask(test_users[keep], max_users)
    rows = test[keep]
    if len(rows) == 0:
        raise ValueError("no test rows left to evaluate (is every test item unknown?)")
    row_users = rows["user_id"].to_numpy(str)
    users = pd.Index(np.unique(row_users))
    # Codes: catalogue items 0..I-1, then the kept test items outside it.
    universe = items.append(pd.Index(np.unique(test_items[keep & ~in_catalogue])))
    row_user, row_item = users.get_indexer(row_users), universe.get_indexer(test_items[keep])
    seen_frame = pd.concat([f[["user_id", "item_id"]] for f in [train, *seen]])
    seen_user = users.get_indexer(seen_frame["user_id"].to_numpy(str))
    seen_item = universe.get_indexer(seen_frame["item_id"].to_numpy(str))
    in_train = np.arange(len(seen_frame)) < len(train)
    history = np.bincount(seen_user[in_train] + 1, minlength=len(users) + 1)[1:]
    item_reviews = np.bincount(seen_item[in_train & (seen_item >= 0)], minlength=len(universe))
    known = (seen_user >= 0) & (seen_item >= 0)
    seen_keys = np.unique(seen_user[known] * len(universe) + seen_item[known])
    excluded = np.stack(np.divmod(seen_keys, len(universe)), 1)
    excluded = excluded[excluded[:, 1] < len(items)]
    fresh = fresh_pairs(row_user, row_item, rows["rating"].to_numpy(np.float64), seen_keys,
                         len(universe))
    rare = item_reviews <= few_reviews_max  # bool [I + outside]: the item slice
    sets = relevance_sets(fresh, rare, len(users), len(items), liked_min_rating,
                           disliked_max_rating)
    for model in models:
        topk = _score_in_batches(model, users, items, excluded, sets, k, max_elements)
        squared, absolute = _rating_errors(model, rows, max_elements, ratings)
        parts = {}
        for prefix, row_mask in (("", np.ones(len(rows), bool)), ("few_", rare[row_item])):
            any_, liked, disliked = (topk[prefix + s] for s in ("any", "liked", "disliked"))
            has_disliked = sets[prefix + "disliked"][1] > 0
            parts[prefix] = UserMetrics(
                user_ids=users.to_numpy(), k=k,
                squared_error=np.bincount(row_user, squared * row_mask, len(users)),
                absolute_error=np.bincount(row_user, absolute * row_mask, len(users)),
                n_ratings=np.bincount(row_user, row_mask, len(users)).astype(np.int64),
                recall=any_.recall, ndcg=any_.ndcg, hit=any_.hit,
                liked_recall=liked.recall, liked_ndcg=liked.ndcg,
                disliked=np.where(has_disliked, disliked.hit, 0.0), has_disliked=has_disliked)
        per_user = parts[""]
        slices = {}
        for label, low, high in history_buckets(history_bounds):
            members = (history >= low) & (history < high)
            if members.any():
                slices[f"user_history={label}"] = per_user.subset(members)
        members = parts["few_"].n_ratings > 0
        if members.any():
            slices[f"item_reviews<={few_reviews_max}"] = parts["few_"].subset(members)
        counts = per_user.counts()
        yield EvalResult(metrics=per_user.summary(), per_user=per_user, slices=slices, counts={
            "test_rows": int(len(rows)),
            "dropped_unknown_item": int((~in_catalogue).sum()) if drop_unknown_items else 0,
            "users": len(users),
            "users_before_sample": users_before_sample,
            "topk_users": counts["topk_users"],
            "liked_users": counts["liked_users"],
            "disliked_users": counts["disliked_users"],
            "catalogue": len(items),
            "relevant_outside_catalogue": int((fresh.item >= len(items)).sum()),
        })


def _score_in_batches(model: Recommender, users: pd.Index, items: pd.Index,
                      excluded: np.ndarray, sets: dict[str, tuple[np.ndarray, np.ndarray]],
                      k: int, max_elements: int) -> dict[str, TopK]:
    """Ranks each batch of users once and scores every relevance set on that ranking."""
    n_items = len(items)
    batch = max(1, max_elements // n_items)
    item_ids = items.to_numpy()
    parts: dict[str, list] = {name: [] for name in sets}
    for begin in range(0, len(users), batch):
        end = min(begin + batch, len(users))
        scores = finite_scores(model.score_items(users[begin:end].to_numpy(), item_ids),
                               type(model).__name__)
        if scores.shape != (end - begin, n_items):
            raise ValueError(f"{type(model).__name__}.score_items returned shape "
                             f"{scores.shape}, expected {(end - begin, n_items)}")
        drop = batch_pairs(excluded, begin, end)
        scores[drop[:, 0], drop[:, 1]] = EXCLUDED
        ranking = Ranking(scores, k)
        for name, (pairs, count) in sets.items():
            parts[name].append(ranking.metrics(batch_pairs(pairs, begin, end),
                                               count[begin:end]))
    return {name: TopK(*(np.concatenate([getattr(p, f) for p in chunks])
                         for f in ("recall", "ndcg", "hit")))
            for name, chunks in parts.items()}


def _rating_errors(model: Recommender, rows: pd.DataFrame, max_elements: int,
                   ratings: bool) -> tuple[np.ndarray, np.ndarray]:
    """Squared and absolute error per test row, float [N] each (NaN when not `ratings`)."""
    if not ratings:
        return np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    user_ids = rows["user_id"].to_numpy(str)
    item_ids = rows["item_id"].to_numpy(str)
    predicted = np.concatenate([
        np.asarray(model.predict_rating(user_ids[i:i + max_elements],
                                        item_ids[i:i + max_elements]), np.float64).reshape(-1)
        for i in range(0, len(rows), max_elements)])
    if predicted.shape != (len(rows),) or not np.isfinite(predicted).all():
        raise ValueError(f"{type(model).__name__}.predict_rating must return {len(rows)} "
                         f"finite values, got shape {predicted.shape}")
    return rating_errors(predicted, rows["rating"].to_numpy(np.float64))
