"""Emoji and written star ratings -> words, in TF ops (text/emoji.py)."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from tfrec_sentiment.export.ops import audit_ops
from tfrec_sentiment.text import emoji

# The emoji texts of the shared case emoji_and_symbols_2014.json, and the words.
CASES = {
    "\U0001F44D": " thumbs up ",
    "\U0001F44D" * 3: " thumbs up " * 3,
    "\U0001F60D": " smiling face with heart eyes ",
    "\U0001F621\U0001F44E": " enraged face  thumbs down ",
    "\U0001F621" * 2: " enraged face " * 2,
    "\U0001F44D\U0001F3FD" * 3: " thumbs up " * 3,   # skin tone dropped
    "\u2605" * 5: " five stars ",
    "\u2b50" * 5: " five stars ",
}


def _map(texts):
    return [t.decode("utf-8") for t in emoji.emoji_to_words(tf.constant(texts)).numpy()]


def test_known_emoji_become_their_names():
    assert _map(list(CASES)) == list(CASES.values())


@pytest.mark.parametrize("text, words", [
    ("\u2605\u2605\u2605\u2605\u2606", " four of five stars "),
    ("\u2605\u2606\u2606\u2606\u2606 meh", " one of five stars  meh"),
    ("\u2b50\ufe0f\u2b50\ufe0f\u2b50\ufe0f", " three stars "),   # variation selectors
    ("great \u2b50 product", "great  star  product"),           # one star: a word
    ("\u2605" * 12, " 12 stars "),
    ("\u2605\n\u2605", " star \n star "),                         # runs stay in a line
    ("\u2764\ufe0f\u200d\U0001F525", " red heart  fire "),        # ZWJ sequence
    ("1\ufe0f\u20e3", "1"),                                       # keycap
    ("\U0001F1E8\U0001F1E6 eh", " flag canada  eh"),
    ("\U0001F1FA\U0001F1F8\U0001F1E8\U0001F1E6", " flag united states  flag canada "),
    ("x\U0001F600", "x grinning face "),
])
def test_sequences_stars_and_flags(text, words):
    assert _map([text]) == [words]


def test_rows_without_emoji_are_returned_byte_for_byte():
    texts = [b"plain ascii", "caf\u00e9 \u00bd".encode(), b"bad \xff\xfe utf8", b"", b"   "]
    assert emoji.emoji_to_words(tf.constant(texts)).numpy().tolist() == texts


def test_shape_graph_mode_and_empty_batch():
    texts = tf.constant([["\U0001F44D", "a"], ["b", "\u2605\u2605"]])
    assert emoji.emoji_to_words(texts).numpy().tolist() == [
        [b" thumbs up ", b"a"], [b"b", b" two stars "]]
    assert emoji.emoji_to_words(tf.constant([], tf.string)).shape == (0,)
    traced = tf.function(emoji.emoji_to_words,
                         input_signature=[tf.TensorSpec([None], tf.string)])
    assert traced(tf.constant(["\U0001F44E"])).numpy().tolist() == [b" thumbs down "]


def test_a_graph_holds_one_call_of_the_mapping_traced_once():
    # The table constants and ~940 ops are not rebuilt in every caller's graph.
    # (Other tests may already have traced it, e.g. under another device scope: count
    # the traces these two graphs add, at most one for the first and none for the second.)
    counts = [emoji._traced().experimental_get_tracing_count()]
    for _ in range(2):
        traced = tf.function(emoji.emoji_to_words,
                             input_signature=[tf.TensorSpec([None], tf.string)])
        graph = traced.get_concrete_function().graph.as_graph_def()
        assert len(graph.node) < 12, sorted(node.op for node in graph.node)
        assert [n.op for n in graph.node if n.op.endswith("PartitionedCall")] != []
        counts.append(emoji._traced().experimental_get_tracing_count())
    assert counts[1] - counts[0] <= 1 and counts[2] == counts[1] >= 1, counts


def test_a_batch_without_non_ascii_text_skips_the_mapping_ops():
    # The ~940 mapping ops sit in one branch of a cond: an ASCII batch runs a dozen.
    graph = emoji._traced().get_concrete_function().graph
    ops = [op.type for op in graph.get_operations()]
    assert len(ops) < 20 and {"If", "StatelessIf"} & set(ops), ops
    assert emoji.emoji_to_words(tf.constant(["ok", "caf\u00e9 \u2605"])).numpy().tolist() == [
        b"ok", "caf\u00e9  star ".encode()]


def test_only_core_tensorflow_ops_so_tf_serving_runs_it():
    traced = tf.function(emoji.emoji_to_words,
                         input_signature=[tf.TensorSpec([None], tf.string)])
    graph = traced.get_concrete_function().graph.as_graph_def()
    ops = {node.op: {"emoji_to_words"} for node in graph.node}
    for function in graph.library.function:
        ops.update({node.op: {function.signature.name} for node in function.node_def})
    assert audit_ops(ops).tf_text_ops == []


def test_table_comes_from_the_pinned_emoji_package():
    words = emoji.emoji_words()
    assert words[0x1F44D] == "thumbs up" and words[0x1F44E] == "thumbs down"
    assert 0x1F3FB not in words and ord("\u2b50") not in words  # skin tone; stars: ratings
    assert len(words) > 1300
    assert emoji.mapping_version() == f"emoji-{emoji.emoji_package.__version__}/rules-1"
    assert emoji.is_emoji("\U0001F44D") and emoji.is_emoji("\u2605")
    assert not emoji.is_emoji("a") and not emoji.is_emoji("!")


def _as_lists(ids) -> list[list[int]]:
    # keras-hub tokenizers return Python lists when eager, ragged tensors in graphs.
    rows = ids.to_list() if hasattr(ids, "to_list") else ids
    return [[int(i) for i in row] for row in rows]


def _unknown_after_mapping(minilm_dir, texts):
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(minilm_dir))
    unknown = tokenizer.token_to_id("[UNK]")
    raw = _as_lists(tokenizer(tf.constant(texts)))
    mapped = _as_lists(tokenizer(emoji.emoji_to_words(tf.constant(texts))))
    assert texts[0] == "\U0001F44D" and unknown in raw[0]  # the fault: 👍 is [UNK]
    return [t for t, ids in zip(texts, mapped) if unknown in ids or not ids], mapped


def test_case_emoji_have_no_unknown_token_in_minilm(minilm_dir):
    texts = list(CASES)
    left, mapped = _unknown_after_mapping(minilm_dir, texts)
    assert left == []
    # Thumbs up and the angry face now read differently.
    assert mapped[texts.index("\U0001F44D")] != mapped[texts.index("\U0001F621\U0001F44E")]


def test_shared_case_emoji_have_no_unknown_token_in_minilm(minilm_dir, shared_cases):
    texts = []
    for line in (shared_cases / "emoji_and_symbols_2014.json").read_text(
            encoding="utf-8-sig").splitlines():
        text = json.loads(line)["reviewText"]
        if any(emoji.is_emoji(c) for c in text):
            texts.append(text)
    assert len(texts) == 6
    assert _unknown_after_mapping(minilm_dir, texts)[0] == []
