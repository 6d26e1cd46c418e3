"""Warm start: id tables grow by id, old rows are untouched, new ids start at their OOV row."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest

from tests.recsys.trained_fixture import synthetic_split, tiny_config, trained_full
from tfrec_sentiment.recsys.train import train_recommender
from tfrec_sentiment.recsys.warm_start import (
    WarmStartError,
    grow_recommender,
    refresh_tables,
    warm_start_recommender,
)


@pytest.fixture(scope="module")
def grown_world() -> types.SimpleNamespace:
    """The parent's training rows plus reviews by new users of new and old items.

    New ids sort between old ones ("u050x" after "u050"), so a positional copy
    would shift rows; only a copy by id keeps them.
    """
    data = synthetic_split()
    parent = trained_full()
    train = data.split.train
    rows = data.split.train_rows
    rng = np.random.default_rng(1)
    extra = train.sample(24, random_state=3).reset_index(drop=True)
    extra["user_id"] = [f"u05{k % 4}x" for k in range(len(extra))]
    extra["item_id"] = [f"i00{k % 3}x" if k % 2 else item for k, item in
                        enumerate(extra["item_id"])]
    extra["timestamp"] = extra["timestamp"] + 86_400 * 400
    grown_train = pd.concat([train, extra], ignore_index=True)
    probabilities = np.concatenate([data.reviews.probabilities[rows],
                                    rng.dirichlet(np.ones(3), len(extra))]).astype(np.float32)
    embeddings = np.concatenate([data.reviews.embeddings[rows],
                                 rng.normal(size=(len(extra), 8))]).astype(np.float32)
    tables = refresh_tables(parent.tables, grown_train, probabilities, embeddings)
    split = types.SimpleNamespace(train=grown_train, validation=data.split.validation)
    touched = set(extra["user_id"]) | set(extra["item_id"])
    return types.SimpleNamespace(parent=parent, tables=tables, split=split, extra=extra,
                                 touched=touched, grown=grow_recommender(parent, tables))


def _rows(table, tower, ids):
    """Rows of `table` (a tower's id table) for `ids`, through the tower's own lookup."""
    return table.numpy()[np.asarray(tower.ids.lookup(np.asarray(ids)))]


def test_refreshed_tables_keep_the_parents_layer_constants(grown_world):
    parent, tables = grown_world.parent.tables, grown_world.tables
    assert tables.statistics == parent.statistics
    assert tables.global_mean == parent.global_mean
    assert tables.profile.get_config() == parent.profile.get_config()
    assert len(tables.rows["rating"]) == len(parent.rows["rating"]) + len(grown_world.extra)


def test_growth_copies_old_rows_by_id_and_adds_rows_for_new_ids(grown_world):
    parent, grown = grown_world.parent.model, grown_world.grown.model
    for side in ("user", "item"):
        old_tower, new_tower = getattr(parent, f"{side}_tower"), getattr(grown, f"{side}_tower")
        old_ids = list(old_tower.vocabulary)
        new_ids = sorted(set(new_tower.vocabulary) - set(old_ids))
        assert new_ids, side  # the vocabulary grew
        assert len(new_tower.vocabulary) == len(old_ids) + len(new_ids)
        assert list(new_tower.vocabulary) != old_ids + new_ids  # interleaved: copy by id needed
        for old_table, new_table in zip(old_tower.embedding_tables() + old_tower.bias_tables(),
                                        new_tower.embedding_tables() + new_tower.bias_tables()):
            assert new_table.shape[0] == old_table.shape[0] + len(new_ids)
            np.testing.assert_array_equal(_rows(new_table, new_tower, old_ids),
                                          _rows(old_table, old_tower, old_ids))
            # A new id starts where the parent put it: its OOV row.
            np.testing.assert_array_equal(_rows(new_table, new_tower, new_ids),
                                          _rows(old_table, old_tower, new_ids))
            oov = old_tower.num_oov_buckets
            np.testing.assert_array_equal(new_table.numpy()[:oov], old_table.numpy()[:oov])


def test_history_rows_follow_their_items(grown_world):
    parent, grown = grown_world.parent, grown_world.grown
    (old,) = parent.model.user_tower.history_tables()
    (new,) = grown.model.user_tower.history_tables()
    old_items, new_items = list(parent.tables.ids["item"]), list(grown.tables.ids["item"])
    np.testing.assert_array_equal(new.numpy()[0], old.numpy()[0])
    for item in old_items:
        np.testing.assert_array_equal(new.numpy()[new_items.index(item) + 1],
                                      old.numpy()[old_items.index(item) + 1])


def test_every_other_weight_is_copied_exactly(grown_world):
    parent, grown = grown_world.parent.model, grown_world.grown.model
    for layer in ("user_tower", "item_tower", "rating_head"):
        old_vars, new_vars = getattr(parent, layer).variables, getattr(grown, layer).variables
        assert len(old_vars) == len(new_vars)
        for old, new in zip(old_vars, new_vars):
            if old.shape == new.shape and "embeddings" not in old.name:
                np.testing.assert_array_equal(old.numpy(), new.numpy(), err_msg=old.name)


def test_grown_model_predicts_like_the_parent_where_nothing_changed(grown_world):
    """Before training, pairs of untouched users and items get the parent's answers."""
    test = synthetic_split().split.test
    keep = ~test["user_id"].isin(grown_world.touched) & ~test["item_id"].isin(grown_world.touched)
    users, items = test["user_id"][keep].to_numpy(), test["item_id"][keep].to_numpy()
    assert len(users) > 50
    np.testing.assert_allclose(grown_world.grown.predict_rating(users, items),
                               grown_world.parent.predict_rating(users, items), atol=1e-5)


def test_warm_start_trains_on_from_the_parent(grown_world):
    config = tiny_config(epochs=2)
    trained = warm_start_recommender(grown_world.parent, config, grown_world.split,
                                     grown_world.tables, seed=0)
    assert trained.metrics["growth"] == {
        "kept": {"user": len(grown_world.parent.tables.ids["user"]),
                 "item": len(grown_world.parent.tables.ids["item"])},
        "added": {"user": 4, "item": 3}}
    # Training moved the weights away from the copy, starting from the parent's fit:
    # its first-epoch loss is below a cold start's on the same data.
    cold = train_recommender(dataclasses.replace(config, epochs=1), grown_world.split,
                             grown_world.tables, seed=0)
    assert trained.history["total_loss"][0] < cold.history["total_loss"][0]
    new_users = sorted(set(grown_world.extra["user_id"]))
    scores = trained.score_items(np.array(new_users), grown_world.tables.ids["item"])
    assert np.isfinite(scores).all() and scores.shape == (4, len(grown_world.tables.ids["item"]))


def test_another_architecture_is_refused_with_the_variable_named(grown_world):
    other = dataclasses.replace(grown_world.parent.config, fusion_units=4)
    with pytest.raises(WarmStartError, match="fusion"):
        grow_recommender(grown_world.parent, grown_world.tables, config=other)

