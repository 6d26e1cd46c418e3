"""Runners every public layer test uses: config and JSON round trips, save/load, bfloat16.

Works for both Keras worlds (docs/design.md): pass `keras_module=keras` (Keras 3, the
sentiment side) or `keras_module=tf.keras` (tf-keras, the recommender side).

- `run_config_round_trip`: serialise / deserialise in memory, same config, fixed point.
- `run_json_round_trip`: keras-hub's serialization test (`src/tests/test_case.py`,
  `run_serialization_test`): the serialised layer goes through a JSON string, comes
  back with the same config and, given its state (weights, vocabulary assets), gives
  the same outputs.
- `run_save_load`: the `.keras` file format, same outputs after reloading.
- `run_bfloat16_check`: keras-hub's precision test (`run_precision_test`) reduced to
  the outputs: the layer runs under the `mixed_bfloat16` and `bfloat16` policies and
  its floating outputs have the dtype the layer declares. A layer that does not compute
  in bfloat16 says so, with its reason: `float_outputs="float32"` (it computes in
  float32 whatever the policy) or `float_outputs=None` (no floating output at all,
  e.g. strings to token ids).

Inputs: a tuple is passed as positional arguments (`layer(*inputs)`), anything else
as the one argument (`layer(inputs)`, a dict of tensors included).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

BFLOAT16_POLICIES = ("mixed_bfloat16", "bfloat16")
FLOAT_OUTPUTS = ("compute", "float32", None)


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


def call_layer(layer: Any, inputs: Any) -> Any:
    """`layer(*inputs)` for a tuple, else `layer(inputs)`."""
    return layer(*inputs) if isinstance(inputs, tuple) else layer(inputs)


def _serializers(keras_module: Any) -> tuple[Callable, Callable]:
    saving = getattr(keras_module, "saving", None)
    if saving is not None and hasattr(saving, "serialize_keras_object"):
        return saving.serialize_keras_object, saving.deserialize_keras_object
    return keras_module.layers.serialize, keras_module.layers.deserialize


def run_config_round_trip(layer: Any, keras_module: Any) -> Any:
    """Serialises `layer`, rebuilds it, and checks the configs are identical."""
    config = layer.get_config()
    serialize, deserialize = _serializers(keras_module)
    rebuilt = deserialize(serialize(layer))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    # A second trip must be a fixed point, not drift.
    assert type(layer).from_config(config).get_config() == config
    return rebuilt


def run_json_round_trip(layer: Any, keras_module: Any, inputs: Any = None,
                        atol: float = 1e-6) -> Any:
    """`layer` -> JSON string -> a new layer with the same config (and outputs).

    Keras's serialization (`serialize_keras_object`) must give plain JSON, `json.dumps`
    without a custom encoder, as the `.keras` format writes it; the layer read back
    must serialise to the same string (a fixed point: no tuple that comes back as a
    list and differs) and have an equal `get_config()`. With `inputs`, the new layer
    gets the old one's state (vocabulary assets, then weights) and must give the same
    outputs.
    """
    serialize, deserialize = _serializers(keras_module)
    text = json.dumps(serialize(layer), sort_keys=True)
    rebuilt = deserialize(json.loads(text))
    assert type(rebuilt) is type(layer)
    assert json.dumps(serialize(rebuilt), sort_keys=True) == text
    assert rebuilt.get_config() == layer.get_config()
    if inputs is not None:
        expected = call_layer(layer, inputs)
        copy_state(layer, rebuilt, inputs)
        assert_allclose_nested(call_layer(rebuilt, inputs), expected, atol)
    return rebuilt


def copy_state(source: Any, target: Any, inputs: Any) -> None:
    """Gives `target` (same config) the state of `source`: assets, then weights.

    Assets (e.g. a tokenizer's vocabulary) are not in the config: each sublayer that
    saves assets hands them to its namesake in `target` before `target` is built by a
    call on `inputs`; the weights follow.
    """
    targets = {sub.name: sub for sub in target._flatten_layers()}
    with tempfile.TemporaryDirectory() as folder:
        for index, sub in enumerate(source._flatten_layers()):
            if hasattr(sub, "save_assets") and sub.name in targets:
                path = Path(folder) / str(index)
                path.mkdir()
                sub.save_assets(str(path))
                targets[sub.name].load_assets(str(path))
    call_layer(target, inputs)
    target.set_weights(source.get_weights())


def run_save_load(model: Any, inputs: Any, tmp_path: Path, keras_module: Any,
                  atol: float = 1e-5) -> Any:
    """Saves `model` in the `.keras` format, reloads it and compares outputs on `inputs`."""
    expected = model(inputs)
    path = tmp_path / "model.keras"
    model.save(str(path))
    restored = keras_module.models.load_model(str(path))
    assert_allclose_nested(restored(inputs), expected, atol)
    return restored


def run_bfloat16_check(make_layer: Callable[..., Any], inputs: Any,
                       float_outputs: str | None = "compute", reason: str = "") -> None:
    """Builds `make_layer(dtype=policy)` per bfloat16 policy, calls it, checks output dtypes.

    Args:
        make_layer: builds the layer; receives `dtype` (a policy name).
        inputs: float32 inputs, as for `call_layer`.
        float_outputs: "compute": every floating output has the policy's compute dtype
            (bfloat16). "float32": the layer computes in float32 whatever the policy;
            every floating output is float32. None: the layer has no floating output.
        reason: why a layer is not "compute"; required then, so the exception is
            stated where the layer is listed rather than skipped silently.
    """
    assert float_outputs in FLOAT_OUTPUTS, float_outputs
    assert float_outputs == "compute" or reason, "say why the layer does not run in bfloat16"
    for policy in BFLOAT16_POLICIES:
        layer = make_layer(dtype=policy)
        assert layer.compute_dtype == "bfloat16", (policy, layer.compute_dtype)
        outputs = tf.nest.flatten(call_layer(layer, inputs))
        floating = [tf.as_dtype(t.dtype).name for t in outputs if tf.as_dtype(t.dtype).is_floating]
        if float_outputs is None:
            assert not floating, (policy, floating)
        else:
            expected = "bfloat16" if float_outputs == "compute" else "float32"
            assert floating and set(floating) == {expected}, (policy, floating)
