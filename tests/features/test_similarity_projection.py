"""The projected item-to-item block: exact with a full basis, within its bound at rank r,
and no dense [I, I] above `similarity_max_items`."""

import tracemalloc

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec_sentiment.features import profiles as profiles_lib
from tfrec_sentiment.features import similarity as similarity_lib
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import build_feature_tables


def _random_case(users: int = 300, items: int = 80, per_user: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(items, 0.3))
    user = np.repeat(np.arange(users), per_user)
    item = np.concatenate([rng.choice(items, per_user, replace=False, p=popularity)
                           for _ in range(users)])
    co = similarity_lib.co_review_matrix(user, item, items)
    history = item.reshape(users, per_user)[:, :4] + 1  # item index + 1
    return user, item, co, history


def test_a_full_basis_or_the_identity_gives_the_exact_profiles():
    user, item, co, history = _random_case()
    items = co.shape[0]
    item_sets = profiles_lib.user_item_sets(user, item, history.shape[0])
    owner = np.arange(history.shape[0])
    exact = profiles_lib.similarity_profiles(history, owner, item_sets, co, 2.0, chunk=64)
    identity = profiles_lib.similarity_profiles(history, owner, item_sets, co, 2.0, chunk=64,
                                                  basis=np.eye(items))
    np.testing.assert_allclose(identity, exact, rtol=1e-6, atol=1e-7)
    full = similarity_lib.similarity_basis(similarity_lib.cosine_similarity(co, 2.0), items)
    assert full.shape == (items, items)
    projected = profiles_lib.similarity_profiles(history, owner, item_sets, co, 2.0,
                                                   basis=full)
    np.testing.assert_allclose(projected @ full.T, exact, atol=1e-5)  # Q Q^T = identity
    assert (exact > 0).any(axis=1).mean() > 0.9  # non-trivial profiles


def test_rank_r_scores_stay_within_the_dropped_eigenvalue_bound():
    # Without a user to leave out the profile is p = w S (w: the history's weights),
    # and p Q Q^T = w Q diag(lambda_r) Q^T, so for every user
    #     |p - p Q Q^T|_2 = |w (S - S_r)|_2 <= |w|_2 |lambda_(r+1)|,
    # the largest eigenvalue the basis drops (Eckart-Young); each score p Q Q[i]^T
    # is then within that of p[i].
    user, item, co, history = _random_case()
    similarity = similarity_lib.cosine_similarity(co, 2.0)
    item_sets = profiles_lib.user_item_sets(user, item, history.shape[0])
    nobody = np.full(history.shape[0], -1)
    exact = profiles_lib.similarity_profiles(history, nobody, item_sets, co, 2.0)
    weights = np.zeros_like(exact, dtype=np.float64)
    np.add.at(weights, (np.arange(len(history))[:, None], history - 1), 1.0 / history.shape[1])
    np.testing.assert_allclose(weights @ similarity.toarray(), exact, atol=1e-5)  # p = w S
    eigenvalues = np.sort(np.abs(np.linalg.eigvalsh(similarity.toarray())))[::-1]
    rank = 16
    basis = similarity_lib.similarity_basis(similarity, rank)  # randomized: rank < I - 1
    scores = profiles_lib.similarity_profiles(history, nobody, item_sets, co, 2.0,
                                                basis=basis) @ basis.T
    bound = np.linalg.norm(weights, axis=1) * eigenvalues[rank]
    error = np.linalg.norm(scores - exact, axis=1)
    assert (error <= bound + 1e-5).all()
    assert eigenvalues[rank] < 0.5 * eigenvalues[0]  # the bound says something
    # The top eigenvectors matter: another orthonormal basis of the same rank misses it.
    other, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((co.shape[0], rank)))
    missed = np.linalg.norm(exact @ other @ other.T - exact, axis=1)
    assert (missed > bound + 1e-5).any()
    # The randomized basis keeps (almost) the energy of the exact top eigenvectors.
    dense = similarity.toarray()
    exact_top = np.linalg.eigh(dense)[1][:, np.argsort(-np.abs(np.linalg.eigvalsh(dense)))[:rank]]
    def kept(q):
        return np.linalg.norm(q.T @ dense @ q) ** 2
    assert kept(basis.astype(np.float64)) >= 0.999 * kept(exact_top)
    # The basis is rebuilt the same (seeded test matrix, fixed signs).
    np.testing.assert_array_equal(similarity_lib.similarity_basis(similarity, rank), basis)


def test_no_dense_catalogue_square_is_built_above_the_threshold():
    rng = np.random.default_rng(0)
    users, items, per_user = 3000, 3000, 4
    frame = pd.DataFrame({
        "user_id": np.repeat([f"u{u}" for u in range(users)], per_user),
        "item_id": [f"i{i}" for i in rng.integers(0, items, users * per_user)],
        "rating": rng.integers(1, 6, users * per_user).astype(float),
        "helpful_votes": 0, "timestamp": np.arange(users * per_user) + 1_400_000_000})
    catalogue = frame["item_id"].nunique()
    config = FeatureConfig(use_sentiment=False, use_text=False, history_length=3,
                           similarity_max_items=100, similarity_rank=8)
    tracemalloc.start()
    try:
        tables = build_feature_tables(frame, None, None, config)
        examples = tables.training_examples()
        served = tables.feature_table("user")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sp.issparse(tables.co_reviews) and tables.similarity_basis.shape == (catalogue, 8)
    assert examples["user_similarity"].shape == (len(frame), 8)
    assert served["similarity"].shape == (users + 1, 8)
    # A float32 [I, I] alone would be 34 MiB; all of the above stayed well under it.
    assert peak < catalogue * catalogue * 4 / 3, peak / 2**20
