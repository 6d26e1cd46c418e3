"""`RatingHead`: DCN cross layers + MLP from one interaction vector to a score.

The recommender feeds it the concatenation of both towers' embeddings, their
element-wise product and both towers' fused features; the head predicts the rating
residual over the bias baseline (global mean + user bias + item bias).

Example:

>>> head = RatingHead(hidden_units=(8,), cross_layers=1)
>>> tuple(head(tf.ones([4, 6])).shape)
(4,)
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class RatingHead(tf.keras.layers.Layer):
    """Cross network then MLP, one scalar per example.

    Args:
        hidden_units: widths of the MLP's hidden layers (may be empty).
        cross_layers: number of stacked `tfrs.layers.dcn.Cross` layers (may be 0).
        projection_dim: low-rank size of each Cross kernel (None = full rank).
        activation: MLP activation.
        dropout: dropout after each hidden layer.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: float [B, d] -> float32 [B].
    """

    def __init__(
        self,
        hidden_units: Sequence[int] = (32,),
        cross_layers: int = 1,
        projection_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_units = [int(u) for u in hidden_units]
        self.cross_layers = int(cross_layers)
        self.projection_dim = projection_dim
        self.activation = activation
        self.dropout = float(dropout)

    def build(self, input_shape: tf.TensorShape) -> None:
        width = int(tf.TensorShape(input_shape)[-1])
        self.crosses = [
            tfrs.layers.dcn.Cross(projection_dim=self.projection_dim, name=f"cross_{i}")
            for i in range(self.cross_layers)
        ]
        for cross in self.crosses:
            cross.build(tf.TensorShape([None, width]))
        self.hidden = []
        for i, units in enumerate(self.hidden_units):
            dense = tf.keras.layers.Dense(units, activation=self.activation, name=f"hidden_{i}")
            dense.build(tf.TensorShape([None, width]))
            self.hidden.append(dense)
            width = units
        self.dropout_layer = tf.keras.layers.Dropout(self.dropout)
        # Zero-initialised: an untrained head adds nothing to the bias baseline.
        self.output_layer = tf.keras.layers.Dense(1, kernel_initializer="zeros", name="output")
        self.output_layer.build(tf.TensorShape([None, width]))
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x0 = tf.cast(inputs, tf.float32)
        x = x0
        for cross in self.crosses:
            x = cross(x0, x)
        for dense in self.hidden:
            x = self.dropout_layer(dense(x), training=training)
        return tf.squeeze(self.output_layer(x), -1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units, cross_layers=self.cross_layers,
            projection_dim=self.projection_dim, activation=self.activation,
            dropout=self.dropout,
        )
        return config
