"""The item-to-item block of the retrieval embeddings: `SimilarityProfile`, `CatalogueOneHot`.

The user tower appends w * profile (`SimilarityProfile`: the user's item-kNN profile
over the catalogue, `features/similarity.py`, times a trainable scalar w), the item
tower the one-hot of the item's catalogue position (`CatalogueOneHot`). Their dot
product is w * profile[item]: a learned-weight item-to-item score inside the
retrieval score, the counterpart of item-kNN. Above `FeatureConfig.similarity_max_items`
the block is projected on r eigenvectors Q of the similarity: the user's profile
@ Q [r] through the same `SimilarityProfile`, and the item's basis row Q[i], an input
the item tower fits to width r (`fit_width`) instead of forming the one-hot.

Example:

>>> user = SimilarityProfile(size=3, initial_weight=2.0)
>>> item = CatalogueOneHot(size=3, num_oov_buckets=1)
>>> u = user(tf.constant([[0.1, 0.5, 0.0]]))
>>> i = item(tf.constant([2, 0], tf.int64))  # catalogue item 1; an unknown item
>>> (u @ tf.transpose(i)).numpy().round(3).tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

import tensorflow as tf


def fit_width(profile: tf.Tensor, size: int) -> tf.Tensor:
    """float [B, W] -> float32 [B, size]: the first `size` columns, zeros after the last."""
    profile = tf.cast(profile, tf.float32)[:, :size]
    return tf.pad(profile, [[0, 0], [0, size - tf.shape(profile)[1]]])


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class SimilarityProfile(tf.keras.layers.Layer):
    """The user side: a trainable scalar times the similarity profile, cut or padded.

    Args:
        size: I, the catalogue size the tower was built for.
        initial_weight: the initial value of the trainable scalar w.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: float [B, I'] -> float32 [B, size]: w * profile. Tables grown after
    training append new items at the end, so a wider profile is cut to the first
    `size` columns (and a narrower one padded with zeros). Computes in float32
    whatever the layer's policy.
    """

    def __init__(self, size: int, initial_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = int(size)
        self.initial_weight = float(initial_weight)

    def build(self, input_shape: tf.TensorShape) -> None:
        self.weight = self.add_weight(
            name="similarity_weight", shape=(), trainable=True, dtype=tf.float32,
            initializer=tf.keras.initializers.Constant(self.initial_weight),
            experimental_autocast=False)  # read as float32 under a mixed policy too
        super().build(input_shape)

    def call(self, profile: tf.Tensor) -> tf.Tensor:
        return self.weight * fit_width(profile, self.size)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(size=self.size, initial_weight=self.initial_weight)
        return config


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class CatalogueOneHot(tf.keras.layers.Layer):
    """The item side: the one-hot of the item's catalogue position.

    Args:
        size: I, the catalogue size (the item tower's vocabulary size).
        num_oov_buckets: the OOV rows before the catalogue in the id index.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: int64 id rows [B] (`IdEmbedding`'s "index": OOV rows first) -> float32
    [B, size]; all zeros for an OOV row (an unknown item has no similarity).
    """

    def __init__(self, size: int, num_oov_buckets: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = int(size)
        self.num_oov_buckets = int(num_oov_buckets)

    def call(self, index: tf.Tensor) -> tf.Tensor:
        index = tf.cast(index, tf.int64)
        position = tf.where(index >= self.num_oov_buckets, index - self.num_oov_buckets, -1)
        return tf.one_hot(position, self.size, dtype=tf.float32)  # -1 -> all zeros

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(size=self.size, num_oov_buckets=self.num_oov_buckets)
        return config
