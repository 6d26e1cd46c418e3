"""`ProfilePath`: one side's profile features and text as one vector.

The fused feature groups (`SentimentFusion`: standardised, concatenated, projected with
a ReLU) and, with `use_text`, the mean text embedding of the side's reviews,
standardised and projected linearly (a ReLU on a few units can die and silence the
text entirely). The towers add this vector to their embedding, their bias and the
features the ranking head reads.

Example:

>>> path = ProfilePath(feature_groups=("rating",), use_text=True, fusion_units=3,
...                    text_units=2)
>>> out = path({"rating": tf.ones([2, 4]), "text": tf.ones([2, 5])})
>>> tuple(out.shape), path.width
((2, 5), 5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from tfrec_sentiment.features.fusion import SentimentFusion, copy_statistics, standardize


def profile_statistics(statistics: Mapping[str, Mapping[str, Sequence[float]]] | None,
                       feature_groups: Sequence[str], use_text: bool) -> dict | None:
    """The statistics a profile reads: its groups' (and the text's), as config lists."""
    return copy_statistics(statistics, set(feature_groups) | ({"text"} if use_text else set()))


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class ProfilePath(tf.keras.layers.Layer):
    """Fused feature groups, then the projected text embedding, concatenated.

    Args:
        feature_groups: groups to fuse, e.g. ("rating", "helpful", "sentiment"), in
            order; any group name the inputs carry.
        use_text: also read "text" float [B, D].
        fusion_units: width of the fused groups.
        text_units: width of the text projection.
        statistics: group (and "text") -> {"mean", "variance"} standardisation,
            fitted on the training split; only the groups read are kept.
        dropout: dropout on the fused groups' and the text's inputs (training only).
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: dict group -> float [B, dim_group] (and "text" float [B, D]) -> float32
    [B, width]: fusion_units columns if there are groups, then text_units with
    `use_text`. Computes in float32 whatever the layer's policy.

    Raises:
        ValueError: no feature group and no text (an empty profile).
    """

    def __init__(self, feature_groups: Sequence[str] = (), use_text: bool = False,
                 fusion_units: int = 16, text_units: int = 8,
                 statistics: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
                 dropout: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not feature_groups and not use_text:
            raise ValueError("ProfilePath needs feature groups or use_text")
        self.feature_groups = list(feature_groups)
        self.use_text = bool(use_text)
        self.fusion_units = int(fusion_units)
        self.text_units = int(text_units)
        self.statistics = profile_statistics(statistics, self.feature_groups, self.use_text)
        self.dropout = float(dropout)
        self.fusion = self.text_projection = self.text_dropout = None
        if self.feature_groups:
            self.fusion = SentimentFusion(units=self.fusion_units, groups=self.feature_groups,
                                          statistics=self.statistics, dropout=self.dropout,
                                          name="fusion")
        if self.use_text:
            self.text_projection = tf.keras.layers.Dense(self.text_units, name="text_projection")
            self.text_dropout = tf.keras.layers.Dropout(self.dropout)

    @property
    def width(self) -> int:
        """Width of the output."""
        return self.fusion_units * bool(self.feature_groups) + self.text_units * self.use_text

    def call(self, inputs: Mapping[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        parts = []
        if self.fusion is not None:
            parts.append(self.fusion({g: inputs[g] for g in self.feature_groups},
                                     training=training))
        if self.text_projection is not None:
            text = standardize(inputs["text"], (self.statistics or {}).get("text"))
            parts.append(self.text_projection(self.text_dropout(text, training=training)))
        return tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(feature_groups=self.feature_groups, use_text=self.use_text,
                      fusion_units=self.fusion_units, text_units=self.text_units,
                      statistics=self.statistics, dropout=self.dropout)
        return config
