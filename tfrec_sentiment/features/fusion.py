"""`SentimentFusion`: one vector from the sentiment, rating and helpful-vote groups.

Each present group is standardised with statistics fitted on the training split
(they are part of the layer's config, so they travel with the model), the groups
are concatenated and projected by one dense layer. Which groups exist is a config
choice, so the same layer serves every ablation variant ("rating" + "helpful"
without sentiment, or all three).

Example:

>>> fusion = SentimentFusion(units=8, groups=("rating", "sentiment"))
>>> out = fusion({"rating": tf.ones([2, 3]), "sentiment": tf.zeros([2, 7])})
>>> tuple(out.shape)
(2, 8)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import tensorflow as tf


def copy_statistics(statistics: Mapping[str, Mapping[str, Sequence[float]]] | None,
                    groups: Collection[str]) -> dict[str, dict[str, list[float]]] | None:
    """The standardisation statistics of `groups` only, as plain float lists (for configs).

    Args:
        statistics: group -> {"mean": [dim], "variance": [dim]} (lists, arrays or
            tensors); None = no standardisation.
        groups: the groups a layer reads; the others are dropped.

    Returns:
        None when `statistics` is None, else a new dict (JSON-ready, safe to keep in
        `get_config`).

    Example:
        >>> copy_statistics({"rating": {"mean": [1], "variance": [4]}, "x": {}}, {"rating"})
        {'rating': {'mean': [1.0], 'variance': [4.0]}}
    """
    if statistics is None:
        return None
    return {g: {"mean": list(map(float, s["mean"])), "variance": list(map(float, s["variance"]))}
            for g, s in statistics.items() if g in groups}


def standardize(values: tf.Tensor, statistics: Mapping[str, Sequence[float]] | None) -> tf.Tensor:
    """(values - mean) / sqrt(variance) with fixed statistics; identity when None."""
    if statistics is None:
        return values
    mean = tf.constant(statistics["mean"], tf.float32)
    scale = tf.math.rsqrt(tf.constant(statistics["variance"], tf.float32))
    return (tf.cast(values, tf.float32) - mean) * scale


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class SentimentFusion(tf.keras.layers.Layer):
    """Fuses feature groups into one dense vector.

    Args:
        units: width of the fused vector.
        groups: the groups to read from the input dict, in order; any non-empty
            subset of ("sentiment", "rating", "helpful") or other group names.
        statistics: optional group -> {"mean": [dim], "variance": [dim]} used to
            standardise each group (fitted on the training split).
        activation: activation of the projection.
        dropout: dropout rate on the standardised, concatenated groups.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: dict group -> float [B, dim_group] (extra keys are ignored) ->
    float32 [B, units].
    """

    def __init__(
        self,
        units: int = 16,
        groups: Sequence[str] = ("sentiment", "rating", "helpful"),
        statistics: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
        activation: str | None = "relu",
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not groups:
            raise ValueError("SentimentFusion needs at least one feature group")
        self.units = int(units)
        self.groups = list(groups)
        self.statistics = copy_statistics(statistics, self.groups)
        self.activation = activation
        self.dropout = float(dropout)

    def build(self, input_shape: Mapping[str, tf.TensorShape]) -> None:
        self.dropout_layer = tf.keras.layers.Dropout(self.dropout)
        self.projection = tf.keras.layers.Dense(
            self.units, activation=self.activation, name="projection"
        )
        width = sum(int(tf.TensorShape(input_shape[g])[-1]) for g in self.groups)
        self.projection.build(tf.TensorShape([None, width]))
        super().build(input_shape)

    def call(self, inputs: Mapping[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        missing = [g for g in self.groups if g not in inputs]
        if missing:
            raise KeyError(f"SentimentFusion: input lacks group(s) {missing}; has {sorted(inputs)}")
        parts = [
            standardize(inputs[g], (self.statistics or {}).get(g)) for g in self.groups
        ]
        fused = tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]
        return self.projection(self.dropout_layer(fused, training=training))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            units=self.units, groups=self.groups, statistics=self.statistics,
            activation=self.activation, dropout=self.dropout,
        )
        return config
