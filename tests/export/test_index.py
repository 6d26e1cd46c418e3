"""CatalogueIndex: exact top-k with per-user exclusion, against a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfrec_sentiment.export.index import EMPTY_SCORE, CatalogueIndex


def _random_index(num_users=30, num_items=50, k=7, seed=0):
    rng = np.random.default_rng(seed)
    users = [f"u{u}" for u in range(num_users)]
    items = [f"i{i}" for i in range(num_items)]
    # Some users reviewed nothing, some most of the catalogue.
    counts = rng.integers(0, num_items - 2, size=num_users)
    counts[:3] = [0, num_items - 3, 1]
    user_index = np.repeat(np.arange(num_users), counts)
    item_index = np.concatenate([rng.choice(num_items, c, replace=False) for c in counts])
    # Repeated reviews of one item collapse.
    user_index, item_index = np.r_[user_index, 1], np.r_[item_index, item_index[0]]
    index = CatalogueIndex.from_interactions(items, users, user_index, item_index, k=k)
    seen = {u: set() for u in range(num_users)}
    for u, i in zip(user_index, item_index):
        seen[u].add(i)
    return index, items, seen, rng


def _reference(scores, excluded, items, k):
    ids, values = [], []
    for row, drop in zip(scores, excluded):
        order = [j for j in np.argsort(-row, kind="stable") if j not in drop][:k]
        pad = k - len(order)
        ids.append([items[j].encode() for j in order] + [b""] * pad)
        values.append([row[j] for j in order] + [EMPTY_SCORE] * pad)
    return np.array(ids, dtype=object), np.array(values, np.float32)


def test_top_k_excludes_each_users_reviewed_items_exactly():
    index, items, seen, rng = _random_index()
    users = np.array([f"u{u}" for u in range(30)] + ["stranger", ""])
    scores = rng.normal(size=(len(users), len(items))).astype(np.float32)
    ids, values = index.top_k(tf.constant(scores), index.seen(tf.constant(users)))
    excluded = [seen[u] for u in range(30)] + [set(), set()]
    want_ids, want_values = _reference(scores, excluded, items, index.k)
    np.testing.assert_array_equal(ids.numpy(), want_ids)
    np.testing.assert_allclose(values.numpy(), want_values)
    # User 1 reviewed all but 3 items: 3 real slots, then padding.
    assert (ids.numpy()[1] == b"").sum() == index.k - 3


def test_seen_lists_each_users_items_and_nothing_for_unknown_users():
    index, _, seen, _ = _random_index()
    got = index.seen(tf.constant(["u4", "nobody", "u0", "u2"])).to_list()
    assert [set(r) for r in got] == [seen[4], set(), set(), seen[2]]


def test_catalogue_smaller_than_k_pads_with_empty_slots():
    index = CatalogueIndex(["a", "b"], ["u"], seen_splits=[0, 1], seen_items=[1], k=4)
    ids, values = index.top_k(tf.constant([[1.0, 2.0], [1.0, 2.0]]),
                              index.seen(tf.constant(["u", "v"])))
    assert ids.numpy().tolist() == [[b"a", b"", b"", b""], [b"b", b"a", b"", b""]]
    assert values.numpy()[0, 1] == EMPTY_SCORE and values.numpy()[1, 0] == 2.0


def test_empty_batch_gives_k_wide_empty_outputs():
    index, items, _, _ = _random_index()
    ids, values = index.top_k(tf.zeros([0, len(items)]), index.seen(tf.constant([], tf.string)))
    assert ids.shape == (0, index.k) and values.shape == (0, index.k)


def test_columns_by_user_groups_known_items_and_drops_unknown():
    index, _, _, _ = _random_index()
    grouped = index.columns_by_user(tf.constant(["i5", "i7", "nope", "i9", ""]),
                                    tf.constant([2, 0, 0, 2, 1]), tf.constant(4))
    assert grouped.to_list() == [[7], [], [5, 9], []]


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="seen_splits"):
        CatalogueIndex(["a"], ["u", "v"], seen_splits=[0, 1], seen_items=[0], k=1)
    with pytest.raises(ValueError, match="seen_items"):
        CatalogueIndex(["a"], ["u"], seen_splits=[0, 1], seen_items=[3], k=1)
    with pytest.raises(ValueError, match="k must be"):
        CatalogueIndex(["a"], ["u"], seen_splits=[0, 0], seen_items=[], k=0)
