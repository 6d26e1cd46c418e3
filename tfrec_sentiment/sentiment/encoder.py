"""The BERT backbone's pass with fewer, larger ops: what the scorer runs and fine-tuning fits.

keras-hub's `BertBackbone` computes each attention projection as an `EinsumDense` on
[B, L, H] tensors and moves heads with five transposes per layer; TensorFlow runs
those einsums through reshapes and batched matmuls. At inference, with one short
review per request, such per-op costs are most of the time: on this project's 2-core
CPU, a call of the 1-layer student spent about 6 of its 9 CPU-ms in its one
transformer layer (bench/serving_speed.py, issue 15).

`BertInferenceEncoder` computes the same function from the same variables with the
tokens flattened to rows [B * L, H]: each projection is one `MatMul` with its kernel
reshaped to 2-D (a free view of the variable), heads move with four transposes, the
padding mask becomes one additive bias shared by every layer, and the layer norms,
feed-forward layers, embeddings and pooler are the backbone's own Keras layers, called
on the flattened rows. Dropout is the identity at inference. Outputs
equal the backbone's to float32 rounding (about 1e-7; the tests compare them), in
every graph that runs the scorer: batch scoring and the exported `sentiment` and
`recommend_from_reviews` signatures. Only core TensorFlow ops, so the export's op
audit (`export/ops.py`) passes as before.

With `training=True` the same flattened pass adds the backbone's dropout layers where
keras-hub's backbone has them (after the embeddings' layer norm, on the attention
probabilities, after the attention output and after the feed-forward output), so
fine-tuning (`trainer.py`) and the student's distillation (`student.py`) train through
it too: on this CPU a bfloat16 training step of MiniLM-L6 took 0.94x the backbone's CPU
time at 16 x 128 and 0.92-0.95x at 16 x 64 (bench/sentiment_speed.py measures the whole
fit: about +4%). `attention_dropout` sets the rate on the attention probabilities
(default: the backbone's own rate).

It reads private attributes of keras-hub's `TransformerEncoder` and Keras's
`MultiHeadAttention` (both pinned in setup.cfg); the constructor checks they are there
and that the layers are post-norm BERT layers, and fails naming what is missing.

Example:

>>> import keras_hub
>>> backbone = keras_hub.models.BertBackbone(vocabulary_size=10, num_layers=1,
...     num_heads=2, hidden_dim=4, intermediate_dim=8, max_sequence_length=8)
>>> features = {"token_ids": tf.constant([[2, 5, 3, 0]]),
...             "padding_mask": tf.constant([[1, 1, 1, 0]]),
...             "segment_ids": tf.zeros([1, 4], tf.int32)}
>>> outputs = BertInferenceEncoder(backbone)(features)
>>> expected = backbone(features)["sequence_output"]
>>> bool(tf.reduce_max(tf.abs(outputs["sequence_output"] - expected)) < 1e-5)
True
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfrec_sentiment.sentiment.preprocessor import PACKAGE

# Added to the attention scores of padded keys: Keras's masked softmax uses the same
# number (`keras.layers.Softmax`, `_large_negative_number`, float32 and bfloat16).
MASKED_SCORE = -1e9
_ATTENTION_PARTS = ("_query_dense", "_key_dense", "_value_dense", "_output_dense",
                    "_num_heads", "_key_dim", "_inverse_sqrt_key_dim", "_dropout_layer")
_LAYER_PARTS = ("_self_attention_layer", "_self_attention_layer_norm",
                "_feedforward_intermediate_dense", "_feedforward_output_dense",
                "_feedforward_layer_norm", "_self_attention_dropout",
                "_feedforward_dropout")
_BACKBONE_PARTS = ("token_embedding", "position_embedding", "segment_embedding",
                   "embeddings_add", "embeddings_layer_norm", "embeddings_dropout",
                   "transformer_layers", "pooled_dense")


@keras.saving.register_keras_serializable(package=PACKAGE)
class BertInferenceEncoder(keras.layers.Layer):
    """A keras-hub BERT backbone's forward pass as 2-D matmuls (inference and training).

    Args:
        backbone: a `keras_hub.models.BertBackbone` (post-norm transformer layers).
            Its variables are used as they are (shared, not copied).
        attention_dropout: dropout rate on the attention probabilities when training,
            in [0, 1); None (default) = the backbone's own (its `dropout`).

    Call arguments:
        inputs: dict `token_ids`, `padding_mask` (1 = real token), `segment_ids`,
            int [B, L].
        training: True applies the backbone's dropout layers (and
            `attention_dropout`); otherwise dropout is the identity.

    Returns:
        dict `sequence_output` [B, L, H] and `pooled_output` [B, H], in the backbone's
        compute dtype: the backbone's outputs to float rounding.

    Raises:
        TypeError: `backbone` lacks a BERT backbone's layers.
        ValueError: a transformer layer normalises first (pre-norm), which this pass
            does not compute.
    """

    def __init__(self, backbone: keras.Model, attention_dropout: float | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        _check_backbone(backbone)
        if attention_dropout is not None and not 0.0 <= attention_dropout < 1.0:
            raise ValueError(f"attention_dropout must be in [0, 1), got {attention_dropout}")
        self.backbone = backbone
        self.attention_dropout = attention_dropout

    def build(self, input_shape=None) -> None:
        # The backbone's layers are built with the backbone; a rate of our own gets a
        # Dropout in the backbone's dtype policy (a float32 one would cast bfloat16).
        self._attention_dropout_layer = (
            None if self.attention_dropout is None
            else keras.layers.Dropout(self.attention_dropout,
                                      dtype=self.backbone.dtype_policy,
                                      name="attention_dropout"))
        self.built = True

    def call(self, inputs, training=None):
        backbone = self.backbone
        token_ids = inputs["token_ids"]
        rows, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
        tokens = backbone.token_embedding(token_ids)
        x = backbone.embeddings_add((tokens, backbone.position_embedding(tokens),
                                     backbone.segment_embedding(inputs["segment_ids"])))
        x = backbone.embeddings_dropout(backbone.embeddings_layer_norm(x), training=training)
        hidden = x.shape[-1]
        x = tf.reshape(x, [-1, hidden])  # [B * L, H]: every token a row
        bias = tf.where(tf.cast(inputs["padding_mask"], tf.bool), 0.0, MASKED_SCORE)
        bias = tf.cast(bias, x.dtype)[:, None, None, :]  # [B, 1, 1, L] over the keys
        for layer in backbone.transformer_layers:
            attention_dropout = (self._attention_dropout_layer
                                 or layer._self_attention_layer._dropout_layer)
            x = _transformer_layer(layer, x, rows, length, bias, attention_dropout,
                                   training)
        sequence = tf.reshape(x, [rows, length, hidden])
        return {"sequence_output": sequence,
                "pooled_output": backbone.pooled_dense(sequence[:, 0, :])}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"backbone": keras.saving.serialize_keras_object(self.backbone),
                       "attention_dropout": self.attention_dropout})
        return config

    @classmethod
    def from_config(cls, config: dict) -> BertInferenceEncoder:
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _transformer_layer(layer, x: tf.Tensor, rows: tf.Tensor, length: tf.Tensor,
                       bias: tf.Tensor, attention_dropout: keras.layers.Layer,
                       training) -> tf.Tensor:
    """One post-norm `TransformerEncoder` on rows x [B * L, H] -> [B * L, H]; dropout
    where keras-hub's layer has it, when `training`."""
    attention = layer._self_attention_layer
    heads, size = attention._num_heads, attention._key_dim
    hidden = x.shape[-1]

    def project(dense, scale=None):  # EinsumDense "abc,cde->abde" as [B*L, H] x [H, N*d]
        kernel = tf.cast(tf.reshape(dense.kernel, [hidden, heads * size]), x.dtype)
        y = tf.matmul(x, kernel) + tf.cast(tf.reshape(dense.bias, [heads * size]), x.dtype)
        if scale is not None:  # Keras scales the projected query, before the scores
            y = y * tf.cast(scale, x.dtype)
        return tf.reshape(y, [rows, length, heads, size])

    query = tf.transpose(project(attention._query_dense, attention._inverse_sqrt_key_dim),
                         [0, 2, 1, 3])  # [B, N, L, d]
    key = tf.transpose(project(attention._key_dense), [0, 2, 3, 1])  # [B, N, d, L]
    value = tf.transpose(project(attention._value_dense), [0, 2, 1, 3])  # [B, N, L, d]
    weights = attention_dropout(tf.nn.softmax(tf.matmul(query, key) + bias),  # [B, N, L, L]
                                training=training)
    context = tf.reshape(tf.transpose(tf.matmul(weights, value), [0, 2, 1, 3]),
                         [-1, heads * size])
    output = attention._output_dense
    kernel = tf.cast(tf.reshape(output.kernel, [heads * size, hidden]), x.dtype)
    attended = tf.matmul(context, kernel) + tf.cast(output.bias, x.dtype)
    attended = layer._self_attention_dropout(attended, training=training)
    x = layer._self_attention_layer_norm(x + attended)
    feedforward = layer._feedforward_output_dense(layer._feedforward_intermediate_dense(x))
    feedforward = layer._feedforward_dropout(feedforward, training=training)
    return layer._feedforward_layer_norm(x + feedforward)


def _check_backbone(backbone) -> None:
    missing = [name for name in _BACKBONE_PARTS if not hasattr(backbone, name)]
    if missing:
        raise TypeError(f"{type(backbone).__name__} is not a BERT backbone: no "
                        f"{', '.join(missing)} (expected keras_hub.models.BertBackbone)")
    for layer in backbone.transformer_layers:
        parts = [name for name in _LAYER_PARTS if not hasattr(layer, name)]
        attention = getattr(layer, "_self_attention_layer", None)
        parts += [f"_self_attention_layer.{name}" for name in _ATTENTION_PARTS
                  if attention is not None and not hasattr(attention, name)]
        if parts:
            raise TypeError(f"{layer.name}: no {', '.join(parts)} (the keras-hub / Keras "
                            "versions pinned in setup.cfg have them)")
        if getattr(layer, "normalize_first", False):
            raise ValueError(f"{layer.name} normalises first (pre-norm); "
                             "BertInferenceEncoder computes post-norm BERT layers only")
