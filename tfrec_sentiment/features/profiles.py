"""Each user's item-to-item similarity profile, leave-user-out (`similarity.py` holds S).

A user's similarity profile is the mean of sim(j, .) over the items j of the user's
review history: a row over the whole catalogue, large where the catalogue item was
co-reviewed with what the user reviewed (the signal of item-based collaborative
filtering). The recommender's user tower reads it as a feature.

Leave-user-out: a user's own co-reviews are taken out of C (and the user out of
n) before the profile is formed, for training rows and served users alike. Without
it a training row's own item would look similar to the row's history BECAUSE the
user reviewed both: the row's label would leak into its feature, while a held-out
item never gets that boost. For user u, history item j and catalogue item c
(sim(j, j) = 0; x = 1 if u reviewed the item, else 0):

    sim_u(j, c) = (C[j, c] - x_j x_c) / (sqrt((n_j - x_j) (n_c - x_c)) + shrinkage)

How it is summed. Only the items u reviewed (x_c = 1) make sim_u(j, .) depend on the
user: for every other c it is one of two global rows, S[j, c] (x_j = 0, nobody left
out) or S-[j, c] = C[j, c] / (sqrt((n_j - 1) n_c) + shrinkage) (x_j = 1). So a
profile is

    p_u = (1 / |H|) sum over j in H of ( S-[j] or S[j]  +  D_u[j] ),

D_u[j] = sim_u(j, c) - S-[j, c] (or S[j, c]) on the items c of u's reviews, zero
elsewhere. With the projection Q [I, r] (`similarity.similarity_basis`) S- Q and S Q
are formed once ([I, r], sparse products), so a history item costs r plus |R_u| r for
its correction (R_u: u's reviewed items) whatever its number of co-reviews. Reading
each history item's stored co-reviews instead, as before, cost their number per row:
at 801,434 synthetic reviews the most co-reviewed item had 32,389 of the 48,901 items
as co-reviewers, and that work grew 4.0x faster than the data from 100k to 1M
reviews. Each (u, j) correction is formed once per block of rows (rows of one user
share them). Without a basis the rows are S- and S themselves (sparse, I x I at most
`FeatureConfig.similarity_max_items`).

Example:

>>> from tfrec_sentiment.features import similarity
>>> user = np.array([0, 0, 1, 1, 2]); item = np.array([0, 1, 0, 1, 1])
>>> co = similarity.co_review_matrix(user, item, 2)
>>> sets = user_item_sets(user, item, 3)
>>> profile = similarity_profiles(np.array([[1]]), np.array([0]), sets, co, 0.0)
>>> profile.astype(float).round(3).tolist()
[[0.0, 0.707]]

User 0's profile from item 0: user 1 alone co-reviewed items 0 and 1 (n = 1 and 2
without user 0): 1 / sqrt(1 * 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from tfrec_sentiment.features.similarity import matrix_entries, shrunk_cosine

if TYPE_CHECKING:
    from tfrec_sentiment.features.text_similarity import TextSimilarity

# (u, j, c) correction terms formed at once (memory: ~10 float64/int64 arrays of it).
_TERMS_PER_STEP = 1 << 20


def user_item_sets(user_index: np.ndarray, item_index: np.ndarray,
                   num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's distinct items as CSR arrays: (start [U + 1], items [P]).

    Example:
        >>> user_item_sets(np.array([1, 0, 1, 1]), np.array([2, 0, 2, 1]), 2)
        (array([0, 1, 3]), array([0, 1, 2]))
    """
    pairs = np.unique(np.stack([user_index, item_index], 1).astype(np.int64), axis=0)
    start = np.searchsorted(pairs[:, 0], np.arange(num_users + 1))
    return start, pairs[:, 1]


def similarity_profiles(history: np.ndarray, owner: np.ndarray, item_sets: tuple,
                        co: np.ndarray | sp.sparray, shrinkage: float,
                        chunk: int = 1024, basis: np.ndarray | None = None,
                        text: TextSimilarity | None = None) -> np.ndarray:
    """Leave-user-out mean similarity of each history to every catalogue item.

    Args:
        history: int [M, L], item index + 1 of each history entry (0 = padding;
            indices past the co-review matrix, e.g. items added after training,
            count as padding).
        owner: int [M], the user of each history row (-1: a user unknown to
            `item_sets`, nothing to leave out).
        item_sets: (start, items) of `user_item_sets`: the reviews whose
            co-reviews `co` counts, per user.
        co: [I, I] co-review matrix, dense (`similarity.co_reviews`) or sparse
            (`similarity.co_review_matrix`).
        shrinkage: >= 0, added to the cosine's denominator.
        chunk: rows per block (memory: a chunk x I float64 block without `basis`,
            chunk x r with it).
        basis: float [I, r], the profiles' projection (`similarity.similarity_basis`);
            None = the profiles themselves. With it no [M, I] (nor [chunk, I]) array
            is formed.
        text: the review-text term (`text_similarity.py`): the similarity becomes
            shrunk cosine + text.weight * text(j, c), with the owner's own words
            left out of the pairs they reviewed both of; None = co-reviews alone.

    Returns:
        float32 [M, I] (or [M, r] = profiles @ basis); a row with an empty history
        is all zeros.
    """
    co = sp.csr_array(co)
    co.sum_duplicates()
    co.sort_indices()
    num_items = co.shape[0]
    reviewers = np.asarray(co.diagonal(), np.float64)
    start, items = item_sets
    counts = np.diff(start)
    owners = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    inside = items < num_items
    owned = owners[inside] * num_items + items[inside]  # sorted (user, item) keys
    project = None if basis is None else np.asarray(basis, np.float64)
    shared, left_out = _global_rows(co, reviewers, shrinkage, project)
    width = num_items if basis is None else basis.shape[1]
    out = np.zeros((len(history), width), np.float32)
    for begin in range(0, len(history), chunk):
        rows = slice(begin, begin + chunk)
        entries = np.asarray(history[rows], np.int64) - 1
        m, length = entries.shape
        valid = (entries >= 0) & (entries < num_items)
        users = np.asarray(owner[rows], np.int64)
        users = np.where((users >= 0) & (users < len(counts)), users, -1)
        row, slot = np.nonzero(valid)
        j = entries[row, slot]
        mine = _reviewed(owned, users[row], j, num_items)
        total = np.maximum(valid.sum(axis=1), 1)  # the row's history items: the mean's n
        weight = 1.0 / total[row]
        block = (_sparse(weight[mine], row[mine], j[mine], (m, num_items)) @ left_out
                 + _sparse(weight[~mine], row[~mine], j[~mine], (m, num_items)) @ shared)
        # The user's own items: each distinct (u, j) of the block corrected once.
        known = users[row] >= 0
        pair_keys, pair_of = np.unique(users[row[known]] * num_items + j[known],
                                       return_inverse=True)
        pair_user, pair_item = np.divmod(pair_keys, num_items)
        pair_mine = np.zeros(len(pair_keys), bool)
        pair_mine[pair_of] = mine[known]  # each pair's entries agree: one (user, item)
        corrections = _corrections(pair_user, pair_item, pair_mine, start, items, co,
                                   reviewers, shrinkage)
        if project is not None:
            corrections = corrections @ project
        block = block + _sparse(weight[known], row[known], pair_of,
                                (m, len(pair_keys))) @ corrections
        if text is not None and text.weight > 0:
            flat = np.where(valid, entries, 0).reshape(-1)
            own_entry = np.zeros((m, length), bool)
            own_entry[row, slot] = mine
            t_row, t_col, t_value = text.block_terms(
                flat, valid.reshape(-1), own_entry.reshape(-1), length, users,
                lambda u, i: _reviewed(owned, u, i, num_items))
            terms = _sparse(t_value / total[t_row], t_row, t_col, (m, num_items))
            block = block + (terms if project is None else terms @ project)
        out[rows] = block.toarray() if sp.issparse(block) else block
    return out


def _global_rows(co: sp.csr_array, reviewers: np.ndarray, shrinkage: float,
                 project: np.ndarray | None) -> tuple:
    """S and S- (see the module docstring), zero diagonal: sparse float64 [I, I] each,
    or S Q and S- Q (float64 [I, r]) with the projection Q `project`.

    Formed in blocks of rows of about `_TERMS_PER_STEP` stored co-reviews, each block's
    values on C's own indices (the diagonal an explicit 0), so the per-entry work arrays
    (~40 bytes per stored pair) never span all of C (5.3M stored pairs at 801,434
    synthetic reviews; denser catalogues store more).
    """
    shared, left_out = [], []
    ends = co.indptr[1:]
    begin = 0
    while begin < co.shape[0]:
        end = max(int(np.searchsorted(ends, co.indptr[begin] + _TERMS_PER_STEP, side="right")),
                  begin + 1)
        block = co[begin:end]
        rows = np.repeat(np.arange(begin, end), np.diff(block.indptr))
        count = np.where(rows == block.indices, 0.0, block.data.astype(np.float64))
        n_c = reviewers[block.indices]
        for values, left_j in ((shared, reviewers[rows]), (left_out, reviewers[rows] - 1.0)):
            part = sp.csr_array((_base_value(count, left_j, n_c, shrinkage), block.indices,
                                 block.indptr), shape=block.shape)
            values.append(part if project is None else part @ project)
        begin = end
    if not shared:  # no items
        empty = sp.csr_array(co.shape) if project is None else np.zeros((0, project.shape[1]))
        return empty, empty
    if project is not None:
        return np.concatenate(shared), np.concatenate(left_out)
    return sp.csr_array(sp.vstack(shared)), sp.csr_array(sp.vstack(left_out))


def _base_value(count: np.ndarray, left_j: np.ndarray, n_c: np.ndarray,
                shrinkage: float) -> np.ndarray:
    """The global rows' values: the shrunk cosine, 0 where j has no reviewer left (those
    terms are all the user's own, corrected exactly: no 1 / shrinkage blow-up)."""
    return np.where(left_j > 0, shrunk_cosine(count, left_j, n_c, shrinkage), 0.0)


def _corrections(pair_user: np.ndarray, pair_item: np.ndarray, pair_mine: np.ndarray,
                 start: np.ndarray, items: np.ndarray, co: sp.csr_array,
                 reviewers: np.ndarray, shrinkage: float) -> sp.csr_array:
    """D_u[j] of each (u, j) pair: sparse float64 [P, I], non-zero only on u's items."""
    num_items = co.shape[0]
    sizes = start[pair_user + 1] - start[pair_user]
    parts = []
    ends = np.cumsum(sizes)
    first = 0
    while first < len(sizes):  # pairs in steps of about _TERMS_PER_STEP terms
        done = ends[first - 1] if first else 0
        last = max(int(np.searchsorted(ends, done + _TERMS_PER_STEP, side="right")), first + 1)
        size = sizes[first:last]
        pair = np.repeat(np.arange(first, last), size)
        offset = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        c = items[start[pair_user[pair]] + offset]
        j, mine = pair_item[pair], pair_mine[pair].astype(np.float64)
        keep = (c < num_items) & (c != j)
        pair, c, j, mine = pair[keep], c[keep], j[keep], mine[keep]
        count = matrix_entries(co, j, c).astype(np.float64)
        own = shrunk_cosine(count - mine, reviewers[j] - mine, reviewers[c] - 1.0, shrinkage)
        base = _base_value(count, reviewers[j] - mine, reviewers[c], shrinkage)
        parts.append((pair, c, own - base))
        first = last
    if not parts:
        return sp.csr_array((len(pair_user), num_items), dtype=np.float64)
    pair, c, delta = (np.concatenate(column) for column in zip(*parts, strict=True))
    return _sparse(delta, pair, c, (len(pair_user), num_items))


def _sparse(values: np.ndarray, rows: np.ndarray, cols: np.ndarray,
            shape: tuple[int, int]) -> sp.csr_array:
    """float64 CSR [shape] summing values at (rows, cols)."""
    return sp.csr_array((np.asarray(values, np.float64), (rows, cols)), shape=shape)


def _reviewed(owned: np.ndarray, users: np.ndarray, items: np.ndarray,
              num_items: int) -> np.ndarray:
    """bool [K]: whether user users[k] reviewed items[k] (user -1: no one), by binary
    search in the sorted keys user * I + item of the reviews (`owned`)."""
    keys = users * num_items + items
    if not len(owned):
        return np.zeros(len(keys), bool)
    found = np.minimum(np.searchsorted(owned, keys), len(owned) - 1)
    return (owned[found] == keys) & (users >= 0)
