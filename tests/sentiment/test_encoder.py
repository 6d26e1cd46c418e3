"""BertInferenceEncoder: the backbone's outputs in fewer ops, the backbone when training."""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_config_round_trip
from tfrec_sentiment.sentiment.encoder import BertInferenceEncoder

# Three rows of different lengths, padded to 6: the mask must hide the padded keys.
FEATURES = {"token_ids": tf.constant([[2, 5, 9, 7, 3, 0], [2, 4, 3, 0, 0, 0],
                                      [2, 8, 8, 6, 5, 3]]),
            "padding_mask": tf.constant([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0],
                                         [1, 1, 1, 1, 1, 1]]),
            "segment_ids": tf.zeros([3, 6], tf.int32)}


def _backbone(dropout: float = 0.0) -> keras_hub.models.BertBackbone:
    keras.utils.set_random_seed(0)
    return keras_hub.models.BertBackbone(
        vocabulary_size=12, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=8, dropout=dropout)


def test_outputs_equal_the_backbone_at_inference():
    backbone = _backbone(dropout=0.3)  # dropout: identity at inference, left out here
    expected = backbone(FEATURES, training=False)
    outputs = tf.function(lambda f: BertInferenceEncoder(backbone)(f))(FEATURES)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(outputs[name], expected[name], atol=1e-5)
    # Padding does not leak: a row alone, unpadded, gives its padded row's outputs.
    alone = {name: value[1:2, :3] for name, value in FEATURES.items()}
    single = BertInferenceEncoder(backbone)(alone)["sequence_output"]
    np.testing.assert_allclose(single[0], outputs["sequence_output"][1, :3], atol=1e-5)


def test_training_runs_the_backbone_with_its_dropout():
    encoder = BertInferenceEncoder(_backbone(dropout=0.5))
    inference = encoder(FEATURES, training=False)["sequence_output"]
    trained = encoder(FEATURES, training=True)["sequence_output"]
    assert np.abs(np.asarray(trained) - np.asarray(inference)).max() > 1e-3
    assert len(encoder.trainable_weights) == len(encoder.backbone.trainable_weights)


def test_config_round_trip_and_clear_errors():
    run_config_round_trip(BertInferenceEncoder(_backbone(), name="encoder"), keras)
    with pytest.raises(TypeError, match="not a BERT backbone: no token_embedding"):
        BertInferenceEncoder(keras.Sequential([keras.layers.Dense(2)]))
