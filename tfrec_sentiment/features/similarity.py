"""Item-to-item similarity of the training period: co-review counts and shrunk cosine.

The one implementation of co-review counts and shrunk cosine similarity: the
recommender's features (`features/tables.py`) and the item-kNN baseline
(`evaluation/baselines/knn.py`, `ItemKNN`) both call it.

The co-review matrix counts, for every pair of items, the training users who
reviewed both (its diagonal: each item's number of reviewers): with X the binary
user x item matrix of distinct (user, item) pairs, C = X^T X, built sparse
(`co_review_matrix`; memory grows with the co-reviewed pairs, not with I^2). From
it, the cosine similarity of two items (shrunk: pairs resting on few co-reviews
count less) is

    sim(j, c) = C[j, c] / (sqrt(n_j * n_c) + shrinkage),   sim(c, c) = 0

(`shrunk_cosine`; `cosine_similarity` applies it to the whole sparse matrix). A
user's similarity profile, the mean of sim(j, .) over the user's history with the
user's own co-reviews left out, is formed in `profiles.py`.

Sizes (tracemalloc peaks, synthetic catalogue of 20,000 items, 80,000 users with 6
reviews each): `co_review_matrix` 50 MiB, `cosine_similarity` 150 MiB (1.9M stored
pairs, 0.5% of I^2); the dense float64 [I, I] matrices they replace in the item-kNN
baseline peaked at 790 MiB for 5,000 items (~13 GB at 20,000). The feature tables
keep C sparse too (`co_reviews`, saved in `arrays.npz` as its three arrays). A profile
is a row over the whole catalogue, so up to `FeatureConfig.similarity_max_items`
(5,000) items the profiles are exact, float32 [rows, I] (the served user table,
[U + 1, I], is 80 MB per 4,000 users at 5,000 items, inside the SavedModel). Above it they
are projected: `similarity_basis` takes the top r eigenvectors Q [I, r] of the
symmetric S (a randomized SVD of the sparse S, never a dense [I, I]) and a profile p becomes p Q
[r], the item's block Q[i]; with no user left out, p = x S (x: the history's weights)
and (p Q) Q^T is within |x|_2 |lambda_(r+1)| of p, lambda_(r+1) the largest eigenvalue
dropped (Eckart-Young; tests/features/test_similarity_projection.py). The basis comes from
every training user's co-reviews, a global parameter like the profile prior: a row's
own co-reviews move it by about 1/N. `pipeline/memory.py` projects an
exact block whose dense profiles would not fit (`FeatureConfig.similarity_max_gb`) and
switches off a projected one that still would not.

Example:

>>> user = np.array([0, 0, 1, 1]); item = np.array([0, 1, 0, 1])
>>> co_reviews(user, item, 3).tolist()
[[2.0, 2.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
>>> cosine_similarity(co_review_matrix(user, item, 3), shrinkage=0.0).toarray().tolist()
[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

# Products by S in the randomized SVD of `similarity_basis` (each one sharpens the top
# eigenvectors against the rest; 7 kept 99.96% of the exact top 64's energy, 4 kept 99.6%).
POWER_ITERATIONS = 7


def review_matrix(user_index: np.ndarray, item_index: np.ndarray, num_items: int,
                  num_users: int | None = None) -> sp.csr_array:
    """Binary user x item matrix X, sparse float32 [U, I]: 1 where the user reviewed the item.

    A user who reviewed an item twice counts once (one co-review, not two).

    Args:
        user_index: int [N], user of each review (>= 0); item_index: int [N], its
            item (0 <= item < num_items).
        num_items: I.
        num_users: U; None = max(user_index) + 1.

    Example:
        >>> review_matrix(np.array([0, 0, 1]), np.array([1, 1, 0]), 2).toarray().tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    user_index = np.asarray(user_index, np.int64)
    item_index = np.asarray(item_index, np.int64)
    if num_users is None:
        num_users = int(user_index.max()) + 1 if len(user_index) else 0
    ones = np.ones(len(user_index), np.float32)
    matrix = sp.csr_array((ones, (user_index, item_index)), shape=(num_users, num_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # repeats summed above: back to one
    return matrix


def co_review_matrix(user_index: np.ndarray, item_index: np.ndarray,
                     num_items: int) -> sp.csr_array:
    """Users who reviewed both items, C = X^T X: sparse float32 [I, I], sorted indices.

    The diagonal counts each item's reviewers. Counts are exact up to 2**24 users.

    Args:
        user_index: int [N], user of each review; item_index: int [N], its item.
        num_items: I.
    """
    reviews = review_matrix(user_index, item_index, num_items)
    co = (reviews.T @ reviews).tocsr()
    co.sort_indices()
    return co


def co_reviews(user_index: np.ndarray, item_index: np.ndarray, num_items: int) -> np.ndarray:
    """`co_review_matrix` as a dense float32 [I, I] (small catalogues and tests only).

    Args:
        user_index: int [N], user of each review; item_index: int [N], its item.
        num_items: I.
    """
    return co_review_matrix(user_index, item_index, num_items).toarray()


def shrunk_cosine(counts: np.ndarray, left: np.ndarray, right: np.ndarray,
                  shrinkage: float) -> np.ndarray:
    """The shrunk cosine counts / (sqrt(left * right) + shrinkage), 0 where counts <= 0.

    Elementwise, in float64 (arguments broadcast against each other).

    Args:
        counts: co-review counts C[j, c]; left, right: reviewers n_j and n_c.
        shrinkage: >= 0, added to the denominator.

    Example:
        >>> shrunk_cosine(np.array([2.0, 0.0]), np.array([4.0, 4.0]), np.array([1.0, 1.0]), 1.0)
        array([0.66666667, 0.        ])
    """
    counts = np.asarray(counts, np.float64)
    norm = np.sqrt(np.maximum(np.asarray(left, np.float64) * right, 0.0)) + shrinkage
    return np.where(counts > 0, counts / np.maximum(norm, 1e-12), 0.0)


def cosine_similarity(co: sp.sparray, shrinkage: float) -> sp.csr_array:
    """Item-to-item shrunk cosine of a co-review matrix: sparse float32 [I, I], zero diagonal.

    Symmetric (column c equals row c); only co-reviewed pairs are stored.

    Args:
        co: [I, I] co-review counts (`co_review_matrix`); its diagonal is n.
        shrinkage: >= 0, added to the cosine's denominator.
    """
    co = sp.csr_array(co)
    co.sum_duplicates()
    reviewers = co.diagonal().astype(np.float64)
    rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
    keep = rows != co.indices  # an item is not its own neighbour
    rows, cols = rows[keep], co.indices[keep]
    values = shrunk_cosine(co.data[keep], reviewers[rows], reviewers[cols], shrinkage)
    stored = values != 0
    rows, cols, values = rows[stored], cols[stored], values[stored].astype(np.float32)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=co.shape[0]))]
    return sp.csr_array((values, cols, indptr), shape=co.shape)  # rows still in order


def matrix_entries(matrix: sp.csr_array, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The values matrix[rows[k], cols[k]] of a sparse CSR matrix, 0 where none is stored.

    A binary search of each column within its row's sorted indices, all k at once:
    log2(the longest row) steps over K, with no array over the matrix's stored entries.

    Args:
        matrix: CSR [R, K] without duplicate entries.
        rows, cols: int [M].

    Returns:
        [M], the matrix's dtype.

    Example:
        >>> m = sp.csr_array(np.array([[0.0, 2.0], [3.0, 0.0]]))
        >>> matrix_entries(m, np.array([0, 1, 1]), np.array([1, 0, 1])).tolist()
        [2.0, 3.0, 0.0]
    """
    matrix = sp.csr_array(matrix)
    if not matrix.has_sorted_indices:
        matrix = matrix.sorted_indices()
    out = np.zeros(len(rows), matrix.dtype)
    if matrix.nnz == 0 or not len(rows):
        return out
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    indptr, indices = matrix.indptr.astype(np.int64), matrix.indices
    low, high = indptr[rows], indptr[rows + 1]  # the first stored column >= col
    active = np.flatnonzero(low < high)
    while len(active):
        middle = (low[active] + high[active]) // 2
        right = indices[middle] < cols[active]
        low[active[right]] = middle[right] + 1
        high[active[~right]] = middle[~right]
        active = active[low[active] < high[active]]
    end = indptr[rows + 1]
    found = low < end
    found[found] = indices[low[found]] == cols[found]
    out[found] = matrix.data[low[found]]
    return out


def similarity_basis(similarity: sp.sparray, rank: int, seed: int = 0) -> np.ndarray:
    """The top-`rank` eigenvectors Q of the symmetric similarity S: float32 [I, r].

    r = min(rank, I), ordered by |eigenvalue|, largest first: Q diag(lambda) Q^T is
    the best rank-r approximation of S in the Frobenius and spectral norms (for a
    symmetric matrix the singular values are the |eigenvalues|: Eckart-Young), and
    a profile p = x S (x: the user's history weights) becomes p Q [r], with
    (p Q) Q[i]^T ~ p[i]. S stays sparse: Q is the left singular vectors of a
    randomized SVD (Halko, Martinsson & Tropp 2011; scikit-learn's `randomized_svd`,
    seeded) with r extra columns and `POWER_ITERATIONS` products by S: its cost grows
    with S's stored pairs and I, not with how close the eigenvalues lie (ARPACK, used
    before: 14.0 vs 8.4 CPU-s at 4,906 demo items, 41.7 vs 26.9 at 49,742; this Q keeps
    99.96% and 99.1% of the energy of S the exact top 64 keep). Only r >= I - 1
    decomposes the dense [I, I] exactly. Signs are fixed (largest entry positive).

    Args:
        similarity: sparse symmetric [I, I] (`cosine_similarity`).
        rank: r >= 1.
        seed: of the random test matrix.

    Example:
        >>> s = sp.csr_array(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
        >>> q = similarity_basis(s, 2)  # eigenvalues 1 and -1 (the third is 0)
        >>> q.shape, np.allclose(q @ (q.T @ s @ q) @ q.T, s.toarray(), atol=1e-6)
        ((3, 2), True)
    """
    if rank < 1:
        raise ValueError(f"rank={rank}: must be >= 1")
    similarity = sp.csr_array(similarity, dtype=np.float64)
    num_items = similarity.shape[0]
    rank = min(rank, num_items)
    if rank >= num_items - 1:
        values, vectors = np.linalg.eigh(similarity.toarray())
    else:
        vectors, values, _ = randomized_svd(
            similarity, rank, n_oversamples=rank, n_iter=POWER_ITERATIONS,
            random_state=seed)  # values: |eigenvalues|, sorted
    order = np.argsort(-np.abs(values), kind="stable")[:rank]
    vectors = vectors[:, order]
    peak = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(rank)]
    vectors = vectors * np.where(peak < 0, -1.0, 1.0)
    return vectors.astype(np.float32)
