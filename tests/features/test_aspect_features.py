"""The "aspect" feature group: point-in-time for training rows, full for later rows."""

import numpy as np
import pytest

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tfrec_sentiment.aspects.profiles import attention
from tfrec_sentiment.features.aspects import AspectArrays
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import FeatureError, FeatureTables, build_feature_tables

A = 3


@pytest.fixture(scope="module")
def data():
    reviews = synthetic_reviews(num_users=12, num_items=8, per_user=5, text_dim=4, seed=2)
    split = leave_last_out(reviews.frame)
    rows = split.train_rows
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, size=(len(rows), A)).astype(np.float32)
    polarity = (counts * rng.uniform(-1, 1, size=counts.shape)).astype(np.float32)
    return split, reviews.probabilities[rows], reviews.embeddings[rows], counts, polarity


def _tables(data, counts=None, mode="past_only"):
    split, probabilities, embeddings, base, polarity = data
    arrays = AspectArrays(("sound", "cable", "price"), base if counts is None else counts,
                          polarity, prior_strength=2.0, attention_strength=1.0)
    return build_feature_tables(split.train, probabilities, embeddings,
                                FeatureConfig(item_similarity=False, training_features=mode),
                                aspects=arrays)


@pytest.mark.parametrize("mode", ["past_only", "leave_one_out"])
def test_a_training_row_never_sees_its_own_mentions(data, mode):
    tables = _tables(data, mode=mode)
    before = tables.training_examples()
    assert before["user_aspect"].shape == (len(data[0].train), A)
    assert before["item_aspect"].shape == (len(data[0].train), 2 * A)
    assert "aspect" in tables.groups and "aspect" in tables.statistics["item"]
    # the first review of a user: in both modes the user's later rows see it
    user = tables.rows["user_index"]
    same_user = np.flatnonzero(user == user[0])
    row = same_user[np.argmin(tables.rows["timestamp"][same_user])]
    counts = data[3].copy()
    counts[row] += 4.0  # more mentions of every aspect in this row's own review
    changed = _tables(data, counts, mode)
    # the priors (population attention) move with any review, as documented; with the
    # population held fixed the row's own features are unchanged
    object.__setattr__(changed.aspects, "_priors", tables.aspects._priors)
    after = changed.training_examples()
    np.testing.assert_allclose(after["user_aspect"][row], before["user_aspect"][row], atol=1e-6)
    np.testing.assert_allclose(after["item_aspect"][row], before["item_aspect"][row], atol=1e-6)
    # ...while other rows of the same user that may see it do change
    others = np.flatnonzero((user == user[row]) & (np.arange(len(user)) != row))
    if mode == "past_only":
        others = others[tables.rows["timestamp"][others] > tables.rows["timestamp"][row]]
    assert len(others) and not np.allclose(after["user_aspect"][others],
                                           before["user_aspect"][others])


def test_later_rows_get_the_training_profiles_and_unknown_ids_the_prior(data):
    split, *_ = data
    tables = _tables(data)
    test = split.test.copy()
    test.loc[test.index[0], "user_id"] = "nobody"
    examples = tables.lookup_examples(test)
    # the full table: build_profiles' attention formula over all training mentions
    user_counts = np.zeros((len(tables.ids["user"]), A))
    np.add.at(user_counts, tables.rows["user_index"], data[3])
    expected = attention(user_counts, tables.aspects._priors[1], 1.0)
    known = tables.index_of("user", test["user_id"].to_numpy())
    np.testing.assert_allclose(examples["user_aspect"][1:], expected[known[1:]], atol=1e-6)
    np.testing.assert_allclose(examples["user_aspect"][0], tables.aspects._priors[1], atol=1e-6)
    assert "aspect" not in tables.lookup_layer("user", drop=("aspect",)).group_dims


def test_saved_tables_keep_the_aspect_group(data, tmp_path):
    tables = _tables(data)
    loaded = FeatureTables.load(tables.save(tmp_path))
    assert loaded.aspects.aspects == ("sound", "cable", "price")
    for side in ("user", "item"):
        np.testing.assert_allclose(loaded.feature_table(side)["aspect"],
                                   tables.feature_table(side)["aspect"])
    grown = tables.with_reviews(data[0].test.assign(user_id="new user"),
                                np.full((len(data[0].test), 3), 1 / 3, np.float32),
                                np.zeros((len(data[0].test), 4), np.float32))
    table = grown.feature_table("user")["aspect"]
    assert table.shape[0] == len(grown.ids["user"]) + 1  # the new user: the prior
    with pytest.raises(FeatureError, match="aspect arrays have 2 rows"):
        build_feature_tables(data[0].train, data[1], data[2], FeatureConfig(),
                             aspects=AspectArrays(("s",), np.zeros((2, 1)), np.zeros((2, 1))))


def test_the_aspects_variant_reads_the_group_through_the_towers(data):
    import dataclasses

    import tensorflow as tf

    from tests.recsys.trained_fixture import tiny_config
    from tfrec_sentiment.recsys.build import build_model
    from tfrec_sentiment.recsys.data import select_inputs
    from tfrec_sentiment.recsys.trained import build_model_variables

    tables = _tables(data)
    config = tiny_config(variant="aspects", item_similarity=False)
    assert config.text_enabled and "aspect" in config.feature_groups
    model = build_model(config, tables)
    build_model_variables(model, tables, config)
    examples = select_inputs(tables.training_examples(), config)
    assert examples["user_aspect"].shape[1] == A and examples["item_aspect"].shape[1] == 2 * A
    batch = {k: tf.constant(v[:8]) for k, v in examples.items()}
    loss = float(model.compute_loss(batch))
    moved = {k: v + 3.0 if k.endswith("_aspect") else v for k, v in batch.items()}
    assert np.isfinite(loss) and float(model.compute_loss(moved)) != pytest.approx(loss)
    with pytest.raises(ValueError, match="aspect"):
        build_model(config, dataclasses.replace(tables, aspects=None))
