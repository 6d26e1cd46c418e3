"""The sentiment side's public Keras 3 layers (`import keras`, keras-hub).

Re-exports only; each class is registered in `keras.saving` under the package name
(`"tfrec_sentiment>ClassName"`). These are Keras 3 objects: put them into Keras 3
models (`keras.Model`), never into a `tf.keras` (tf-keras) model; pass plain
`tf.Tensor`s between the two worlds. Importing this module imports keras-hub.

- `SentimentPreprocessor` (sentiment/preprocessor.py): `tf.string` [B] -> dict
  `token_ids`, `padding_mask`, `segment_ids` int32 [B, L]; owns a WordPiece tokenizer.
- `SingleSegmentPacker` (sentiment/preprocessor.py): ragged int [B, None] WordPiece ids
  -> dict `token_ids`, `padding_mask`, `segment_ids` int32 [B, L].
- `MaskedMeanPooling` (sentiment/pooling.py): float [B, L, D] + mask int/bool [B, L]
  -> float32 [B, D].
- `EmptyTextAnswer` (sentiment/empty_text.py): probabilities float32 [B, C], embedding
  float32 [B, D], mask int [B, L] -> dict `probabilities` [B, C], `embedding` [B, D],
  `empty` bool [B].
- `TemperatureScaling` (sentiment/scorer.py): logits [B, C] -> float32 logits / T, T a
  non-trainable variable (`set_temperature`): temperature-scaling calibration.
- `BertInferenceEncoder` (sentiment/encoder.py): a keras-hub `BertBackbone`'s pass as
  2-D matmuls (same outputs and dropout, fewer ops): dict `token_ids`, `padding_mask`,
  `segment_ids` int [B, L] -> dict `sequence_output` [B, L, H], `pooled_output` [B, H].

Dtype policies (tests/test_public_layers.py): under `bfloat16` / `mixed_bfloat16`,
`EmptyTextAnswer` returns the compute dtype, `MaskedMeanPooling` pools in float32 on
purpose, and the preprocessor and packer return int32 only.

Example:

>>> import keras
>>> pool = MaskedMeanPooling(normalize=False)
>>> pool(keras.ops.ones((1, 3, 2)), keras.ops.convert_to_tensor([[1, 1, 0]])).shape
TensorShape([1, 2])
>>> keras.saving.get_registered_name(MaskedMeanPooling)
'tfrec_sentiment>MaskedMeanPooling'
"""

from __future__ import annotations

from tfrec_sentiment.sentiment.empty_text import EmptyTextAnswer
from tfrec_sentiment.sentiment.encoder import BertInferenceEncoder
from tfrec_sentiment.sentiment.pooling import MaskedMeanPooling
from tfrec_sentiment.sentiment.preprocessor import SentimentPreprocessor, SingleSegmentPacker
from tfrec_sentiment.sentiment.scorer import TemperatureScaling

__all__ = [
    "BertInferenceEncoder",
    "EmptyTextAnswer",
    "MaskedMeanPooling",
    "SentimentPreprocessor",
    "SingleSegmentPacker",
    "TemperatureScaling",
]
