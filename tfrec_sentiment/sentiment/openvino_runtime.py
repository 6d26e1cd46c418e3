"""Batch scoring through OpenVINO: the scorer's graph, compiled for this CPU.

`sentiment.inference_runtime="openvino"` (optional extra `[openvino]`: `pip install -e
'.[openvino]'` in a clone), or "auto" (opt-in) where openvino is installed and
TensorFlow sees no GPU, scores batches of reviews with OpenVINO instead of TensorFlow.
The graph is the one TensorFlow runs: `inference.forward_function`'s token ids ->
{"probabilities", "embedding"} (the `BertInferenceEncoder` pass, the head, calibration
and the empty-text answer), converted by OpenVINO's TensorFlow frontend
(`openvino.convert_model`) and compiled for the CPU. Tokenization, length sorting and
bucket padding stay in TensorFlow (`inference.predict_sorted`), so both runtimes read
the same packed ids. With `bfloat16` the CPU plugin computes in
bfloat16 (`INFERENCE_PRECISION_HINT`; AMX / AVX512_BF16), else in float32. The
compiled graph holds a copy of the weights, taken when it is converted.

Only batch scoring uses it: fine-tuning, the exported SavedModel and TF Serving stay
TensorFlow-only. Measured by `bench/sentiment_speed.py` (README, "Sentiment"); the
tests compare its scores with TensorFlow's.

Example:

>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> scores = model.score(["love it", "broke"], runtime="openvino")  # doctest: +SKIP
"""

from __future__ import annotations

import weakref

import tensorflow as tf

from tfrec_sentiment.sentiment.config import (
    INFERENCE_RUNTIMES,
    OPENVINO_INSTALL,
    openvino_available,
)
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES

AUTO, TENSORFLOW, OPENVINO = INFERENCE_RUNTIMES
# One compiled model per (scorer, precision): converting and compiling take seconds.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def resolve_runtime(runtime: str) -> str:
    """"auto" -> "openvino" where it is installed and TensorFlow sees no GPU (OpenVINO
    compiles for the CPU here), else "tensorflow"; any other value unchanged."""
    if runtime != AUTO:
        return runtime
    if openvino_available() and not tf.config.list_physical_devices("GPU"):
        return OPENVINO
    return TENSORFLOW


def check_runtime(runtime: str) -> None:
    """Fails at once for a runtime that is not usable here.

    Raises:
        ValueError: `runtime` is not one of INFERENCE_RUNTIMES.
        ModuleNotFoundError: "openvino" without the package, naming the install command.
    """
    if runtime not in INFERENCE_RUNTIMES:
        raise ValueError(f"inference runtime {runtime!r} is not one of "
                         f"{', '.join(INFERENCE_RUNTIMES)}")
    if runtime == OPENVINO and not openvino_available():
        raise ModuleNotFoundError(
            f"sentiment.inference_runtime=openvino needs the openvino package: {OPENVINO_INSTALL}")


def openvino_forward(model, forward, bfloat16: bool):
    """A features -> {"probabilities", "embedding"} callable running `forward` in OpenVINO.

    Args:
        model: the `SentimentModel` whose scorer `forward` traces (keys the cache:
            a model whose weights change gets a new compiled graph).
        forward: `inference.forward_function(model)`: a tf.function of the features
            dict (`token_ids`, `padding_mask`, `segment_ids`, int32 [B, L]).
        bfloat16: compute in bfloat16 on the CPU plugin, else float32.

    Returns:
        A callable taking the packed features dict (int32 [B, L] tensors or arrays)
        and returning float32 `probabilities` [B, 3] and `embedding` [B, D] as numpy.

    Raises:
        ModuleNotFoundError: openvino is not installed (with the install command).
    """
    check_runtime(OPENVINO)
    precision = "bf16" if bfloat16 else "f32"
    key = (model.fingerprint(), precision)
    compiled = _COMPILED.setdefault(model.scorer, {})
    if key not in compiled:
        compiled.clear()  # a changed fingerprint: the old graph has old weights
        compiled[key] = _compile(forward, precision)
    return compiled[key]


def _compile(forward, precision: str):
    import openvino

    # Named positional inputs, so the converted graph's inputs carry the feature names.
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name)
                                  for name in FEATURE_NAMES])
    def named(*features):
        outputs = forward(dict(zip(FEATURE_NAMES, features)))
        return {"probabilities": outputs["probabilities"], "embedding": outputs["embedding"]}

    # share_weights=False: the graph gets its own copy of the weights. Shared (the
    # frontend's default), it reads TensorFlow's variable buffers, which training and
    # `set_weights` replace and TensorFlow then reuses for other tensors.
    converted = openvino.convert_model(named.get_concrete_function(), share_weights=False)
    request = openvino.Core().compile_model(
        converted, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                           "PERFORMANCE_HINT": "LATENCY"},
    ).create_infer_request()
    inputs = [port.get_any_name() for port in converted.inputs]
    order = [FEATURE_NAMES.index(name) for name in inputs]
    outputs = {port.get_any_name(): index for index, port in enumerate(converted.outputs)}

    def run(features) -> dict:
        values = [_numpy(features[name]) for name in FEATURE_NAMES]
        result = request.infer({name: values[i] for name, i in zip(inputs, order)})
        return {name: result[index] for name, index in outputs.items()}

    return run


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else value
