"""Similarity profiles (global rows + each user's corrections) against a loop over users."""

import numpy as np
import pytest

from tfrec_sentiment.features import profiles as profiles_lib
from tfrec_sentiment.features import similarity as similarity_lib


def _case(seed: int = 0, users: int = 40, items: int = 30):
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(items, 0.4))
    sizes = rng.integers(1, 12, users)  # a few heavy users, some with one review
    user = np.repeat(np.arange(users), sizes)
    item = np.concatenate([rng.choice(items, size, p=popularity) for size in sizes])  # repeats
    return rng, user, item


def _reference(history, owner, user, item, num_items, shrinkage):
    """The leave-user-out mean similarity, counted from the OTHER users' item sets."""
    sets = [set(item[user == u]) for u in range(user.max() + 1)]
    out = np.zeros((len(history), num_items))
    for row, (entries, u) in enumerate(zip(history, owner, strict=True)):
        others = [s for k, s in enumerate(sets) if k != u]
        entries = [e - 1 for e in entries if 0 < e <= num_items]
        for j in entries:
            n_j = sum(j in s for s in others)
            for c in range(num_items):
                both = sum(j in s and c in s for s in others)
                n_c = sum(c in s for s in others)
                if c != j and both:
                    out[row, c] += both / (np.sqrt(n_j * n_c) + shrinkage)
        out[row] /= max(len(entries), 1)
    return out


@pytest.mark.parametrize("shrinkage", [0.0, 2.0])
def test_profiles_equal_the_loop_over_other_users(shrinkage, monkeypatch):
    rng, user, item = _case()
    items = 30
    co = similarity_lib.co_review_matrix(user, item, items)
    item_sets = profiles_lib.user_item_sets(user, item, user.max() + 1)
    # Rows of known users (histories of their own items and of others'), unknown
    # users (-1) and an id past the sets, padding, and item ids past the matrix.
    owner = np.r_[rng.integers(0, user.max() + 1, 50), -1, -1, 999]
    history = rng.integers(0, items + 3, (len(owner), 6))
    for row, u in enumerate(owner[:25]):
        own = item[user == u] + 1
        history[row, :min(6, len(own))] = own[:6]
    monkeypatch.setattr(profiles_lib, "_TERMS_PER_STEP", 7)  # corrections in many steps
    profiles = profiles_lib.similarity_profiles(history, owner, item_sets, co, shrinkage,
                                                chunk=8)
    expected = _reference(history, np.where(owner < user.max() + 1, owner, -1), user, item,
                          items, shrinkage)
    np.testing.assert_allclose(profiles, expected, rtol=1e-5, atol=1e-6)
    assert profiles.dtype == np.float32 and (profiles[:25] > 0).any(axis=1).mean() > 0.8
    # One block or many, projected on the identity or not: the same profiles.
    whole = profiles_lib.similarity_profiles(history, owner, item_sets, co, shrinkage)
    np.testing.assert_allclose(whole, profiles, rtol=1e-6, atol=1e-7)
    identity = profiles_lib.similarity_profiles(history, owner, item_sets, co, shrinkage,
                                                chunk=8, basis=np.eye(items))
    np.testing.assert_allclose(identity, profiles, rtol=1e-6, atol=1e-7)


def test_a_sole_reviewer_adds_nothing_however_small_the_shrinkage():
    # Item 2 has one reviewer, user 0: without that user it has no co-reviews, so its
    # row adds 0 to user 0's profile (the global row S- would divide by n_2 - 1 = 0).
    user, item = np.array([0, 0, 1, 1]), np.array([2, 0, 0, 1])
    co = similarity_lib.co_review_matrix(user, item, 3)
    item_sets = profiles_lib.user_item_sets(user, item, 2)
    profiles = profiles_lib.similarity_profiles(np.array([[3, 0]]), np.array([0]), item_sets,
                                                co, 0.0)
    np.testing.assert_array_equal(profiles, [[0.0, 0.0, 0.0]])
    nobody = profiles_lib.similarity_profiles(np.array([[3, 0]]), np.array([-1]), item_sets,
                                              co, 0.0)
    np.testing.assert_allclose(nobody, [[1 / np.sqrt(2), 0.0, 0.0]], rtol=1e-6)
