"""Fast batch inference with an on-disk score cache.

Speed comes from three things (measured by bench/sentiment_speed.py): texts are
sorted by packed length so each batch holds similar lengths; each batch is padded
only to the smallest bucket length that holds it (a handful of shapes, so a traced
or XLA-compiled function is reused); and batches are large, with tokenization
running ahead in `tf.data` on the side.

The cache (`score_cache.ScoreCache`) maps (model fingerprint, sha256 of the text) to
that text's scores, so a rerun, or a feedback update that adds a few reviews, scores
only what is new.

An empty or whitespace-only text gets the model's class prior and a zero embedding
(`empty_text.py`), from the scorer itself: the numbers the exported `sentiment`
signature gives, and `Scores.labels` reads "none" for it.

Example (the tiny random model; "love it" is scored once, then read from the cache):

>>> import tempfile
>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> folder = tempfile.TemporaryDirectory()
>>> cache = ScoreCache(folder.name)
>>> scores = score_texts(model, ["love it", "broke"], cache=cache)
>>> again = score_texts(model, ["love it", "new text"], cache=cache)
>>> cache.stats["hits"], cache.stats["misses"], again.probabilities.shape
(1, 3, (2, 3))
>>> folder.cleanup()
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_sentiment.sentiment.batches import (
    forward_function,
    packed_batches,
    packed_lengths,
    token_ids,
)
from tfrec_sentiment.sentiment.labels import LABELS, review_texts
from tfrec_sentiment.sentiment.openvino_runtime import (
    INT8_GRAPH,
    OPENVINO,
    OPENVINO_INT8,
    TENSORFLOW,
    check_runtime,
    openvino_function,
    resolve_runtime,
)
from tfrec_sentiment.sentiment.score_cache import ScoreCache, text_keys
from tfrec_sentiment.sentiment.scores import Scores

if TYPE_CHECKING:  # annotations only: model.py imports this module (SentimentModel.score)
    import pandas as pd

    from tfrec_sentiment.privacy.encryption import TableEncryption
    from tfrec_sentiment.sentiment.model import SentimentModel

_BFLOAT16_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# ScoreCache and text_keys are defined in score_cache.py, public here where they always were.
__all__ = ["ScoreCache", "bfloat16_copy", "forward_function", "native_bfloat16",
           "openvino_function", "packed_batches",
           "packed_lengths", "predict_sorted", "run_score_cache", "score_reviews",
           "score_texts", "scoring_options", "text_keys", "token_ids", "use_bfloat16"]


def native_bfloat16() -> bool:
    """Whether this machine computes bfloat16 natively: a GPU, or a CPU with AVX512_BF16 / AMX.

    Elsewhere (e.g. AVX2-only CPUs) TensorFlow emulates bfloat16 and is slower than
    float32: measured here on an AMD EPYC without AVX-512, MiniLM scoring of 256 demo
    reviews ran at 8.5 reviews/s in bfloat16 vs 29.4 in float32.
    """
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def use_bfloat16(requested: bool, setting: str = "sentiment.inference_bfloat16",
                 work: str = "scoring") -> bool:
    """`requested` where bfloat16 is native here (`native_bfloat16`), else False with a warning.

    The pipeline resolves `sentiment.inference_bfloat16` and `sentiment.train_bfloat16`
    through this (`setting` and `work`, "scoring" or "fine-tuning", named in the
    warning), so their defaults (on) never make scoring or fine-tuning slower on a
    machine that would emulate bfloat16.
    """
    if requested and not native_bfloat16():
        warnings.warn(f"{setting}: this machine has no native bfloat16 (no GPU, no "
                      f"AVX512_BF16/AMX), {work} in float32, which is faster here",
                      stacklevel=1)  # one location: Python's default filter shows it once
        return False
    return bool(requested)


def scoring_options(settings) -> dict:
    """The scorer's keyword arguments from a `SentimentConfig`: `batch_size`,
    `jit_compile`, `bfloat16` (resolved by `use_bfloat16`) and `runtime`
    (`inference_runtime`, resolved by `openvino_runtime.resolve_runtime`), for
    `SentimentModel.score`.

    Every stage that scores reviews with a run's settings (training, update, tuning,
    the comment-only protocol) passes these, so they score alike.
    """
    return {"batch_size": settings.inference_batch_size, "jit_compile": settings.jit_compile,
            "bfloat16": use_bfloat16(settings.inference_bfloat16),
            "runtime": resolve_runtime(settings.inference_runtime)}


def run_score_cache(settings, run_dir: str | Path,
                    encryption: TableEncryption | None = None) -> ScoreCache:
    """A run's score cache: `settings.cache_dir` (a `SentimentConfig`'s), else
    `run_dir/sentiment/scores`; its shards encrypted with `encryption` (the run's)."""
    return ScoreCache(settings.cache_dir or Path(run_dir) / "sentiment" / "scores", encryption)


def score_reviews(model: SentimentModel, frame: pd.DataFrame, settings,
                  cache: ScoreCache | None = None, progress: bool = False) -> Scores:
    """`Scores` of a review frame's rows, with a run's scoring settings.

    The one scoring call of the stages that score a run's reviews (training, update,
    tuning, the comment-only protocol): texts as `labels.review_texts` builds them,
    `scoring_options(settings)` for batch size, XLA and bfloat16.

    Args:
        frame: reviews with `text` (and optionally `title`), N rows.
        settings: the run's `SentimentConfig`.
        cache: optional `ScoreCache` (e.g. `run_score_cache`).

    Returns:
        `Scores` aligned with `frame`'s rows: probabilities [N, 3], embedding [N, D].
    """
    return model.score(review_texts(frame), cache=cache, progress=progress,
                       **scoring_options(settings))


def score_texts(model: SentimentModel, texts: Sequence[str], batch_size: int = 32,
                cache: ScoreCache | None = None, progress: bool = False,
                jit_compile: bool = False, bfloat16: bool = False,
                runtime: str = TENSORFLOW) -> Scores:
    """Class probabilities and embeddings for every text, rows in input order.

    Identical texts are scored once; with a `cache`, texts it already holds for this
    model's fingerprint are not scored at all.

    Args:
        model: the sentiment model.
        texts: N review strings (see `labels.review_texts`).
        batch_size: texts per forward pass.
        cache: optional `ScoreCache`.
        progress: show a tqdm bar.
        jit_compile: XLA-compile the forward pass (one compile per bucket length).
        bfloat16: compute in bfloat16 (`bfloat16_copy`; with OpenVINO, its CPU plugin's
            bfloat16; "openvino_int8" keeps the operations around its int8 matmuls in
            float32 whatever this says); cached apart from float32.
        runtime: "tensorflow", "openvino" (`openvino_runtime.openvino_forward`: the
            same graph compiled by OpenVINO; cached apart from TensorFlow's scores),
            "openvino_int8" (that graph quantised to int8: `openvino_runtime.
            quantize_int8`, calibrated on a sample of the first texts it scores in
            this process, `calibration_sample`; with a `cache`, the quantised graph
            is kept in the cache folder of its scores, `INT8_GRAPH`, and read back
            there by every later call and process; cached apart too) or "auto"
            (`openvino_runtime.resolve_runtime`).

    Raises:
        ModuleNotFoundError: runtime "openvino" without the openvino package, or
            "openvino_int8" without openvino or nncf.

    Returns:
        `Scores` with probabilities float32 [N, 3] and embedding float32 [N, D].
    """
    texts = [str(t) for t in texts]
    keys = text_keys(texts)
    unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    unique_texts = [texts[i] for i in first]
    runtime = resolve_runtime(runtime)
    check_runtime(runtime)
    openvino = runtime in (OPENVINO, OPENVINO_INT8)
    if openvino:  # the float32 graph; OpenVINO computes it in bfloat16 (in float32 on
        # CPUs without it, and around int8's matmuls: as fast, and closer to float32)
        bfloat16 = bfloat16 and native_bfloat16() and runtime == OPENVINO
    elif bfloat16:
        model = _bfloat16_model(model)
    fingerprint = model.fingerprint() if cache is not None else ""
    if runtime != TENSORFLOW:
        fingerprint += f"-{runtime}"
    if bfloat16:
        fingerprint += "-bfloat16"
    cached = cache.lookup(fingerprint, unique_keys) if cache is not None else [None] * len(first)
    todo = np.array([i for i, item in enumerate(cached) if item is None], dtype=np.int64)

    dim = model.embedding_dim
    probabilities = np.zeros((len(unique_texts), len(LABELS)), np.float32)
    embedding = np.zeros((len(unique_texts), dim), np.float32)
    for i, item in enumerate(cached):
        if item is not None:
            probabilities[i], embedding[i] = item
    if len(todo):
        predict_fn = None
        if openvino:  # int8: calibrated on this call's texts, or the cache's graph
            saved = (cache.directory / fingerprint / INT8_GRAPH
                     if cache is not None and runtime == OPENVINO_INT8 else None)
            predict_fn = openvino_function(model, bfloat16, runtime == OPENVINO_INT8,
                                           unique_texts, saved)
        fresh = predict_sorted(model, [unique_texts[i] for i in todo], batch_size,
                               progress=progress, jit_compile=jit_compile,
                               predict_fn=predict_fn)
        probabilities[todo], embedding[todo] = fresh.probabilities, fresh.embedding
        if cache is not None:
            cache.add(fingerprint, unique_keys[todo], fresh)
    return Scores(probabilities[inverse.ravel()], embedding[inverse.ravel()])


def predict_sorted(model: SentimentModel, texts: Sequence[str], batch_size: int = 32,
                   progress: bool = False, jit_compile: bool = False,
                   predict_fn=None) -> Scores:
    """Scores `texts` in length-sorted batches, each padded to its bucket length.

    Each text is tokenized once (`SentimentPreprocessor.token_ids`): its ids give its
    length, which sorts it, and are packed into its batch (`SentimentPreprocessor.pack`),
    the same features as the preprocessor's `call`.

    Args:
        predict_fn: optional features -> outputs callable (tensors or arrays; the
            bench swaps in variants, OpenVINO is one); default
            `forward_function(model, jit_compile)`.

    Returns:
        `Scores` in the order of `texts`.
    """
    if not texts:
        return Scores(np.zeros((0, len(LABELS)), np.float32),
                      np.zeros((0, model.embedding_dim), np.float32))
    dataset, order = packed_batches(model, texts, batch_size)
    predict_fn = predict_fn or forward_function(model, jit_compile)
    probs, embs = [], []
    with tqdm(total=len(texts), desc="sentiment", unit="review", disable=not progress) as bar:
        for features in dataset:
            outputs = predict_fn(features)
            probs.append(np.asarray(outputs["probabilities"]))
            embs.append(np.asarray(outputs["embedding"]))
            bar.update(len(probs[-1]))
    restore = np.empty_like(order)
    restore[order] = np.arange(len(order))
    return Scores(np.concatenate(probs)[restore], np.concatenate(embs)[restore])


def _bfloat16_model(model: SentimentModel) -> SentimentModel:
    # One copy per model, refreshed when the float32 weights change.
    fingerprint = model.fingerprint()
    cached = _BFLOAT16_COPIES.get(model)
    if cached is None or cached[0] != fingerprint:
        cached = (fingerprint, bfloat16_copy(model))
        _BFLOAT16_COPIES[model] = cached
    return cached[1]


def bfloat16_copy(model: SentimentModel) -> SentimentModel:
    """The same model computing in bfloat16 (weights stay float32): Keras `mixed_bfloat16`.

    On CPUs with AVX512_BF16, oneDNN runs the matmuls at about twice the float32
    rate; softmax and pooling stay float32. For inference only: bench/ measures the
    speed and the change in probabilities.
    """
    import keras_hub

    source = model.classifier
    backbone = type(source.backbone).from_config(
        {**source.backbone.get_config(), "dtype": "mixed_bfloat16"})
    backbone.set_weights(source.backbone.get_weights())
    classifier = keras_hub.models.BertTextClassifier(
        backbone=backbone, num_classes=len(LABELS), preprocessor=model.preprocessor,
        dropout=source.dropout, name=f"{source.name}_bfloat16",
    )
    # type(model): the SentimentModel class, reached without importing model.py.
    copy = type(model)(classifier, {**model.metadata, "compute_dtype": "bfloat16"})
    copy.output_dense.set_weights(model.output_dense.get_weights())
    return copy
