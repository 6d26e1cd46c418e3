"""Texts into the scorer's packed batches, and the scorer's traced forward pass.

The pieces of batch scoring that every runtime shares (`inference.predict_sorted` for
TensorFlow, `openvino_runtime` for OpenVINO and its int8 calibration): each text is
tokenized once (`token_ids`), sorted by its packed length, and batched and padded to
its bucket length (`packed_batches`); `forward_function` traces the scorer once per
model and XLA setting.

Example:

>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> dataset, order = packed_batches(model, ["a long review of the strings", "ok"], 2)
>>> order.tolist(), sorted(next(iter(dataset)))
([1, 0], ['padding_mask', 'segment_ids', 'token_ids'])
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.scores import FEATURE_NAMES

if TYPE_CHECKING:  # annotations only: model.py imports inference.py, which imports this
    from tfrec_sentiment.sentiment.model import SentimentModel

__all__ = ["forward_function", "packed_batches", "packed_lengths", "token_ids"]

# One traced forward function per model and XLA setting (tracing BERT takes seconds).
_FORWARD_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FEATURE_SPEC = {name: tf.TensorSpec([None, None], tf.int32) for name in FEATURE_NAMES}


def packed_batches(model: SentimentModel, texts: Sequence[str],
                   batch_size: int) -> tuple[tf.data.Dataset, np.ndarray]:
    """`texts` as the scorer reads them: tokenized once, sorted by length, in batches
    of `batch_size` packed to their bucket length (`SentimentPreprocessor.pack`).

    Returns:
        The dataset of feature dicts (int32 [B, L] each) and `order`, int64 [N]: the
        text index of each row, batches in sequence.
    """
    ids = token_ids(model, texts)
    order = np.argsort(ids.row_lengths().numpy(), kind="stable")
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.gather(ids, order))
        .batch(batch_size)
        .map(model.preprocessor.pack, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    return dataset, order


def token_ids(model: SentimentModel, texts: Sequence[str],
              batch_size: int = 1024) -> tf.RaggedTensor:
    """Each text's ids as the model's preprocessor packs them (cleaned, at most
    `sequence_length - 2`; `SentimentPreprocessor.token_ids`), ragged int32 [N, None]."""
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant(list(texts)))
        .batch(batch_size)
        .map(model.preprocessor.token_ids, num_parallel_calls=tf.data.AUTOTUNE)
    )
    return tf.concat(list(dataset), axis=0)


def packed_lengths(model: SentimentModel, texts: Sequence[str],
                   batch_size: int = 1024) -> np.ndarray:
    """Packed token length of each text ([CLS]/[SEP] included, capped), int32 [N]."""
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant(list(texts)))
        .batch(batch_size)
        .map(model.preprocessor.packed_lengths, num_parallel_calls=tf.data.AUTOTUNE)
    )
    return np.concatenate([batch.numpy() for batch in dataset]).astype(np.int32)


def forward_function(model: SentimentModel, jit_compile: bool = False):
    """A traced features -> {"probabilities", "embedding"} function of `model.scorer`.

    Shapes are [None, None], so one trace serves every bucket length; with XLA each
    distinct length compiles once, which the bucket lengths keep to a handful.
    """
    scorer = model.scorer
    functions = _FORWARD_FUNCTIONS.setdefault(scorer, {})
    if jit_compile in functions:
        return functions[jit_compile]

    @tf.function(input_signature=[_FEATURE_SPEC], jit_compile=jit_compile)
    def forward(features):
        return scorer(features, training=False)

    functions[jit_compile] = forward
    return forward
