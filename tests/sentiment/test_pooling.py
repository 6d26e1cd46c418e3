"""MaskedMeanPooling against numpy, and its Keras contract."""

from __future__ import annotations

import keras
import numpy as np

from tests.layer_test_case import run_config_round_trip, run_save_load
from tfrec_sentiment.sentiment.pooling import MaskedMeanPooling


def test_mean_ignores_padding_and_normalises():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.int32)
    expected = np.stack([sequence[0, :2].mean(0), sequence[1].mean(0)])
    raw = MaskedMeanPooling(normalize=False)(sequence, mask)
    np.testing.assert_allclose(raw, expected, rtol=1e-5)
    unit = MaskedMeanPooling()(sequence, mask)
    np.testing.assert_allclose(unit, expected / np.linalg.norm(expected, axis=1, keepdims=True),
                               rtol=1e-5)


def test_all_padding_row_gives_zeros_not_nan():
    out = MaskedMeanPooling()(np.ones((1, 3, 2), np.float32), np.zeros((1, 3), np.int32))
    np.testing.assert_array_equal(out, np.zeros((1, 2)))


def test_config_round_trip_and_save_load(tmp_path):
    layer = MaskedMeanPooling(normalize=False, epsilon=1e-6)
    run_config_round_trip(layer, keras)
    sequence = keras.Input((None, 3))
    mask = keras.Input((None,), dtype="int32")
    model = keras.Model([sequence, mask], layer(sequence, mask))
    data = [np.arange(24, dtype=np.float32).reshape(2, 4, 3),
            np.array([[1, 0, 0, 0], [1, 1, 1, 0]], np.int32)]
    run_save_load(model, data, tmp_path, keras)
