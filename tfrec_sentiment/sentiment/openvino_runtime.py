"""Batch scoring through OpenVINO: the scorer's graph, compiled for this CPU.

`sentiment.inference_runtime="openvino"` (optional extra `[openvino]`: `pip install -e
'.[openvino]'` in a clone), or "auto" (opt-in) where openvino is installed and
TensorFlow sees no GPU, scores batches of reviews with OpenVINO instead of TensorFlow.
The graph is the one TensorFlow runs: `batches.forward_function`'s token ids ->
{"probabilities", "embedding"} (the `BertInferenceEncoder` pass, the head, calibration
and the empty-text answer), converted by OpenVINO's TensorFlow frontend
(`openvino.convert_model`) and compiled for the CPU. Tokenization, length sorting and
bucket padding stay in TensorFlow (`inference.predict_sorted`), so both runtimes read
the same packed ids. With `bfloat16` the CPU plugin computes in
bfloat16 (`INFERENCE_PRECISION_HINT`; AMX / AVX512_BF16), else in float32. The
compiled graph holds a copy of the weights, taken when it is converted.

"openvino_int8" quantises that graph before compiling it (`quantize_int8`): NNCF's
post-training quantisation (`nncf.quantize`, `ModelType.TRANSFORMER`: the matmuls'
weights per output channel and their inputs per tensor to int8, with SmoothQuant and
bias correction; the softmax, layer norms and GELU stay in floating point), its
activation ranges measured on `calibration_sample` of the first texts the model scores
(the pipeline scores its training reviews first), topped up with fixed synthetic demo
reviews when there are fewer than INT8_CALIBRATION_TEXTS. Scoring through a score
cache keeps the quantised graph in the cache folder of its scores (`saved`), and every
later call and process reads it back, so one cache never mixes two calibrations.
Calibrated on the data set's own reviews, the probabilities moved by up to 0.17 from
float32's on the classifiers of three real data sets, macro-F1 on the test part by
-0.35 to -0.26 points at their length of 64 (-0.60 at 128) and SST-2 dev accuracy by
-0.34 to +0.80; fixed demo reviews alone did worse (-0.77 and -0.68 points at worst:
README, "Benchmarks", stop 27).

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

import logging
import os
import weakref
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.batches import forward_function, packed_batches
from tfrec_sentiment.sentiment.config import (
    INFERENCE_RUNTIMES,
    OPENVINO_INSTALL,
    openvino_available,
)
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES

AUTO, TENSORFLOW, OPENVINO, OPENVINO_INT8 = INFERENCE_RUNTIMES
# The quantised graph's file in its score cache folder (`score_texts`).
INT8_GRAPH = "int8_graph.xml"
# Texts that calibrate the int8 graph's activation ranges (`calibration_sample`; 16
# batches of 32: quantising a MiniLM with them takes ~10-20 s on 2 cores).
INT8_CALIBRATION_TEXTS = 512
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
        ModuleNotFoundError: "openvino" without the package, "openvino_int8" without
            openvino or nncf, naming the install command.
    """
    if runtime not in INFERENCE_RUNTIMES:
        raise ValueError(f"inference runtime {runtime!r} is not one of "
                         f"{', '.join(INFERENCE_RUNTIMES)}")
    if runtime == OPENVINO and not openvino_available():
        raise ModuleNotFoundError(
            f"sentiment.inference_runtime=openvino needs the openvino package: {OPENVINO_INSTALL}")
    if runtime == OPENVINO_INT8 and not openvino_available(int8=True):
        raise ModuleNotFoundError(f"sentiment.inference_runtime=openvino_int8 needs the openvino "
                                  f"and nncf packages: {OPENVINO_INSTALL}")


def openvino_forward(model, forward, bfloat16: bool, calibration=None, saved=None):
    """A features -> {"probabilities", "embedding"} callable running `forward` in OpenVINO.

    Args:
        model: the `SentimentModel` whose scorer `forward` traces (keys the cache:
            a model whose weights change gets a new compiled graph).
        forward: `batches.forward_function(model)`: a tf.function of the features
            dict (`token_ids`, `padding_mask`, `segment_ids`, int32 [B, L]).
        bfloat16: compute in bfloat16 on the CPU plugin, else float32 (with
            `calibration`: the operations left in floating point).
        calibration: None, or a callable returning the packed feature batches (dicts
            of int32 [B, L] numpy arrays) that calibrate an int8 graph
            (`quantize_int8`); called only when the graph is quantised.
        saved: with `calibration`, an optional path (`.xml`, an OpenVINO IR; its
            `.bin` beside it) that keeps the quantised graph: read from there when it
            exists (no calibration), else written there, so that every process
            scoring into one score cache uses the one graph whose scores it holds.

    Returns:
        A callable taking the packed features dict (int32 [B, L] tensors or arrays)
        and returning float32 `probabilities` [B, 3] and `embedding` [B, D] as numpy.

    Raises:
        ModuleNotFoundError: openvino (or for int8, nncf) is not installed (with the
            install command).
    """
    check_runtime(OPENVINO if calibration is None else OPENVINO_INT8)
    precision = "bf16" if bfloat16 else "f32"
    key = (model.fingerprint(), precision, calibration is not None)
    compiled = _COMPILED.setdefault(model.scorer, {})
    on_disk = saved is not None and Path(saved).exists()
    # (run, graph, the file it was read from or written to): a graph quantised here
    # on other texts gives way to the one kept with the cache's scores.
    if key not in compiled or (on_disk and compiled[key][2] != str(saved)):
        if not any(k[0] == key[0] for k in compiled):
            compiled.clear()  # a changed fingerprint: the old graphs have old weights
        compiled[key] = (*_compile(forward, precision, calibration,
                                   Path(saved) if on_disk else None),
                         str(saved) if on_disk else None)
    run, graph, _ = compiled[key]
    if saved is not None and not on_disk:  # quantised here: kept for the next process
        _save(graph, Path(saved))
        compiled[key] = (run, graph, str(saved))
    return run


def openvino_function(model, bfloat16: bool, int8: bool = False,
                      calibration_texts=(), saved=None):
    """`forward_function(model)`'s graph compiled by OpenVINO: packed features (int32
    [B, L] each) -> numpy `probabilities` [B, 3] and `embedding` [B, D]; cached per
    model and weights (`openvino_forward`).

    With `int8` its matmuls are quantised, calibrated on `calibration_batches` of
    `calibration_sample(calibration_texts)`; `saved` as in `openvino_forward`.

    Raises:
        ModuleNotFoundError: openvino (with `int8`, or nncf) is not installed (with the
            install command).
    """
    def calibration() -> list[dict]:
        return calibration_batches(model, calibration_sample(calibration_texts))

    return openvino_forward(model, forward_function(model), bfloat16,
                            calibration if int8 else None, saved)


def calibration_batches(model, texts) -> list[dict]:
    """`texts` packed as scoring packs them (batches of 32, length-sorted,
    bucket-padded), as numpy feature dicts (int32 [B, L] each) for `quantize_int8`."""
    return [{name: value.numpy() for name, value in features.items()}
            for features in packed_batches(model, texts, 32)[0]]


def calibration_sample(texts, count: int = INT8_CALIBRATION_TEXTS) -> list[str]:
    """The texts an int8 graph's activation ranges are measured on: `count` of `texts`
    spread evenly over their order (`score_texts` passes them sorted by their sha256
    key, so the sample does not depend on the order given), topped up with fixed
    reviews of the embedded synthetic demo data (`data/demo.py`, seed 0, without its
    dirty rows) when `texts` has fewer.

    Example:
        >>> sample = calibration_sample(["a", "b", "c", "d"], count=2)
        >>> sample
        ['a', 'd']
        >>> topped = calibration_sample(["a"], count=3)
        >>> topped[0], len(topped), topped == calibration_sample(["a"], count=3)
        ('a', 3, True)
    """
    texts = list(texts)
    if len(texts) >= count:
        return [texts[i] for i in np.unique(np.linspace(0, len(texts) - 1, count).round()
                                            .astype(np.int64))]
    from tfrec_sentiment.data.demo import generate_demo
    from tfrec_sentiment.sentiment.labels import review_texts

    reviews = generate_demo(seed=0, noise=False)
    rows = np.random.default_rng(0).permutation(len(reviews))[:count - len(texts)]
    return texts + review_texts(reviews.iloc[np.sort(rows)])


def quantize_int8(converted, batches: list[dict]):
    """`converted` (an `openvino.Model` of the scorer) with its matmuls quantised to int8.

    NNCF's post-training quantisation (Nagel et al. 2021, "A White Paper on Neural
    Network Quantization", section 4; `nncf.quantize` with `ModelType.TRANSFORMER`,
    which keeps softmax, layer norms and GELU in floating point and applies
    SmoothQuant, Xiao et al. 2023), its ranges measured on `batches` (packed feature
    dicts, numpy int32 [B, L]).

    Raises:
        ValueError: `batches` is empty.
    """
    import nncf
    import rich  # NNCF's progress bars draw on rich's shared console
    from nncf.common.logging import nncf_logger

    if not batches:
        raise ValueError("quantize_int8 needs at least one calibration batch")
    names = [port.get_any_name() for port in converted.inputs]
    level, console = nncf_logger.level, rich.get_console()
    quiet, console.quiet = console.quiet, True  # no progress bars
    nncf.set_log_level(logging.ERROR)  # nor statistics tables
    try:
        return nncf.quantize(
            converted, nncf.Dataset(batches, lambda batch: {name: batch[name] for name in names}),
            model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches))
    finally:
        nncf.set_log_level(level)
        console.quiet = quiet


def convert(forward):
    """`forward` (`batches.forward_function(model)`) as an `openvino.Model` whose inputs
    carry the feature names, with its own copy of the weights."""
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
    return openvino.convert_model(named.get_concrete_function(), share_weights=False)


def _compile(forward, precision: str, calibration=None, read_from: Path | None = None):
    """(run, graph): the features -> outputs callable and the `openvino.Model` it runs:
    the quantised graph kept at `read_from`, else `forward` converted (and quantised
    with `calibration`)."""
    import openvino

    if read_from is not None:
        converted = openvino.Core().read_model(str(read_from))
    else:
        converted = convert(forward)
        if calibration is not None:
            converted = quantize_int8(converted, calibration())
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

    return run, converted


def _save(graph, path: Path) -> None:
    """Writes an IR (`.bin`, then `.xml`, each renamed into place: a reader that finds
    the `.xml` finds both)."""
    import openvino

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}-{os.getpid()}.xml")
    openvino.save_model(graph, str(staging), compress_to_fp16=False)
    os.replace(staging.with_suffix(".bin"), path.with_suffix(".bin"))
    os.replace(staging, path)


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else value
