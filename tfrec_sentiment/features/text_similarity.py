"""Item-to-item similarity read from the items' review text (TF-IDF cosine, leave-user-out).

Each item's document is the text (title and body) of its training reviews. With
T[i] the item's term counts (scikit-learn's `CountVectorizer`: English stop words out,
terms in at least 2 and at most half of the items' documents) and x(T) the sublinear
TF-IDF of a count row, L2-normalised (scikit-learn's `TfidfTransformer`, its inverse
document frequencies fitted on the items' documents), the text similarity of two
items is the cosine

    text(j, c) = x(T[j]) . x(T[c]),    text(c, c) = 0

kept sparse: each item's `neighbours` largest values, then made symmetric (an entry
kept by either item is kept for both). This is the classic content-based item
similarity (Lops, de Gemmis & Semeraro, "Content-based recommender systems", in the
Recommender Systems Handbook, 2011); on a sparse catalogue it links items that
few users reviewed together but whose reviews talk about the same things.

Leave-user-out, as for the co-reviews (`similarity.py`): when user u reviewed both
j and c, u's own words are in both documents and make the two items look alike
because u reviewed them, which a held-out item never gets. So for those (u, j, c)
the value is recomputed without u's reviews, x(T[j] - T_u[j]) . x(T[c] - T_u[c])
(T_u[i]: u's review counts on i; the document frequencies stay those of the fit,
a global parameter like the co-review basis), for the pairs the sparse matrix
stores. `profiles.similarity_profiles` looks them up by (u, j, c). Unlike the co-review
cosine, which also takes u out of j's reviewer count for every c, u's words stay in
j's document for the items c that u did not review: measured on Musical Instruments
(455,929 such (u, j, c)), they move text(j, c) by +0.0023 on average against a mean
value of 0.19; leaving them out too would mean recomputing every stored neighbour of
every item a user reviewed.

The term is built only for the exact item-to-item block (at most
`FeatureConfig.similarity_max_items` items: the matrix is computed in row blocks,
I x I work) and read only by the variants that read review text (`recsys.config.
TEXT_VARIANTS`): "ids only" and "+ ratings/helpful" see co-reviews alone.

Example:

>>> texts = np.array(["warm tone strings", "warm tone pedal", "cheap cable", "cable cheap warm"])
>>> sim = fit_text_similarity(texts, np.array([0, 1, 2, 0]), np.array([0, 1, 2, 2]), 3,
...                           neighbours=2, weight=0.5, min_df=1, max_df=1.0)
>>> sim.matrix.toarray().astype(float).round(2).tolist()
[[0.0, 0.48, 0.1], [0.48, 0.0, 0.1], [0.1, 0.1, 0.0]]

User 0 wrote the first and the last review: without them items 0 and 2 share no term.

>>> sim.own_value(np.array([0]), np.array([0]), np.array([2]), np.array([0.1]))
array([0.])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from tfrec_sentiment.features import similarity as similarity_lib

# Pairs (rows of two [P, V] sparse count matrices) handled at once in the leave-user-out
# recomputation, and catalogue rows per block of the I x I product.
_PAIR_CHUNK = 50_000
_ROW_CHUNK = 512


@dataclasses.dataclass
class TextSimilarity:
    """The text term of the item-to-item similarity (see the module docstring).

    Attributes:
        matrix: sparse float32 [I, I] (`scipy.sparse.csr_array`), text(j, c),
            symmetric, zero diagonal, each item's `neighbours` largest kept.
        own_keys: int64 [P], sorted keys (u * I + j) * I + c of the stored pairs
            (j, c) that user u reviewed both of.
        own_values: float32 [P], text(j, c) without user u's reviews.
        weight: w >= 0, the term's weight: the similarity is co-review cosine +
            w * text.
    """

    matrix: sp.csr_array
    own_keys: np.ndarray
    own_values: np.ndarray
    weight: float

    @property
    def num_items(self) -> int:
        return int(self.matrix.shape[0])

    def own_value(self, users: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                  stored: np.ndarray) -> np.ndarray:
        """float64 [K]: text(rows, cols) without user `users`' reviews where that pair
        is recorded (`stored`, the matrix's values, elsewhere: a user whose reviews
        were not in the fit, e.g. one added by feedback, changed no document)."""
        keys = (np.asarray(users, np.int64) * self.num_items + rows) * self.num_items + cols
        out = np.asarray(stored, np.float64).copy()
        if not len(self.own_keys) or not len(keys):
            return out
        found = np.minimum(np.searchsorted(self.own_keys, keys), len(self.own_keys) - 1)
        hit = (self.own_keys[found] == keys) & (np.asarray(users) >= 0)
        out[hit] = self.own_values[found[hit]]
        return out

    def block_terms(self, entries: np.ndarray, valid: np.ndarray, mine: np.ndarray,
                    length: int,
                    users: np.ndarray, reviewed: Callable[[np.ndarray, np.ndarray], np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The term's part of a block of similarity profiles (`profiles.similarity_profiles`).

        Args:
            entries: int [m * L], the block's history items (flat); valid: bool [m * L].
            mine: bool [m * L], whether the row's user reviewed the entry's item.
            length: L.
            users: int [m], each row's user (-1: none to leave out).
            reviewed: (users [K], items [K]) -> bool [K], "the user reviewed the item".

        Returns:
            (row [K], column [K], w * text [K]) of the stored neighbours of every
            valid entry, leave-user-out where the row's user reviewed both items;
            items beyond the matrix (added after the fit) have none.
        """
        matrix = self.matrix
        entry = np.flatnonzero(valid & (entries < matrix.shape[0]))
        j = entries[entry]
        stored = matrix.indptr[j + 1] - matrix.indptr[j]
        slot = np.repeat(entry, stored)
        position = (np.arange(len(slot)) - np.repeat(np.cumsum(stored) - stored, stored)
                    + np.repeat(matrix.indptr[j], stored))
        row, c = slot // length, matrix.indices[position]
        j = np.repeat(j, stored)
        both = mine[slot] & reviewed(users[row], c)
        values = matrix.data[position].astype(np.float64)
        values[both] = self.own_value(users[row][both], j[both], c[both], values[both])
        return row, c, self.weight * values

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays `storage.py` writes (prefix "text_similarity_")."""
        return {"text_similarity_data": self.matrix.data,
                "text_similarity_indices": self.matrix.indices,
                "text_similarity_indptr": self.matrix.indptr,
                "text_similarity_own_keys": self.own_keys,
                "text_similarity_own_values": self.own_values}

    @classmethod
    def from_arrays(cls, arrays, weight: float) -> TextSimilarity | None:
        """The term saved by `arrays()` (None when the file has none)."""
        if "text_similarity_indptr" not in arrays.files:
            return None
        indptr = arrays["text_similarity_indptr"]
        size = len(indptr) - 1
        matrix = sp.csr_array((arrays["text_similarity_data"],
                               arrays["text_similarity_indices"], indptr), shape=(size, size))
        return cls(matrix, arrays["text_similarity_own_keys"],
                   arrays["text_similarity_own_values"], float(weight))


def fit_text_similarity(texts: np.ndarray, user_index: np.ndarray, item_index: np.ndarray,
                        num_items: int, neighbours: int, weight: float, *,
                        min_df: int = 2, max_df: float = 0.5) -> TextSimilarity | None:
    """Fits the text term on the training reviews (see the module docstring).

    Args:
        texts: str [N], each review's text (title and body joined).
        user_index: int [N], the review's user (the tables' user rows).
        item_index: int [N], its item (0 <= item < num_items).
        num_items: I.
        neighbours: k >= 1, values kept per item.
        weight: w >= 0, stored with the term.
        min_df, max_df: the vocabulary's document-frequency bounds over the items'
            documents (`CountVectorizer`).

    Returns:
        `TextSimilarity`, or None when no term passes the vocabulary's bounds (e.g.
        too few items).
    """
    texts = np.asarray(texts, dtype=object).astype(str)
    user_index = np.asarray(user_index, np.int64)
    item_index = np.asarray(item_index, np.int64)
    documents = (pd.Series(texts).groupby(item_index).agg(" ".join)
                 .reindex(range(num_items), fill_value=""))
    vectorizer = CountVectorizer(stop_words="english", min_df=min_df, max_df=max_df,
                                 dtype=np.float64)
    try:
        vectorizer.fit(documents.to_numpy())
    except ValueError:  # scikit-learn: "no terms remain" / "max_df < min_df"
        return None
    counts = sp.csr_array(vectorizer.transform(texts))  # [N, V]
    # Distinct (user, item) pairs, sorted by user: each pair's summed review counts.
    key = user_index * num_items + item_index
    pair_keys, pair_of_row = np.unique(key, return_inverse=True)
    pair_counts = _sum_rows(counts, pair_of_row, len(pair_keys))  # [P, V]
    item_counts = _sum_rows(counts, item_index, num_items)  # [I, V]
    transformer = TfidfTransformer(sublinear_tf=True).fit(item_counts)
    vectors = sp.csr_array(transformer.transform(item_counts))
    matrix = _top_neighbours(vectors, neighbours)
    pair_user, pair_item = np.divmod(pair_keys, num_items)
    users, rows, cols, first, second = _own_pairs(pair_user, pair_item, matrix)
    values = np.zeros(len(users), np.float32)
    for begin in range(0, len(users), _PAIR_CHUNK):
        part = slice(begin, begin + _PAIR_CHUNK)
        left = _tfidf(transformer, item_counts[rows[part]] - pair_counts[first[part]])
        right = _tfidf(transformer, item_counts[cols[part]] - pair_counts[second[part]])
        values[part] = np.asarray(left.multiply(right).sum(axis=1)).ravel()
    own_keys = (users * num_items + rows) * num_items + cols
    order = np.argsort(own_keys, kind="stable")
    return TextSimilarity(matrix, own_keys[order], values[order], float(weight))


def _sum_rows(counts: sp.csr_array, group: np.ndarray, size: int) -> sp.csr_array:
    """[size, V]: the rows of `counts` summed by `group` [N]."""
    gather = sp.csr_array((np.ones(len(group)), (group, np.arange(len(group)))),
                          shape=(size, counts.shape[0]))
    return sp.csr_array(gather @ counts)


def _tfidf(transformer: TfidfTransformer, counts: sp.csr_array) -> sp.csr_array:
    """Normalised TF-IDF rows of count rows (explicit zeros dropped first: the
    sublinear tf takes their log)."""
    counts = sp.csr_array(counts)
    counts.eliminate_zeros()
    return sp.csr_array(transformer.transform(counts))


def _top_neighbours(vectors: sp.csr_array, neighbours: int) -> sp.csr_array:
    """float32 [I, I]: each row's `neighbours` largest cosines (> 0, diagonal out),
    symmetric (the union of both rows' choices)."""
    num_items = vectors.shape[0]
    keep_rows, keep_cols, keep_values = [], [], []
    transposed = sp.csc_array(vectors.T)
    k = min(neighbours, num_items - 1)
    for begin in range(0, num_items if k >= 1 else 0, _ROW_CHUNK):
        block = (vectors[begin:begin + _ROW_CHUNK] @ transposed).toarray()
        local = np.arange(len(block))
        block[local, begin + local] = 0.0
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(block, top, axis=1)
        positive = values > 0
        keep_rows.append(np.repeat(begin + local, k)[positive.ravel()])
        keep_cols.append(top[positive])
        keep_values.append(values[positive])
    if not keep_rows:
        return sp.csr_array((num_items, num_items), dtype=np.float32)
    rows, cols = np.concatenate(keep_rows), np.concatenate(keep_cols)
    values = np.concatenate(keep_values).astype(np.float32)
    chosen = sp.csr_array((values, (rows, cols)), shape=(num_items, num_items))
    matrix = sp.csr_array(chosen.maximum(chosen.T), dtype=np.float32)
    matrix.sort_indices()
    return matrix


def _own_pairs(pair_user: np.ndarray, pair_item: np.ndarray, matrix: sp.csr_array
               ) -> tuple[np.ndarray, ...]:
    """The (user, j, c) with both (u, j) and (u, c) reviewed and text(j, c) stored: the
    user, j, c and the rows of (u, j) and (u, c) among the pairs (sorted by user)."""
    start = np.searchsorted(pair_user, np.unique(pair_user))
    sizes = np.diff(np.r_[start, len(pair_user)])
    parts: list[tuple[np.ndarray, ...]] = []
    # Users in groups of about _PAIR_CHUNK ordered pairs (a user has size^2).
    total = np.cumsum(sizes.astype(np.int64) ** 2)
    bounds = [0]
    while bounds[-1] < len(sizes):
        done = total[bounds[-1] - 1] if bounds[-1] else 0
        bounds.append(max(int(np.searchsorted(total, done + _PAIR_CHUNK, side="right")),
                          bounds[-1] + 1))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        group_start, group_size = start[lo:hi], sizes[lo:hi]
        # Every ordered pair (a, b) of each user's pair rows: a repeated size times.
        first = np.repeat(np.repeat(group_start, group_size)
                          + _ranges(group_size), np.repeat(group_size, group_size))
        second = (np.repeat(np.repeat(group_start, group_size), np.repeat(group_size, group_size))
                  + _ranges(np.repeat(group_size, group_size)))
        distinct = first != second
        first, second = first[distinct], second[distinct]
        rows, cols = pair_item[first], pair_item[second]
        stored = similarity_lib.matrix_entries(matrix, rows, cols) > 0
        parts.append((pair_user[first[stored]], rows[stored], cols[stored], first[stored],
                      second[stored]))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, empty
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _ranges(sizes: np.ndarray) -> np.ndarray:
    """0..n-1 for each n of `sizes`, concatenated."""
    sizes = np.asarray(sizes, np.int64)
    return np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)

