"""Item-to-item similarity of the training period, and each user's similarity profile.

The co-review matrix counts, for every pair of items, the training users who
reviewed both (its diagonal: each item's number of reviewers). From it, the cosine
similarity of two items (shrunk: pairs resting on few co-reviews count less) is

    sim(j, c) = C[j, c] / (sqrt(n_j * n_c) + shrinkage),   sim(c, c) = 0

and a user's similarity profile is the mean of sim(j, .) over the items j of the
user's review history: a row over the whole catalogue, large where the catalogue
item was co-reviewed with what the user reviewed (the signal of item-based
collaborative filtering). The recommender's user tower reads it as a feature.

Leave-user-out: a user's own co-reviews are taken out of C (and the user out of
n) before the profile is formed, for training rows and served users alike. Without
it a training row's own item would look similar to the row's history BECAUSE the
user reviewed both: the row's label would leak into its feature, while a held-out
item never gets that boost.

Example:

>>> user = np.array([0, 0, 1, 1]); item = np.array([0, 1, 0, 1])
>>> co_reviews(user, item, 3).tolist()
[[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np


def co_reviews(user_index: np.ndarray, item_index: np.ndarray, num_items: int) -> np.ndarray:
    """Users who reviewed both items, float32 [I, I]; the diagonal counts reviewers.

    Args:
        user_index: int [N], user of each review; item_index: int [N], its item.
        num_items: I.
    """
    pairs = np.unique(np.stack([user_index, item_index], 1).astype(np.int64), axis=0)
    matrix = np.zeros((num_items, num_items), np.float32)
    start = np.searchsorted(pairs[:, 0], pairs[:, 0], side="left")
    end = np.searchsorted(pairs[:, 0], pairs[:, 0], side="right")
    # Every review pairs with every review of the same user (itself included).
    for offset in range(int((end - start).max()) if len(pairs) else 0):
        other = start + offset
        valid = other < end
        np.add.at(matrix, (pairs[valid, 1], pairs[other[valid], 1]), 1.0)
    return matrix


def user_item_sets(user_index: np.ndarray, item_index: np.ndarray,
                   num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's distinct items as CSR arrays: (start [U + 1], items [P])."""
    pairs = np.unique(np.stack([user_index, item_index], 1).astype(np.int64), axis=0)
    start = np.searchsorted(pairs[:, 0], np.arange(num_users + 1))
    return start, pairs[:, 1]


def similarity_profiles(history: np.ndarray, owner: np.ndarray, item_sets: tuple,
                        co: np.ndarray, shrinkage: float, chunk: int = 256) -> np.ndarray:
    """Leave-user-out mean similarity of each history to every catalogue item.

    Args:
        history: int [M, L], item index + 1 of each history entry (0 = padding;
            indices past the co-review matrix, e.g. items added after training,
            count as padding).
        owner: int [M], the user of each history row (-1: a user unknown to
            `item_sets`, nothing to leave out).
        item_sets: (start, items) of `user_item_sets`: the reviews whose
            co-reviews `co` counts, per user.
        co: float [I, I] co-review matrix (`co_reviews`).
        shrinkage: >= 0, added to the cosine's denominator.
        chunk: rows per block (memory: chunk * L * I floats).

    Returns:
        float32 [M, I]; a row with an empty history is all zeros.
    """
    num_items = co.shape[0]
    reviewers = np.diag(co).astype(np.float64)
    start, items = item_sets
    out = np.zeros((len(history), num_items), np.float32)
    for begin in range(0, len(history), chunk):
        rows = slice(begin, begin + chunk)
        entries = np.asarray(history[rows], np.int64) - 1
        valid = (entries >= 0) & (entries < num_items)
        entries = np.where(valid, entries, 0)
        own = _owned(owner[rows], start, items, num_items)  # [m, I] user reviewed c
        own_entry = np.take_along_axis(own, entries, axis=1) & valid  # [m, L]
        both = own_entry[:, :, None] & own[:, None, :]  # the user's own co-review
        counts = co[entries].astype(np.float64) - both  # [m, L, I]
        left_j = reviewers[entries] - own_entry  # [m, L]
        left_c = reviewers[None, :] - own  # [m, I]
        norm = np.sqrt(np.maximum(left_j[:, :, None] * left_c[:, None, :], 0.0)) + shrinkage
        similarity = np.where(counts > 0, counts / np.maximum(norm, 1e-12), 0.0)
        # An item is not similar to itself (that is its reviewing user, not a neighbour).
        similarity[np.arange(len(entries))[:, None], np.arange(entries.shape[1]), entries] = 0.0
        similarity *= valid[:, :, None]
        total = valid.sum(axis=1, keepdims=True)
        out[rows] = similarity.sum(axis=1) / np.maximum(total, 1)
    return out


def _owned(owner: np.ndarray, start: np.ndarray, items: np.ndarray, num_items: int) -> np.ndarray:
    """bool [m, I]: which items each row's owner reviewed (none for owner -1)."""
    mask = np.zeros((len(owner), num_items), bool)
    known = (owner >= 0) & (owner < len(start) - 1)
    for row in np.flatnonzero(known):
        reviewed = items[start[owner[row]]:start[owner[row] + 1]]
        mask[row, reviewed[reviewed < num_items]] = True
    return mask
