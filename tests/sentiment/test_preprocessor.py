"""The single-segment packer and the preprocessor: shapes, dtypes, buckets, bad bytes."""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tests.layer_test_case import run_config_round_trip, run_save_load
from tests.sentiment.wrapper import LayerModel
from tfrec_sentiment.sentiment.preprocessor import (
    SentimentPreprocessor,
    SingleSegmentPacker,
    tiny_tokenizer,
)

CLS, SEP, PAD = 2, 3, 0


def packer(**kwargs) -> SingleSegmentPacker:
    defaults = dict(start_value=CLS, end_value=SEP, pad_value=PAD, sequence_length=10,
                    bucket_boundaries=(4, 8))
    return SingleSegmentPacker(**{**defaults, **kwargs})


def test_packer_pads_to_the_smallest_bucket_that_holds_the_batch():
    ids = tf.ragged.constant([[11, 12], [13], []], dtype=tf.int32)
    out = packer()(ids)
    # Longest packed row: 2 ids + [CLS] + [SEP] = 4 -> bucket 4.
    assert out["token_ids"].numpy().tolist() == [[CLS, 11, 12, SEP], [CLS, 13, SEP, PAD],
                                                 [CLS, SEP, PAD, PAD]]
    assert out["padding_mask"].numpy().tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]]
    assert {v.dtype for v in out.values()} == {tf.int32}
    assert not out["segment_ids"].numpy().any()


def test_packer_moves_up_buckets_and_truncates_at_sequence_length():
    five = tf.ragged.constant([[1, 2, 3, 4, 5]], dtype=tf.int32)
    assert packer()(five)["token_ids"].shape == (1, 8)
    long = tf.ragged.constant([list(range(20, 40))], dtype=tf.int32)
    out = packer()(long)["token_ids"].numpy()
    # Truncated to 8 ids + [CLS] + [SEP]; the head of the review is kept.
    assert out.tolist() == [[CLS, *range(20, 28), SEP]]
    assert packer(bucket_boundaries=())(tf.ragged.constant([[7]]))["token_ids"].shape == (1, 10)


def test_packer_config_round_trip_and_save_load(tmp_path):
    layer = packer()
    run_config_round_trip(layer, keras)
    assert layer.lengths == [4, 8, 10]


def test_preprocessor_maps_strings_and_passes_labels_through():
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16,
                                  bucket_boundaries=(8, 16))
    features, labels, weights = layer(tf.constant(["great", "the cable broke"]),
                                      tf.constant([2, 0]), tf.constant([1.0, 3.0]))
    assert features["token_ids"].shape[1] in (8, 16)
    assert features["padding_mask"].dtype == tf.int32
    lengths = features["padding_mask"].numpy().sum(axis=1)
    np.testing.assert_array_equal(layer.packed_lengths(["great", "the cable broke"]), lengths)
    assert labels.numpy().tolist() == [2, 0] and weights.numpy().tolist() == [1.0, 3.0]


def test_preprocessor_survives_invalid_utf8_empty_and_huge_texts():
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16, bucket_boundaries=(8,))
    texts = tf.constant([b"bad \xff\xfe bytes", b"", b"x " * 50_000])
    out = layer(texts)
    mask = out["padding_mask"].numpy()
    assert out["token_ids"].shape == (3, 16)
    assert mask[1].sum() == 2  # [CLS] [SEP]
    assert mask[2].sum() == 16  # truncated, not crashed


def test_preprocessor_runs_inside_tf_data():
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16, bucket_boundaries=(8,))
    dataset = tf.data.Dataset.from_tensor_slices(["ok", "good", "a b c d e f g h i"]).batch(2)
    shapes = [batch["token_ids"].shape.as_list() for batch in dataset.map(layer)]
    assert shapes == [[2, 8], [1, 16]]


def test_preprocessor_config_round_trip_and_save_load(tmp_path):
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16, bucket_boundaries=(8,))
    rebuilt = run_config_round_trip(layer, keras)
    assert rebuilt.bucket_boundaries == [8]
    texts = tf.constant(["great strings", "the cable broke down"])
    restored = run_save_load(LayerModel(layer), texts, tmp_path, keras, atol=0)
    # The vocabulary came back as an asset of the archive.
    assert restored.layer.tokenizer.get_vocabulary() == layer.tokenizer.get_vocabulary()


def test_preprocessor_first_cleans_text_as_the_data_stage():
    # Without the in-graph cleaning these raw texts tokenize differently ("&", "amp",
    # ";", the URL's pieces), so equal ids show the first step ran, eager and in tf.data.
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=32, bucket_boundaries=(16,))
    raw = ["Works\x00 great\x07 really", "R&amp;B &lt;br&gt; tone", "see http://x.com/a now"]
    clean = ["Works great really", "R&B tone", "see [URL] now"]
    eager = layer(tf.constant(raw))["token_ids"].numpy()
    np.testing.assert_array_equal(eager, layer(tf.constant(clean))["token_ids"].numpy())
    (batch,) = tf.data.Dataset.from_tensors(tf.constant(raw)).map(layer)
    np.testing.assert_array_equal(batch["token_ids"].numpy(), eager)
    assert eager.shape == (3, 16)


def test_graphs_call_the_preprocessing_traced_once_instead_of_rebuilding_it():
    # Every tf.data map and export signature traces the preprocessor again; its text
    # steps, emoji mapping and tokenizer (about 2,100 ops) are each one call of a
    # function traced once, so a trace adds a few ops, not thousands.
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16, bucket_boundaries=(8,))
    graphs = []
    for _ in range(2):
        traced = tf.function(lambda texts: layer(texts)["token_ids"],
                             input_signature=[tf.TensorSpec([None], tf.string)])
        graphs.append(traced.get_concrete_function().graph.as_graph_def())
    for graph in graphs:
        assert len(graph.node) < 40, sorted(node.op for node in graph.node)
        calls = [node for node in graph.node if node.op.endswith("PartitionedCall")]
        assert len(calls) == 2  # token ids (text steps, emoji, WordPiece), then the packer
    # The same two functions in both graphs: traced once, not once per graph.
    assert ({node.attr["f"].func.name for node in graphs[0].node if "f" in node.attr}
            == {node.attr["f"].func.name for node in graphs[1].node if "f" in node.attr})
    assert layer._tokens_function().experimental_get_tracing_count() == 1
    assert layer._pack_function().experimental_get_tracing_count() == 1


def test_call_is_pack_of_token_ids_and_lengths_count_the_cleaned_text():
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16,
                                  bucket_boundaries=(8, 16))
    # HTML and an emoji (cleaned and mapped before WordPiece), a text past the length.
    texts = tf.constant(["<b>great</b> strings 👍", "bad", "the cable broke " * 10, ""])
    ids = layer.token_ids(texts)
    assert ids.row_lengths().numpy().max() == 16 - 2
    direct, apart = layer(texts), layer.pack(ids)
    for name in ("token_ids", "padding_mask", "segment_ids"):
        np.testing.assert_array_equal(direct[name].numpy(), apart[name].numpy())
    np.testing.assert_array_equal(layer.packed_lengths(texts),
                                  direct["padding_mask"].numpy().sum(axis=1))
    # The markup is not read as tokens: "<b>great</b>" packs as "great" does.
    np.testing.assert_array_equal(ids[0].numpy(), layer.token_ids(["great strings 👍"])[0])


def test_sequence_length_setter_reaches_the_packer_and_the_traced_functions():
    # keras-hub's setter (inherited from TextClassifierPreprocessor) after a first call.
    layer = SentimentPreprocessor(tiny_tokenizer(), sequence_length=16, bucket_boundaries=(8,))
    long_text = tf.constant(["a b c d e f g h i j k l m n o p q r s t"])
    assert layer(long_text)["token_ids"].shape == (1, 16)
    layer.sequence_length = 8
    assert layer.packer.lengths == [8]
    assert layer(long_text)["token_ids"].shape == (1, 8)
    assert layer.packed_lengths(long_text).numpy().tolist() == [8]
    assert isinstance(layer, keras_hub.models.TextClassifierPreprocessor)


def test_keras_hub_preset_lookup_cannot_pick_this_class():
    # keras-hub's TextClassifierPreprocessor.from_preset takes any registered subclass
    # whose backbone_cls matches the preset's; this class must never be one.
    assert SentimentPreprocessor.backbone_cls is None


def test_head_and_tail_truncation_keeps_a_long_texts_start_and_end():
    words = " ".join("abcdefghijklmnopqrst")  # 20 one-letter tokens
    head_only = SentimentPreprocessor(tiny_tokenizer(), sequence_length=10)
    both = SentimentPreprocessor(tiny_tokenizer(), sequence_length=10, tail_tokens=3)
    untruncated = SentimentPreprocessor(tiny_tokenizer(), sequence_length=64)
    every = untruncated.token_ids([words]).to_list()[0]
    assert len(every) == 20
    assert head_only.token_ids([words]).to_list()[0] == every[:8]
    assert both.token_ids([words]).to_list()[0] == every[:5] + every[-3:]
    # A text that fits is not cut, and packing is as before: [CLS] ids [SEP].
    assert both.token_ids(["great strings"]).to_list() == head_only.token_ids(
        ["great strings"]).to_list()
    packed = both(tf.constant([words]))["token_ids"].numpy()[0]
    assert packed.tolist() == [CLS, *every[:5], *every[-3:], SEP]
    # Past BYTES_PER_TOKEN bytes per token the end survives the byte cut too.
    huge = "good " * 5_000 + "it broke"
    assert both.token_ids([huge]).to_list()[0][-3:] == untruncated.token_ids(
        ["good it broke"]).to_list()[0][-3:]
    # A setting of the layer: in its config, and changed after a first call.
    assert run_config_round_trip(both, keras).tail_tokens == 3
    head_only.tail_tokens = 3
    assert head_only.token_ids([words]).to_list()[0] == every[:5] + every[-3:]
