import numpy as np
import pandas as pd
import tensorflow as tf

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tests.layer_test_case import run_config_round_trip, run_save_load
from tfrec_sentiment.features.lookup import FeatureLookup
from tfrec_sentiment.features.tables import build_feature_tables


def _tables():
    reviews = synthetic_reviews(num_users=10, num_items=8, per_user=5, text_dim=4, seed=2)
    split = leave_last_out(reviews.frame)
    rows = split.train_rows
    return build_feature_tables(split.train, reviews.probabilities[rows],
                                reviews.embeddings[rows]), split


def test_lookup_layer_serves_the_same_features_as_the_tables():
    tables, split = _tables()
    layer = tables.lookup_layer("item")
    frame = pd.concat([split.test, pd.DataFrame({"user_id": ["?"], "item_id": ["unknown"]})])
    expected = tables.lookup_examples(frame)
    found = layer(tf.constant(frame["item_id"].to_numpy().astype(str)))
    assert set(found) == set(tables.groups)
    for group, value in found.items():
        np.testing.assert_allclose(value.numpy(), expected[f"item_{group}"], atol=1e-6)


def test_unknown_ids_read_row_zero():
    layer = FeatureLookup(vocabulary=["a", "b"], group_dims={"g": 2})
    layer.set_tables({"g": np.array([[9, 9], [1, 2], [3, 4]], np.float32)})
    out = layer(tf.constant(["b", "zz", "", "a"]))["g"].numpy()
    np.testing.assert_array_equal(out, [[3, 4], [9, 9], [9, 9], [1, 2]])


def test_feature_lookup_config_round_trip_and_save_load(tmp_path):
    tables, _ = _tables()
    layer = tables.lookup_layer("user")
    rebuilt = run_config_round_trip(layer, tf.keras)
    assert list(rebuilt.vocabulary) == list(tables.ids["user"])
    ids = tf.keras.Input([], dtype=tf.string, name="user_id")
    model = tf.keras.Model(ids, layer(ids))
    restored = run_save_load(model, tf.constant(["u001", "nobody"]), tmp_path, tf.keras)
    assert isinstance(restored.layers[-1], FeatureLookup)
