"""The towers' parts (`IdEmbedding`, `HistoryBag`, `ProfilePath`, `SimilarityProfile`,
`CatalogueOneHot`): config round trip and `.keras` save/load inside a functional model,
on tiny configs; their behaviour inside the towers is tests/recsys/test_towers.py."""

import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_config_round_trip, run_save_load
from tfrec_sentiment.layers import (
    CatalogueOneHot,
    HistoryBag,
    IdEmbedding,
    ProfilePath,
    SimilarityProfile,
)

STATS = {"rating": {"mean": [3.0, 1.0], "variance": [1.0, 0.25]}}


def _cases():
    rng = np.random.default_rng(0)
    return {
        "ids": (IdEmbedding(vocabulary=["a", "b"], embedding_dim=3, num_oov_buckets=2,
                            id_dropout=0.3),
                tf.keras.Input([], dtype=tf.string), np.array(["b", "zz", "a"])),
        "history": (HistoryBag(history_size=4, history_dim=2, history_signals=("rating",)),
                    {"history": tf.keras.Input([3], dtype=tf.int64),
                     "history_rating": tf.keras.Input([3])},
                    {"history": np.array([[1, 3, 0], [2, 0, 0]]),
                     "history_rating": rng.normal(size=(2, 3)).astype("float32")}),
        "profile": (ProfilePath(feature_groups=("rating",), use_text=True, fusion_units=2,
                                text_units=2, statistics={"rating": STATS["rating"]},
                                dropout=0.1),
                    {"rating": tf.keras.Input([2]), "text": tf.keras.Input([5])},
                    {"rating": rng.normal(size=(2, 2)).astype("float32"),
                     "text": rng.normal(size=(2, 5)).astype("float32")}),
        "similarity": (SimilarityProfile(size=3, initial_weight=2.5), tf.keras.Input([4]),
                       rng.random(size=(2, 4)).astype("float32")),
        "one_hot": (CatalogueOneHot(size=3, num_oov_buckets=2),
                    tf.keras.Input([], dtype=tf.int64), np.array([2, 0, 4])),
    }


@pytest.mark.parametrize("name", ["ids", "history", "profile", "similarity", "one_hot"])
def test_part_config_round_trip_and_save_load(name, tmp_path):
    layer, symbolic, data = _cases()[name]
    rebuilt = run_config_round_trip(layer, tf.keras)
    assert rebuilt.get_config() == layer.get_config()
    model = tf.keras.Model(symbolic, layer(symbolic))
    run_save_load(model, data, tmp_path, tf.keras)


def test_similarity_profile_pads_a_narrower_profile():
    out = SimilarityProfile(size=4, initial_weight=2.0)(tf.constant([[0.5, 1.0]]))
    np.testing.assert_allclose(out, [[1.0, 2.0, 0.0, 0.0]])


def test_parts_refuse_what_they_cannot_do():
    with pytest.raises(ValueError, match="num_oov_buckets"):
        IdEmbedding(vocabulary=["a"], num_oov_buckets=0)
    with pytest.raises(ValueError, match="feature groups or use_text"):
        ProfilePath()
