"""The defined answer for a text with nothing to read (empty or whitespace-only).

A text is *empty* when, after the preprocessor's cleaning and emoji mapping, WordPiece
finds no token in it: `""`, `"   "`, or only characters the cleaning drops. BERT would
still score such a text (`[CLS] [SEP]` alone) and give it a confident-looking class
that means nothing. Instead, every scorer of the package answers:

| output          | empty text                                    | any other text          |
|-----------------|-----------------------------------------------|-------------------------|
| `probabilities` | the class prior (see below), float32 [3]      | the classifier's softmax|
| `embedding`     | zeros [D]                                     | unit L2 norm [D]        |
| `label`         | `"none"` (`NO_TEXT_LABEL`)                    | the arg-max class name  |

The prior is the label distribution of the fine-tuning training set (share of
negative, neutral, positive rows), set by `training.train_classifier` and saved with
the model (`sentiment.json`, key `class_prior`), and baked into the exported
SavedModel as a variable. A model without one (a fresh or older model) uses the
uniform prior [1/3, 1/3, 1/3].

One implementation: `EmptyTextAnswer` is the last layer of the scorer
(`scorer.build_scorer`), so the exported `sentiment` signature, `recommend_from_reviews`
and batch scoring (`inference.score_texts`) give the same numbers; `Scores.labels`
reads "none" where the embedding is all zeros.

Example:

>>> prior_from_labels([2, 2, 0, 1]).tolist()
[0.25, 0.25, 0.5]
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.labels import LABELS
from tfrec_sentiment.sentiment.preprocessor import PACKAGE

NO_TEXT_LABEL = "none"
# [CLS] and [SEP]: a packed row with no more real tokens holds no text.
SPECIAL_TOKENS = 2


def uniform_prior(num_classes: int = len(LABELS)) -> np.ndarray:
    """[1/k] * k, float64: the prior of a model that has none."""
    return np.full(num_classes, 1.0 / num_classes)


def prior_from_labels(labels: Sequence[int] | np.ndarray,
                      num_classes: int = len(LABELS)) -> np.ndarray:
    """Share of each class id in `labels` [N], float64 [num_classes]; uniform if N = 0."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    if counts.sum() == 0:
        return uniform_prior(num_classes)
    return counts[:num_classes] / counts.sum()


def check_prior(prior: Sequence[float] | np.ndarray,
                num_classes: int = len(LABELS)) -> np.ndarray:
    """The prior as float64 [num_classes], rescaled to sum to 1.

    Raises:
        ValueError: wrong length, a negative or non-finite value, or all zeros.
    """
    values = np.asarray(prior, dtype=np.float64).reshape(-1)
    if (len(values) != num_classes or not np.all(np.isfinite(values))
            or np.any(values < 0) or values.sum() <= 0):
        raise ValueError(f"class prior must be {num_classes} non-negative shares with a "
                         f"positive sum (order {LABELS}), got {list(values)}")
    return values / values.sum()


@keras.saving.register_keras_serializable(package=PACKAGE)
class EmptyTextAnswer(keras.layers.Layer):
    """Replaces the outputs of empty texts by the prior and a zero embedding.

    Args:
        prior: class shares [num_classes], LABELS order (`check_prior`); stored as a
            non-trainable float32 weight `prior`, so a SavedModel carries it.

    Call arguments:
        probabilities: float32 [B, C] softmax outputs.
        embedding: float32 [B, D].
        padding_mask: int [B, L], 1 at real tokens ([CLS] and [SEP] included).

    Returns:
        dict `probabilities` float32 [B, C], `embedding` float32 [B, D] and `empty`
        bool [B] (True where the text has no token).
    """

    def __init__(self, prior: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.prior_values = [float(p) for p in check_prior(prior, len(prior))]
        self.prior = None

    def build(self, input_shape=None) -> None:
        self.prior = self.add_weight(
            shape=(len(self.prior_values),), name="prior", trainable=False,
            initializer=keras.initializers.Constant(self.prior_values), dtype="float32")
        self.built = True

    def call(self, probabilities, embedding, padding_mask):
        tokens = tf.reduce_sum(tf.cast(padding_mask, tf.int32), axis=1)
        empty = tokens <= SPECIAL_TOKENS
        rows = tf.shape(probabilities)[0]
        prior = tf.broadcast_to(tf.cast(self.prior, probabilities.dtype)[None, :],
                                tf.shape(probabilities))
        return {
            "probabilities": tf.where(empty[:, None], prior, probabilities),
            "embedding": tf.where(empty[:, None], tf.zeros_like(embedding), embedding),
            "empty": tf.reshape(empty, [rows]),
        }

    def set_prior(self, prior: Sequence[float]) -> None:
        """Replaces the prior (e.g. after fine-tuning on a new training set)."""
        values = check_prior(prior, len(self.prior_values))
        self.prior_values = [float(p) for p in values]
        if self.prior is not None:
            self.prior.assign(np.asarray(values, np.float32))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"prior": list(self.prior_values)})
        return config
