"""What the learned score's fit ranks: the validation users, their exclusions and
relevant pairs (`ValidationSet`), the per-user objective and the exact candidate
pruning that makes the grid search cheap."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tfrec_sentiment.data.splits import user_sample_mask
from tfrec_sentiment.evaluation.metrics import EXCLUDED, Ranking


@dataclasses.dataclass
class ValidationSet:
    """What the fit ranks: validation users' exclusions, relevant pairs and buckets.

    Attributes:
        users: str [U], validation users with a fresh catalogue item.
        history: int [U], their training reviews.
        excluded: int [E, 2] (user row, item column) training pairs, left out of rankings.
        any_pairs, liked_pairs: int [P, 2] fresh validation pairs (all; rated >= liked).
    """

    users: np.ndarray
    history: np.ndarray
    excluded: np.ndarray
    any_pairs: np.ndarray
    liked_pairs: np.ndarray

    @classmethod
    def build(cls, train: pd.DataFrame, validation: pd.DataFrame, catalogue: np.ndarray,
              liked_min_rating: float) -> ValidationSet:
        """From the training and validation frames (`user_id`, `item_id`, `rating`).

        A validation pair the user already has in training is not relevant (as in the
        evaluation); a pair held out twice takes its mean rating.
        """
        items = pd.Index(np.asarray(catalogue, str))
        val_item = items.get_indexer(validation["item_id"].to_numpy(str))
        keep = val_item >= 0
        val_user_ids = validation["user_id"].to_numpy(str)[keep]
        users = pd.Index(np.unique(val_user_ids))
        train_user = users.get_indexer(train["user_id"].to_numpy(str))
        train_item = items.get_indexer(train["item_id"].to_numpy(str))
        history = np.bincount(train_user[train_user >= 0], minlength=len(users))
        known = (train_user >= 0) & (train_item >= 0)
        n_items = len(items)
        seen = np.unique(train_user[known] * n_items + train_item[known])
        keys = users.get_indexer(val_user_ids) * n_items + val_item[keep]
        unique, inverse = np.unique(keys, return_inverse=True)
        rating = validation["rating"].to_numpy(np.float64)[keep]
        mean = np.bincount(inverse, rating) / np.bincount(inverse)
        fresh = ~np.isin(unique, seen)
        pairs = np.stack(np.divmod(unique[fresh], n_items), 1)
        liked = pairs[mean[fresh] >= liked_min_rating]
        has = np.isin(np.arange(len(users)), pairs[:, 0])  # users with a fresh item
        renumber = np.cumsum(has) - 1
        excluded = np.stack(np.divmod(seen, n_items), 1)
        excluded = excluded[has[excluded[:, 0]]]

        def keep_rows(p: np.ndarray) -> np.ndarray:
            return np.stack([renumber[p[:, 0]], p[:, 1]], 1).reshape(-1, 2)

        return cls(users=users.to_numpy()[has], history=history[has],
                   excluded=keep_rows(excluded), any_pairs=keep_rows(pairs),
                   liked_pairs=keep_rows(liked))

    def subset(self, keep: np.ndarray) -> ValidationSet:
        """The users where `keep` (bool [U]) holds, renumbered in order, with their pairs."""
        keep = np.asarray(keep, bool)
        renumber = np.cumsum(keep) - 1

        def rows(pairs: np.ndarray) -> np.ndarray:
            pairs = pairs[keep[pairs[:, 0]]]
            return np.stack([renumber[pairs[:, 0]], pairs[:, 1]], 1).reshape(-1, 2)

        return ValidationSet(users=self.users[keep], history=self.history[keep],
                             excluded=rows(self.excluded), any_pairs=rows(self.any_pairs),
                             liked_pairs=rows(self.liked_pairs))

    def sample(self, max_users: int) -> ValidationSet:
        """At most `max_users` users: those first by `data.splits.user_hash_share`
        (`user_sample_mask`).

        The choice depends on the user ids alone (not on their order, the run or the
        machine), so a refit picks the same users; with no more users than
        `max_users`, all are kept (self).
        """
        if len(self.users) <= max_users:
            return self
        keep = user_sample_mask(self.users, max_users)
        return self.subset(keep)


def objective_by_user(scores: np.ndarray, data: ValidationSet, k: int,
                      counts: tuple[np.ndarray, np.ndarray] | None = None,
                      copy: bool = True) -> np.ndarray:
    """Per-user objective float [U]: mean of NDCG@k (any) and NDCG@k (liked); the any
    NDCG alone for a user with no liked validation item.

    `counts`: (any, liked) relevant items per user, int [U] each, when `data`'s pairs
    are only those still ranked (`candidate_columns`); default: the pairs per user.
    `copy=False` (scores a float64 array the caller no longer needs) marks the
    excluded items in `scores` itself instead of in a copy.
    """
    scores = np.array(scores, np.float64, copy=copy or None)
    scores[data.excluded[:, 0], data.excluded[:, 1]] = EXCLUDED
    ranking = Ranking(scores, k)
    if counts is None:
        counts = (np.bincount(data.any_pairs[:, 0], minlength=len(scores)),
                  np.bincount(data.liked_pairs[:, 0], minlength=len(scores)))
    any_ndcg = ranking.metrics(data.any_pairs, counts[0]).ndcg
    liked = counts[1] > 0
    liked_ndcg = ranking.metrics(data.liked_pairs, counts[1]).ndcg
    return np.where(liked, 0.5 * (any_ndcg + np.nan_to_num(liked_ndcg)), any_ndcg)


def candidate_columns(z: Mapping[str, np.ndarray], data: ValidationSet, k: int
                      ) -> tuple[dict[str, np.ndarray], ValidationSet,
                                 tuple[np.ndarray, np.ndarray]]:
    """The only items that can reach a user's top k under ANY weights on the simplex.

    With z_c the standardized components and s_w = sum_c w_c z_c (w >= 0, sum 1),
    min_c z_c(i) <= s_w(i) <= max_c z_c(i). Let t be a user's k-th largest min_c z_c
    over the items not excluded: k items score s_w >= t under every w, so an item with
    max_c z_c < t is strictly below the k-th score for every w (never in the top k,
    never tied with it). Dropping those items leaves every grid point's NDCG@k
    exactly as it was, when the relevant items dropped still count in the ideal DCG
    (the returned counts). A user with fewer than k items left keeps every item.

    Args:
        z: name -> float64 [U, I] standardized component scores.
        data: the validation users (pairs over the I columns).
        k: the cut-off.

    Returns:
        (name -> float64 [U, W] the kept columns of each user, left-aligned, W the most
        kept by one user; `data` renumbered to those columns, padding excluded; the
        (any, liked) relevant counts per user before dropping, int [U] each).
    """
    stacked = np.stack(list(z.values()))  # [C, U, I]
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    rows, cols = data.excluded[:, 0], data.excluded[:, 1]
    low[rows, cols] = -np.inf
    high[rows, cols] = -np.inf
    n_users, n_items = low.shape
    if n_items > k:
        threshold = -np.partition(-low, k - 1, axis=1)[:, k - 1]
    else:
        threshold = np.full(n_users, -np.inf)
    keep = high >= threshold[:, None]  # threshold -inf: every column
    kept_rows, kept_cols = np.nonzero(keep)  # by row, then column
    per_row = keep.sum(axis=1)
    position = np.arange(len(kept_rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    width = int(per_row.max()) if n_users else 0
    columns = np.zeros((n_users, width), np.int64)
    columns[kept_rows, position] = kept_cols
    padding = np.arange(width)[None, :] >= per_row[:, None]
    where = np.full((n_users, n_items), -1, np.int64)
    where[kept_rows, kept_cols] = position

    def renumber(pairs: np.ndarray) -> np.ndarray:
        at = where[pairs[:, 0], pairs[:, 1]]
        return np.stack([pairs[:, 0], at], 1)[at >= 0].reshape(-1, 2)

    excluded = np.concatenate([renumber(data.excluded),
                               np.argwhere(padding)]).reshape(-1, 2)
    counts = (np.bincount(data.any_pairs[:, 0], minlength=n_users),
              np.bincount(data.liked_pairs[:, 0], minlength=n_users))
    pruned = ValidationSet(users=data.users, history=data.history, excluded=excluded,
                           any_pairs=renumber(data.any_pairs),
                           liked_pairs=renumber(data.liked_pairs))
    return ({name: np.take_along_axis(values, columns, axis=1) for name, values in z.items()},
            pruned, counts)
