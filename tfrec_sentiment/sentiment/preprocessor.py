"""Raw review strings -> BERT inputs, in-graph, with core TF ops plus TF Text's tokenizer.

Two public Keras 3 layers:

- `SingleSegmentPacker`: ragged WordPiece ids [B, None] -> `token_ids` and `padding_mask`
  [B, L] int32, with [CLS] ... [SEP], truncation to `sequence_length`, and L the
  smallest bucket length that holds the batch's longest review. It uses only core
  TensorFlow ops: keras-hub's `MultiSegmentPacker` emits `TFText>RoundRobinTrim`, which
  TF Serving images built with TF Text < 2.13 lack (docs/design.md), so this lifts that floor.
- `SentimentPreprocessor`: keras-hub's `TextClassifierPreprocessor` with two things
  changed: the packer (the one above, built in `build()` once the tokenizer's
  vocabulary is known) and `call` = `pack(token_ids(x))`: the data stage's text
  cleaning, the emoji mapping and WordPiece as one traced function (`token_ids`), then
  the packer as another (`pack`). The rest is keras-hub's: it owns the tokenizer
  (and so the vocabulary asset), `get_config` / `from_config`, the `sequence_length`
  property whose setter reaches the packer. It maps `tf.string` [B] to the backbone's
  inputs, in `tf.data` for training, in the scorer for inference and inside the
  export's `tf.function`.

  It subclasses the generic class, not `BertTextClassifierPreprocessor` (which only
  adds `backbone_cls` and `tokenizer_cls`): keras-hub's
  `TextClassifierPreprocessor.from_preset` picks any registered subclass whose
  `backbone_cls` matches the preset's, in no fixed order
  (`keras_hub/src/utils/preset_utils.py`, `find_subclass`), so with `BertBackbone`
  this class could answer a keras-hub user's request for a BERT preprocessor. Build
  it from a tokenizer instead (`BertTokenizer.from_preset(folder)`, as
  `SentimentModel.from_config` does).

The padding mask is int32, not bool: a bool mask makes MirroredStrategy's gradient
all-reduce fail with `AddN ... bool` (docs/design.md).

Example:

>>> preprocessor = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16,
...                                      bucket_boundaries=(8, 16))
>>> features = preprocessor(tf.constant(["great strings", "bad"]))
>>> features["token_ids"].shape, features["padding_mask"].dtype
(TensorShape([2, 8]), tf.int32)
"""

from __future__ import annotations

import string
import weakref
from collections.abc import Sequence

import keras
import keras_hub
import tensorflow as tf

from tfrec_sentiment.sentiment.config import bucket_lengths
from tfrec_sentiment.text.emoji import emoji_to_words
from tfrec_sentiment.text.steps import clean_texts

PACKAGE = "tfrec_sentiment"
# A token is rarely over 64 bytes of text, so this many bytes per token hold any review
# that fits `sequence_length` tokens; cutting first keeps 100 KB inputs cheap to tokenize.
BYTES_PER_TOKEN = 64


@keras.saving.register_keras_serializable(package=PACKAGE)
class SingleSegmentPacker(keras.layers.Layer):
    """Packs one segment of token ids as `[CLS] ids [SEP] [PAD]...`, core TF ops only.

    Args:
        start_value: id of [CLS].
        end_value: id of [SEP].
        pad_value: id of [PAD].
        sequence_length: the longest output, [CLS] and [SEP] included; longer inputs
            keep their first `sequence_length - 2` ids.
        bucket_boundaries: allowed padded lengths. Each batch is padded to the smallest
            one >= its longest packed row (values above `sequence_length` are dropped,
            `sequence_length` is always allowed). Empty: always `sequence_length`.

    Call arguments:
        inputs: `tf.RaggedTensor` int [B, None] of WordPiece ids.

    Returns:
        dict with `token_ids`, `padding_mask` (1 = real token) and `segment_ids`
        (zeros), each int32 [B, L].
    """

    def __init__(self, start_value: int, end_value: int, pad_value: int,
                 sequence_length: int, bucket_boundaries: Sequence[int] = (), **kwargs):
        super().__init__(**kwargs)
        self.start_value = int(start_value)
        self.end_value = int(end_value)
        self.pad_value = int(pad_value)
        self.sequence_length = int(sequence_length)
        self.bucket_boundaries = [int(b) for b in bucket_boundaries]

    @property
    def lengths(self) -> list[int]:
        """The padded lengths a batch can have, ascending (`config.bucket_lengths`)."""
        return list(bucket_lengths(self.bucket_boundaries, self.sequence_length))

    def call(self, inputs: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        ids = tf.cast(inputs[:, : self.sequence_length - 2], tf.int32)
        rows = ids.nrows(out_type=tf.int32)
        packed = tf.concat(
            [tf.fill([rows, 1], self.start_value), ids, tf.fill([rows, 1], self.end_value)],
            axis=1,
        )
        row_lengths = tf.cast(packed.row_lengths(), tf.int32)
        length = self.padded_length(row_lengths)
        token_ids = packed.to_tensor(default_value=self.pad_value, shape=tf.stack([rows, length]))
        return {
            "token_ids": token_ids,
            "padding_mask": tf.sequence_mask(row_lengths, length, dtype=tf.int32),
            "segment_ids": tf.zeros_like(token_ids),
        }

    def padded_length(self, row_lengths: tf.Tensor) -> tf.Tensor:
        """The smallest allowed length >= max(row_lengths); scalar int32."""
        lengths = tf.constant(self.lengths, tf.int32)
        longest = tf.reduce_max(tf.concat([row_lengths, [2]], axis=0))
        return tf.reduce_min(tf.boolean_mask(lengths, lengths >= longest))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "start_value": self.start_value,
            "end_value": self.end_value,
            "pad_value": self.pad_value,
            "sequence_length": self.sequence_length,
            "bucket_boundaries": list(self.bucket_boundaries),
        })
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class SentimentPreprocessor(keras_hub.models.TextClassifierPreprocessor):
    """Raw review strings [B] -> the BERT backbone's int32 inputs [B, L].

    keras-hub's `TextClassifierPreprocessor` (tokenizer ownership, config,
    `sequence_length` setter) with its own packer and `call`:

    First runs the data stage's text steps (`text.steps.clean_texts`: HTML, Unicode,
    control characters, spaces, URL / e-mail / phone placeholders), so every caller
    reads the same text. Then maps emoji and written star ratings to words
    (`text.emoji.emoji_to_words`: "👍" -> " thumbs up "), which WordPiece would read
    as `[UNK]`.
    Cleans bytes (invalid UTF-8 -> U+FFFD, inputs cut to `BYTES_PER_TOKEN` bytes per
    allowed token), WordPiece-tokenizes with the owned `tokenizer` (its vocabulary is
    saved as an asset by Keras saving, and lives inside the graph's tokenizer op when
    exported) and packs one segment with `SingleSegmentPacker` (core TF ops, bucketed
    padded lengths, an int32 padding mask) where keras-hub uses `MultiSegmentPacker`.

    Args:
        tokenizer: a `keras_hub.models.BertTokenizer` (any WordPiece tokenizer with
            [CLS]/[SEP]/[PAD] special tokens).
        sequence_length: longest packed sequence, [CLS] and [SEP] included.
        bucket_boundaries: allowed padded lengths (see `SingleSegmentPacker`).
        truncate: keras-hub's argument, kept for its config; with one segment
            "round_robin" and "waterfall" both keep the first `sequence_length - 2` ids.
        tail_tokens: of a text longer than `sequence_length - 2` ids, keep the first
            `sequence_length - 2 - tail_tokens` and the last `tail_tokens` ("head +
            tail" truncation; Sun et al., CCL 2019); 0 (default): the head only.
            Above `BYTES_PER_TOKEN` bytes per allowed token, the bytes tokenized are
            the text's start and its last `tail_tokens * BYTES_PER_TOKEN` bytes.

    Call arguments:
        x: `tf.string` [B] (texts). `y` and `sample_weight` pass through, so the layer
            maps over a `tf.data` dataset of `(texts, labels, weights)` batches.

    Returns:
        `x` as dict `token_ids`, `padding_mask`, `segment_ids` (int32 [B, L]), packed
        with `y` and `sample_weight` when given.

    Raises:
        ValueError: `truncate` is not one of keras-hub's two values; `tail_tokens` is
            negative.
    """

    def __init__(self, tokenizer: keras_hub.models.BertTokenizer, sequence_length: int = 128,
                 bucket_boundaries: Sequence[int] = (), truncate: str = "round_robin",
                 tail_tokens: int = 0, **kwargs):
        if truncate not in ("round_robin", "waterfall"):
            raise ValueError(f"truncate={truncate!r}: must be 'round_robin' or 'waterfall'")
        if int(tail_tokens) < 0:
            raise ValueError(f"tail_tokens={tail_tokens!r}: must be >= 0")
        super().__init__(tokenizer, sequence_length=int(sequence_length), truncate=truncate,
                         **kwargs)
        self.bucket_boundaries = bucket_boundaries
        self.tail_tokens = int(tail_tokens)

    @property
    def bucket_boundaries(self) -> list[int]:
        """The allowed padded lengths; set, they reach the packer too (as keras-hub's
        `sequence_length` setter does), e.g. when a saved model is fine-tuned further
        under another config (`SentimentModel.from_config`)."""
        return self._bucket_boundaries

    @bucket_boundaries.setter
    def bucket_boundaries(self, value: Sequence[int]) -> None:
        self._bucket_boundaries = [int(b) for b in value]
        if getattr(self, "packer", None) is not None:
            self.packer.bucket_boundaries = list(self._bucket_boundaries)

    def build(self, input_shape=None) -> None:
        # keras-hub's build makes a MultiSegmentPacker; this layer's packer replaces it,
        # so the Layer's own build is called past it, and last: the packer needs the
        # special token ids, known once the vocabulary (an asset that loading restores
        # after construction) is set. Loading tries a build before that; it must fail
        # with the layer still unbuilt, so that the first call builds it (`tokenize`).
        self.packer = SingleSegmentPacker(
            start_value=self.tokenizer.start_token_id,
            end_value=self.tokenizer.end_token_id,
            pad_value=self.tokenizer.pad_token_id,
            sequence_length=self.sequence_length,
            bucket_boundaries=self.bucket_boundaries,
            name="packer",
        )
        super(keras_hub.models.TextClassifierPreprocessor, self).build(input_shape)

    def call(self, x, y=None, sample_weight=None):
        # Eager, keras-hub tokenizers take a pure-Python path: this runs the TF path.
        # In a graph (tf.data map, export signature) it is two calls of functions
        # traced once per layer, instead of the tokenizer's ops rebuilt per trace.
        features = self.pack(self.token_ids(x))
        return keras.utils.pack_x_y_sample_weight(features, y, sample_weight)

    def token_ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """What `call` packs: the ids of raw `texts` [B] after the data stage's text steps
        (`text.steps.clean_texts`) and the emoji mapping (`text.emoji.emoji_to_words`),
        at most `sequence_length - 2` per text; ragged int32 [B, None], no [CLS]/[SEP].

        `call` is `pack(token_ids(x))`; `inference.predict_sorted` calls the two apart so
        that each text is tokenized once (its length sorts it, its ids are packed).
        """
        return self._tokens_function()(tf.convert_to_tensor(texts, tf.string))

    def pack(self, token_ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """`token_ids` (ragged int32 [B, None]) -> `token_ids`, `padding_mask`,
        `segment_ids` int32 [B, L] (`SingleSegmentPacker`: the bucket holding the
        batch's longest text)."""
        return self._pack_function()(tf.cast(token_ids, tf.int32))

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """WordPiece ids of cleaned `texts` [B] -> ragged int32 [B, None] (no [CLS]/[SEP])."""
        if not self.built:
            self.build()
        limit = self.sequence_length * BYTES_PER_TOKEN
        tail = min(self.tail_tokens * BYTES_PER_TOKEN, limit // 2)
        if tail:  # the start and the end of a long text
            lengths = tf.strings.length(texts)
            ends = tf.strings.substr(texts, tf.maximum(lengths - tail, 0),
                                     tf.fill(tf.shape(texts), tail))
            texts = tf.where(lengths > limit,
                             tf.strings.substr(texts, 0, limit - tail) + " " + ends, texts)
        else:
            texts = tf.strings.substr(texts, 0, limit)
        texts = tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        return tf.cast(self.tokenizer(texts), tf.int32)

    def packed_lengths(self, texts: tf.Tensor) -> tf.Tensor:
        """Packed length of each text (tokens + 2, at most `sequence_length`), int32 [B]."""
        return tf.cast(self.token_ids(texts).row_lengths(), tf.int32) + 2

    def _tokens_function(self):
        def tokens(texts: tf.Tensor) -> tf.RaggedTensor:
            texts = clean_texts(texts)  # first: the data stage's text steps (text.steps)
            texts = emoji_to_words(texts)  # then emoji and star ratings -> words (text.emoji)
            return self.truncate_ids(self.tokenize(texts))

        return _graph_function(self, "tokens", tokens, tf.TensorSpec([None], tf.string))

    def truncate_ids(self, ids: tf.RaggedTensor) -> tf.RaggedTensor:
        """At most `sequence_length - 2` of each row's ids: its head, and its last
        `tail_tokens` where set (ragged [B, None] -> ragged [B, None])."""
        budget = self.sequence_length - 2
        tail = min(self.tail_tokens, budget - 1)
        if not tail:
            return ids[:, :budget]
        lengths = ids.row_lengths()
        positions = tf.ragged.range(lengths)
        keep = (positions < budget - tail) | (positions >= tf.expand_dims(lengths, 1) - tail)
        return tf.ragged.boolean_mask(ids, keep)

    def _pack_function(self):
        if not self.built:
            self.build()
        return _graph_function(self, "pack", lambda ids: self.packer(ids),
                               tf.RaggedTensorSpec([None, None], tf.int32))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"bucket_boundaries": list(self.bucket_boundaries),
                       "tail_tokens": self.tail_tokens})
        return config

    @classmethod
    def from_config(cls, config: dict) -> SentimentPreprocessor:
        # keras-hub's Preprocessor.from_config deserializes the tokenizer in place;
        # a copy leaves the caller's config intact.
        return super().from_config(dict(config))


# Tokenizing and packing run through one traced function per layer and kind (eager
# and in graphs alike). Kept outside the layer, or tf.saved_model.save would export
# these helpers as extra functions of the object.
_GRAPH_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _graph_function(layer: SentimentPreprocessor, kind: str, fn, spec: tf.TypeSpec):
    # Keyed by the lengths too: a trace bakes them in, and keras-hub's
    # `sequence_length` setter (or `SentimentModel.from_config`, for a saved model's
    # text settings) may change them after a first call.
    functions = _GRAPH_FUNCTIONS.setdefault(layer, {})
    key = (kind, layer.sequence_length, layer.tail_tokens, tuple(layer.bucket_boundaries))
    if key not in functions:
        functions[key] = tf.function(fn, input_signature=[spec])
    return functions[key]


def tiny_vocabulary() -> list[str]:
    """A toy WordPiece vocabulary for the "tiny" test preset (no weights needed).

    Special tokens, single characters and their "##" continuations (so every ASCII
    word tokenizes without [UNK]) and a few whole review words.
    """
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    words = ["the", "and", "great", "good", "bad", "love", "hate", "not", "sound",
             "guitar", "strings", "cable", "broke", "works", "fine", "ok", "okay"]
    return specials + chars + [f"##{c}" for c in chars] + words


def tiny_tokenizer() -> keras_hub.models.BertTokenizer:
    """A lower-casing BERT tokenizer over `tiny_vocabulary()`."""
    return keras_hub.models.BertTokenizer(vocabulary=tiny_vocabulary(), lowercase=True)
