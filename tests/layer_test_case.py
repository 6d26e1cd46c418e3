"""Runners every public layer test uses: config round trip and save/load.

Works for both Keras worlds: pass `keras_module=keras` (Keras 3, sentiment side) or
`keras_module=tf.keras` (tf-keras, recommender side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _to_numpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    return np.asarray(value)


def assert_allclose_nested(actual: Any, expected: Any, atol: float = 1e-5) -> None:
    actual, expected = _to_numpy(actual), _to_numpy(expected)
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            assert_allclose_nested(actual[key], expected[key], atol)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_allclose_nested(a, e, atol)
    else:
        np.testing.assert_allclose(actual, expected, atol=atol)


def run_config_round_trip(layer: Any, keras_module: Any) -> Any:
    """Serialises `layer`, rebuilds it, and checks the configs are identical."""
    config = layer.get_config()
    if hasattr(keras_module, "saving") and hasattr(keras_module.saving, "serialize_keras_object"):
        serialized = keras_module.saving.serialize_keras_object(layer)
        rebuilt = keras_module.saving.deserialize_keras_object(serialized)
    else:
        serialized = keras_module.layers.serialize(layer)
        rebuilt = keras_module.layers.deserialize(serialized)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    # A second trip must be a fixed point, not drift.
    assert type(layer).from_config(config).get_config() == config
    return rebuilt


def run_save_load(model: Any, inputs: Any, tmp_path: Path, keras_module: Any,
                  atol: float = 1e-5) -> Any:
    """Saves `model` in the `.keras` format, reloads it and compares outputs on `inputs`."""
    expected = model(inputs)
    path = tmp_path / "model.keras"
    model.save(str(path))
    restored = keras_module.models.load_model(str(path))
    assert_allclose_nested(restored(inputs), expected, atol)
    return restored
