"""The one sparse co-review / shrunk-cosine implementation against hand counts and dense loops."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tfrec_sentiment.evaluation.baselines import ItemKNN
from tfrec_sentiment.features import profiles as profiles_lib
from tfrec_sentiment.features import similarity as similarity_lib

# Users 0: items {0, 1} (item 1 twice), 1: {1, 2}, 2: {0, 1, 2}; item 3 unreviewed.
USER = np.array([0, 0, 0, 1, 1, 2, 2, 2])
ITEM = np.array([0, 1, 1, 1, 2, 0, 1, 2])
# Reviewers n = (2, 3, 2, 0); co-reviews: 0-1 by users 0 and 2, 0-2 by 2, 1-2 by 1 and 2.
CO = np.array([[2, 2, 1, 0], [2, 3, 2, 0], [1, 2, 2, 0], [0, 0, 0, 0]], np.float32)


def _dense_cosine(co: np.ndarray, shrinkage: float) -> np.ndarray:
    """The dense formula the code used before it went sparse (reference)."""
    count = np.diag(co).astype(np.float64)
    norm = np.sqrt(count[:, None] * count[None, :]) + shrinkage
    similarity = np.where(co > 0, co / np.maximum(norm, 1e-12), 0.0)
    np.fill_diagonal(similarity, 0.0)
    return similarity.astype(np.float32)


def test_review_and_co_review_matrices_by_hand():
    reviews = similarity_lib.review_matrix(USER, ITEM, 4)
    assert sp.issparse(reviews) and reviews.dtype == np.float32
    np.testing.assert_array_equal(reviews.toarray(), [[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0]])
    co = similarity_lib.co_review_matrix(USER, ITEM, 4)
    assert sp.issparse(co) and co.dtype == np.float32 and co.nnz == 9  # no zeros stored
    np.testing.assert_array_equal(co.toarray(), CO)
    np.testing.assert_array_equal(similarity_lib.co_reviews(USER, ITEM, 4), CO)


def test_cosine_similarity_by_hand():
    similarity = similarity_lib.cosine_similarity(
        similarity_lib.co_review_matrix(USER, ITEM, 4), shrinkage=1.0)
    s01 = s12 = 2 / (np.sqrt(2 * 3) + 1)
    s02 = 1 / (np.sqrt(2 * 2) + 1)
    expected = np.array([[0, s01, s02, 0], [s01, 0, s12, 0], [s02, s12, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(similarity.toarray(), expected, rtol=1e-6)
    assert similarity.dtype == np.float32 and similarity.nnz == 6  # diagonal not stored


def test_sparse_equals_the_dense_reference_bit_for_bit():
    rng = np.random.default_rng(0)
    user, item = rng.integers(0, 40, 300), rng.integers(0, 25, 300)
    co = similarity_lib.co_review_matrix(user, item, 25)
    dense = np.zeros((25, 25), np.float32)
    for items in pd.Series(item).groupby(user).agg(set):
        for j in items:
            for c in items:
                dense[j, c] += 1
    np.testing.assert_array_equal(co.toarray(), dense)
    for shrinkage in (0.0, 2.5):
        np.testing.assert_array_equal(
            similarity_lib.cosine_similarity(co, shrinkage).toarray(),
            _dense_cosine(dense, shrinkage))


def test_profiles_from_sparse_and_dense_co_reviews_agree():
    start, items = profiles_lib.user_item_sets(USER, ITEM, 3)
    history = np.array([[1, 2, 0], [3, 0, 0], [0, 0, 0]])  # item index + 1
    sparse = profiles_lib.similarity_profiles(
        history, np.array([0, -1, 2]), (start, items),
        similarity_lib.co_review_matrix(USER, ITEM, 4), 1.0, chunk=2)
    dense = profiles_lib.similarity_profiles(
        history, np.array([0, -1, 2]), (start, items), CO, 1.0, chunk=2)
    np.testing.assert_array_equal(sparse, dense)
    # User 0 without its own reviews: user 2 alone co-reviews 0-1-2, n = (1, 2, 2).
    s01, s02 = 1 / (np.sqrt(1 * 2) + 1), 1 / (np.sqrt(1 * 2) + 1)
    s12 = 2 / (np.sqrt(2 * 2) + 1)  # user 0 never reviewed item 2
    np.testing.assert_allclose(sparse[0], [s01 / 2, s01 / 2, (s02 + s12) / 2, 0], rtol=1e-6)
    # An unknown user leaves nobody out: item 2's neighbours over all users.
    np.testing.assert_allclose(sparse[1], [1 / 3, 2 / (np.sqrt(6) + 1), 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(sparse[2], 0.0)  # empty history


def test_matrix_entries():
    matrix = sp.csr_array(np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]], np.float32))
    values = similarity_lib.matrix_entries(matrix, np.array([0, 1, 1, 1, 0]),
                                           np.array([1, 0, 2, 1, 0]))
    np.testing.assert_array_equal(values, [2.0, 3.0, 4.0, 0.0, 0.0])
    assert values.dtype == np.float32
    empty = similarity_lib.matrix_entries(sp.csr_array((2, 2), dtype=np.float32),
                                          np.array([1]), np.array([1]))
    np.testing.assert_array_equal(empty, [0.0])


def test_item_knn_uses_the_shared_similarity():
    train = pd.DataFrame({"user_id": [f"u{u}" for u in USER], "item_id": [f"i{i}" for i in ITEM],
                          "rating": 4.0})
    model = ItemKNN(shrinkage=1.0, popularity_weight=0.0, bias_reg=1.0).fit(train)
    expected = similarity_lib.cosine_similarity(CO[:3, :3], 1.0)  # item 3 is not in train
    np.testing.assert_array_equal(model.similarity_.toarray(), expected.toarray())
    scores = model.score_items(np.array(["u1"]), np.array(["i0", "i1", "i2", "nope"]))
    s01, s02, s12 = expected.toarray()[0, 1], expected.toarray()[0, 2], expected.toarray()[1, 2]
    # u1 reviewed i1 and i2: the sums of their similarities; an unknown item scores 0.
    assert scores[0] == pytest.approx([s01 + s02, s12, s12, 0.0])


def test_matrix_entries_against_the_dense_matrix():
    rng = np.random.default_rng(4)
    dense = np.where(rng.random((30, 200)) < 0.3, rng.random((30, 200)), 0.0)
    matrix = sp.csr_array(dense)
    shuffled = sp.csr_array(dense[:, ::-1])[:, ::-1]  # the same matrix, indices unsorted
    assert not shuffled.has_sorted_indices
    rows, cols = rng.integers(0, 30, 5000), rng.integers(0, 200, 5000)
    for m in (matrix, shuffled):
        np.testing.assert_array_equal(similarity_lib.matrix_entries(m, rows, cols),
                                      dense[rows, cols])
