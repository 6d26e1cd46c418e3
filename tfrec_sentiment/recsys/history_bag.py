"""`HistoryBag`: a user's reviewed items as a bag of item embeddings, plain and signed.

The user tower reads the items of the user's latest reviews ("history", item index + 1,
0 = padding) and, per signal (e.g. "rating", "sentiment"), how much the user liked each
("history_{signal}"). The bag is the mean of the items' vectors, and per signal the
mean of the vectors weighted by that signal: order-free, and a disliked item pulls the
signed means the other way.

Example:

>>> bag = HistoryBag(history_size=4, history_dim=2, history_signals=("rating",))
>>> out = bag({"history": tf.constant([[1, 3, 0]]),
...            "history_rating": tf.constant([[1.0, -1.0, 0.0]])})
>>> tuple(out.shape)
(1, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class HistoryBag(tf.keras.layers.Layer):
    """Mean embedding of the history items, then one signed mean per signal.

    Args:
        history_size: rows of the item table: number of items + 1 (row 0 = padding
            or an item unknown to the table).
        history_dim: width of the item embedding.
        history_signals: signal names; each reads "history_{signal}" float [B, L].
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: dict "history" int [B, L] (item index + 1; 0 and indices >= history_size
    are ignored) and "history_{signal}" float [B, L] -> float32
    [B, history_dim * (1 + len(history_signals))]: the mean, then the signed means
    in `history_signals` order (zeros for an empty history). Computes in float32
    whatever the layer's policy.
    """

    def __init__(self, history_size: int, history_dim: int = 16,
                 history_signals: Sequence[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.history_size = int(history_size)
        self.history_dim = int(history_dim)
        self.history_signals = list(history_signals)
        self.embedding = tf.keras.layers.Embedding(
            self.history_size, self.history_dim, name="embedding",
            embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05))

    @property
    def width(self) -> int:
        """Width of the output: history_dim * (1 + number of signals)."""
        return self.history_dim * (1 + len(self.history_signals))

    def call(self, inputs: Mapping[str, tf.Tensor]) -> tf.Tensor:
        index = tf.cast(inputs["history"], tf.int64)
        index = tf.where((index > 0) & (index < self.history_size), index, 0)
        present = tf.cast(index > 0, tf.float32)[..., None]
        vectors = self.embedding(index) * present
        count = tf.maximum(tf.reduce_sum(present, axis=1), 1.0)
        means = [tf.reduce_sum(vectors, axis=1) / count]
        for signal in self.history_signals:
            weight = tf.cast(inputs[f"history_{signal}"], tf.float32)[..., None]
            means.append(tf.reduce_sum(vectors * weight, axis=1) / count)
        return tf.concat(means, axis=-1) if len(means) > 1 else means[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(history_size=self.history_size, history_dim=self.history_dim,
                      history_signals=self.history_signals)
        return config
