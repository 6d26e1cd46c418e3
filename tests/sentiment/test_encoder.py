"""BertInferenceEncoder: the backbone's outputs and dropout in fewer ops."""

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


def _seed_states(layer) -> list:
    """The state variables of every dropout's seed generator under `layer`."""
    return [sub.seed_generator.state for sub in layer._flatten_layers()
            if getattr(sub, "seed_generator", None) is not None]


def test_training_draws_the_backbones_dropout_and_gradients():
    """With every seed generator reset to the same state, the flattened training pass
    draws the backbone's dropout masks at the same places: same outputs and gradients."""
    backbone = _backbone(dropout=0.3)
    encoder = BertInferenceEncoder(backbone)
    states = _seed_states(backbone)
    assert len(states) == 1 + 3 * len(backbone.transformer_layers)  # every dropout site
    start = [state.numpy() for state in states]

    def run(fn):
        for state, value in zip(states, start, strict=True):
            state.assign(value)
        with tf.GradientTape() as tape:
            outputs = fn(FEATURES, training=True)
            loss = tf.reduce_sum(outputs["sequence_output"] ** 2) + tf.reduce_sum(
                outputs["pooled_output"])
        return outputs, tape.gradient(loss, backbone.trainable_weights)

    expected, expected_grads = run(backbone)
    outputs, grads = run(encoder)
    inference = encoder(FEATURES, training=False)["sequence_output"]
    assert np.abs(np.asarray(expected["sequence_output"]) - inference).max() > 1e-2
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(outputs[name], expected[name], atol=1e-5)
    for got, want in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(want),
                                   atol=1e-4)


def test_attention_dropout_sets_the_rate_on_the_attention_probabilities():
    backbone = _backbone(dropout=0.0)
    inference = BertInferenceEncoder(backbone)(FEATURES)["sequence_output"]
    # The backbone's rate (0): training computes the inference pass.
    same = BertInferenceEncoder(backbone)(FEATURES, training=True)["sequence_output"]
    np.testing.assert_allclose(same, inference, atol=1e-6)
    # A rate of its own: the attention probabilities are dropped, only when training.
    encoder = BertInferenceEncoder(backbone, attention_dropout=0.5)
    np.testing.assert_allclose(encoder(FEATURES)["sequence_output"], inference, atol=1e-6)
    dropped = encoder(FEATURES, training=True)["sequence_output"]
    assert np.abs(np.asarray(dropped) - np.asarray(inference)).max() > 1e-3  # rounding: 1e-7
    # And 0 turns the backbone's attention dropout off: with the backbone's rate set,
    # the attention output and feed-forward dropouts still draw.
    assert BertInferenceEncoder(_backbone(0.5), attention_dropout=0.0).attention_dropout == 0.0
    with pytest.raises(ValueError, match=r"attention_dropout must be in \[0, 1\), got 1.0"):
        BertInferenceEncoder(backbone, attention_dropout=1.0)


def test_config_round_trip_and_clear_errors():
    run_config_round_trip(BertInferenceEncoder(_backbone(), name="encoder"), keras)
    run_config_round_trip(BertInferenceEncoder(_backbone(), attention_dropout=0.25), keras)
    with pytest.raises(TypeError, match="not a BERT backbone: no token_embedding"):
        BertInferenceEncoder(keras.Sequential([keras.layers.Dense(2)]))
