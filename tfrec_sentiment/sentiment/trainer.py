"""The Keras model that fine-tuning fits: token features -> logits, on a classifier's weights.

keras-hub's `BertTextClassifier.fit` runs the backbone as keras-hub builds it (each
attention projection an `EinsumDense` on [B, L, H]). `build_trainer` computes the same
logits, with dropout at the same places, through `BertInferenceEncoder` (2-D matmuls on
the flattened rows, `encoder.py`), followed by the classifier's own dropout and head.
Every variable is the classifier's, so fitting the trainer trains the classifier, which
is what is saved, scored and exported. `training.train_classifier` fits it on batches
that `preprocessed` runs through the classifier's `SentimentPreprocessor` in `tf.data`.

Two options trade regularisation or capacity for speed, both on by default since stop
23 (`SentimentConfig`; with them fine-tuning ran at 2.12x keras-hub's `fit` per
CPU-second, against 1.68x without, at the same validation macro-F1 over three seeds:
bench/sentiment_speed.py and the README, "Sentiment"):

- `attention_dropout`: the dropout rate on the attention probabilities [B, N, L, L],
  the one dropout that grows with L² (the config's default 0; None, `build_trainer`'s
  default, keeps the backbone's rate, its `dropout`).
- `train_token_embeddings=False`: the word-piece embedding table keeps its pre-trained
  values (for MiniLM-L6, 11.7M of its 22.7M weights): no gradient is formed for it and
  AdamW keeps no moments for it nor updates it. Lee et al. ("What Would Elsa Do?
  Freezing Layers During Transformer Fine-Tuning", 2019) report that BERT keeps its
  GLUE quality with the embeddings and early layers frozen.

Example:

>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> trainer = build_trainer(model.classifier)
>>> features = model.preprocessor(tf.constant(["great strings", "it broke"]))
>>> tuple(trainer(features).shape)
(2, 3)
>>> trained = len(trainer.trainable_weights)
>>> with frozen_token_embeddings(model.classifier, True):
...     len(trainer.trainable_weights) == trained - 1
True
>>> len(trainer.trainable_weights) == trained
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import keras_hub
import tensorflow as tf

from tfrec_sentiment.sentiment.encoder import BertInferenceEncoder
from tfrec_sentiment.sentiment.preprocessor import SentimentPreprocessor
from tfrec_sentiment.sentiment.scorer import classification_head
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES

__all__ = ["build_trainer", "frozen_token_embeddings", "preprocessed"]


def build_trainer(classifier: keras_hub.models.BertTextClassifier,
                  attention_dropout: float | None = None) -> keras.Model:
    """Token features (int32 [B, L] each) -> logits [B, 3] in the classifier's compute
    dtype, through `BertInferenceEncoder(classifier.backbone, attention_dropout)`, the
    classifier's dropout and its head; every weight is the classifier's (shared).
    `attention_dropout=None` keeps the backbone's rate (`training.train_classifier`
    passes `SentimentConfig.attention_dropout`, 0 by default).

    Raises:
        TypeError / ValueError: as `BertInferenceEncoder` (not a post-norm BERT
            backbone, a rate outside [0, 1)).
    """
    # === Layers ===
    encoder = BertInferenceEncoder(classifier.backbone, attention_dropout=attention_dropout,
                                   name="encoder")

    # === Functional Model ===
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES
    }
    pooled = encoder(inputs)["pooled_output"]
    logits = classification_head(classifier)(classifier.output_dropout(pooled))
    return keras.Model(inputs, logits, name="sentiment_trainer")


def preprocessed(dataset: tf.data.Dataset,
                 preprocessor: SentimentPreprocessor) -> tf.data.Dataset:
    """Batches `(texts [B], ...)` -> `(features, ...)` packed by `preprocessor` (what
    keras-hub's `Task.fit` does with a classifier's preprocessor), prefetched."""
    return dataset.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


@contextlib.contextmanager
def frozen_token_embeddings(classifier: keras_hub.models.BertTextClassifier,
                            frozen: bool) -> Iterator[None]:
    """Within the block the word-piece embedding table is not trainable (when `frozen`);
    restored after it, so the saved classifier's config is unchanged. Compile and
    build the optimizer inside the block."""
    layer = classifier.backbone.token_embedding
    before = layer.trainable
    layer.trainable = before and not frozen
    try:
        yield
    finally:
        layer.trainable = before
