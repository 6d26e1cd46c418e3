"""Masked mean pooling: one review embedding from BERT's per-token outputs.

Why mean and not [CLS]: all-MiniLM-L6-v2 was trained as a sentence encoder with
mean pooling over real tokens followed by L2 normalisation (its `1_Pooling` and
`2_Normalize` modules), so that is the pooling under which its embeddings mean
something; its [CLS] pooler dense layer was never trained for similarity. The
classifier head keeps keras-hub's pooled [CLS] output, which fine-tuning adapts.

Example:

>>> pool = MaskedMeanPooling()
>>> sequence = keras.ops.ones((2, 4, 3))
>>> mask = keras.ops.convert_to_tensor([[1, 1, 0, 0], [1, 1, 1, 1]], "int32")
>>> tuple(pool(sequence, mask).shape)
(2, 3)
"""

from __future__ import annotations

import keras
from keras import ops

from tfrec_sentiment.sentiment.preprocessor import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of the vectors at real (unpadded) positions, optionally L2-normalised.

    Args:
        normalize: divide each pooled vector by its L2 norm (as sentence-transformers
            does for all-MiniLM-L6-v2), so cosine similarity is a dot product.
        epsilon: guards the divisions of an all-padding row or a zero vector.

    Call arguments:
        sequence: float [B, L, D] per-token outputs.
        padding_mask: int or bool [B, L], 1 at real tokens.

    Returns:
        float32 [B, D]; computed in float32 whatever the input dtype (bfloat16
        sums over 128 tokens lose too many digits).
    """

    def __init__(self, normalize: bool = True, epsilon: float = 1e-9, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize
        self.epsilon = epsilon

    def call(self, sequence, padding_mask):
        sequence = ops.cast(sequence, "float32")
        weights = ops.expand_dims(ops.cast(padding_mask, "float32"), -1)
        summed = ops.sum(sequence * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), self.epsilon)
        pooled = summed / count
        if self.normalize:
            norm = ops.sqrt(ops.sum(ops.square(pooled), axis=-1, keepdims=True))
            pooled = pooled / ops.maximum(norm, self.epsilon)
        return pooled

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"normalize": self.normalize, "epsilon": self.epsilon})
        return config
