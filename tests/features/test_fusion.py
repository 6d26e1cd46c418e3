import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_config_round_trip, run_save_load
from tfrec_sentiment.features.fusion import SentimentFusion

STATS = {
    "rating": {"mean": [1.0, 4.0, 0.5], "variance": [0.25, 1.0, 4.0]},
    "sentiment": {"mean": [0.2] * 7, "variance": [0.5] * 7},
}


def _inputs(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"rating": rng.normal(size=(batch, 3)).astype("float32"),
            "helpful": rng.normal(size=(batch, 3)).astype("float32"),
            "sentiment": rng.normal(size=(batch, 7)).astype("float32")}


def test_standardises_with_the_statistics_it_owns():
    inputs = _inputs()
    fused = SentimentFusion(units=5, groups=("rating", "sentiment"), statistics=STATS)
    plain = SentimentFusion(units=5, groups=("rating", "sentiment"))
    out = fused(inputs)
    plain(inputs)
    plain.set_weights(fused.get_weights())
    standardized = {
        g: (inputs[g] - np.array(STATS[g]["mean"])) / np.sqrt(STATS[g]["variance"])
        for g in ("rating", "sentiment")
    }
    np.testing.assert_allclose(out, plain(standardized), atol=1e-5)


@pytest.mark.parametrize("groups", [("rating", "helpful"), ("rating", "helpful", "sentiment"),
                                    ("sentiment",)])
def test_ablation_variants_read_only_their_groups(groups):
    layer = SentimentFusion(units=6, groups=groups)
    inputs = _inputs()
    out = layer(inputs)
    assert out.shape == (4, 6)
    assert layer.projection.kernel.shape[0] == sum(inputs[g].shape[1] for g in groups)
    # An absent group changes nothing; a present one does.
    absent = [g for g in inputs if g not in groups]
    for group in absent:
        np.testing.assert_allclose(layer({**inputs, group: inputs[group] + 3}), out)
    assert not np.allclose(layer({**inputs, groups[0]: inputs[groups[0]] + 3}), out)


def test_missing_group_is_named():
    with pytest.raises(KeyError, match="sentiment"):
        SentimentFusion(groups=("rating", "sentiment"))({"rating": tf.zeros([1, 3])})
    with pytest.raises(ValueError, match="at least one"):
        SentimentFusion(groups=())


def test_sentiment_fusion_config_round_trip_and_save_load(tmp_path):
    layer = SentimentFusion(units=4, groups=("rating", "sentiment"), statistics=STATS,
                            activation="tanh", dropout=0.1)
    rebuilt = run_config_round_trip(layer, tf.keras)
    assert rebuilt.statistics == layer.statistics
    inputs = {g: tf.keras.Input([d], name=g) for g, d in (("rating", 3), ("sentiment", 7))}
    model = tf.keras.Model(inputs, layer(inputs))
    data = {g: v for g, v in _inputs().items() if g in inputs}
    run_save_load(model, data, tmp_path, tf.keras)
