"""The one text implementation: TensorFlow steps, in-graph and on Python batches."""

from __future__ import annotations

import gzip
import html
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from tfrec_sentiment.text import normalize, regex, scrub, steps

REVIEWS = [
    "Works\x00 great\x07 really",
    " Great&#34;&nbsp;tone<br />\u200bfor the\n\nprice &amp;lt;br&amp;gt; R&amp;B &#x263A;",
    "Mail jo.doe@example.com, call (555) 234-5678 or see http://x.com/a?b=1.",
    "\uff21\uff22 \ufb01ne\u00a0strings\u3000\u3000\U0001F3B8 \U0001F468\u200d\U0001F469",
    "salt&not pepper, AT&T, I <3 it, <sigh>",
    "",
]


def _decoded(tensor: tf.Tensor) -> list[str]:
    return [b.decode("utf-8") for b in tensor.numpy().reshape(-1)]


def test_clean_texts_is_the_string_steps_in_order():
    cleaned = _decoded(steps.clean_texts(REVIEWS))
    assert cleaned == [scrub.scrub_text(normalize.normalize_text(r)) for r in REVIEWS]
    assert cleaned[:3] == [
        "Works great really",
        'Great" tone for the price R&B \u263a',
        "Mail [EMAIL], call [PHONE] or see [URL].",
    ]
    assert cleaned[3] == "AB fine strings \U0001F3B8 \U0001F468\u200d\U0001F469"
    assert [name for name, _ in steps.text_steps()] == [
        "html_unescaped", "html_tags_removed", "unicode_normalized", "control_chars_removed",
        "whitespace_collapsed", "url_scrubbed", "email_scrubbed", "phone_scrubbed"]


def test_clean_texts_runs_in_a_graph_keeps_the_shape_and_repairs_bytes():
    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.string)], autograph=False)
    def clean(texts):
        return steps.clean_texts(texts)

    out = clean(tf.constant([[b"caf\xe9 &amp; ok"], [b"fine"]]))
    assert out.shape == (2, 1)
    assert _decoded(out) == ["caf\ufffd & ok", "fine"]


def test_clean_texts_in_a_graph_is_one_call_of_a_function_traced_once():
    # Rebuilding the ~630 ops of the steps in every graph cost ~0.5 s per trace.
    # (Other tests may already have traced it, e.g. under another device scope: count
    # the traces these two graphs add, at most one for the first and none for the second.)
    compiled = steps._compiled_clean("NFKC", True)
    counts, graphs = [compiled.experimental_get_tracing_count()], []
    for _ in range(2):
        graphs.append(tf.function(steps.clean_texts,
                                  input_signature=[tf.TensorSpec([None], tf.string)])
                      .get_concrete_function().graph.as_graph_def())
        counts.append(compiled.experimental_get_tracing_count())
    for graph in graphs:
        assert len(graph.node) < 12, sorted(node.op for node in graph.node)
        (call,) = [node for node in graph.node if node.op.endswith("PartitionedCall")]
        names = {function.signature.name for function in graph.library.function}
        assert call.attr["f"].func.name in names
        # The steps themselves live in the library (the function and its conds' branches).
        assert sum(len(function.node_def) for function in graph.library.function) > 300
    assert counts[1] - counts[0] <= 1 and counts[2] == counts[1] >= 1, counts


def test_clean_texts_is_idempotent():
    once = steps.clean_texts(REVIEWS)
    assert _decoded(steps.clean_texts(once)) == _decoded(once)


@pytest.mark.parametrize("reference, expected", [
    ("&#150;", "\u2013"), ("&#0;", "\ufffd"), ("&#xD800;", "\ufffd"), ("&#1114112;", "\ufffd"),
    ("&#7;", ""), ("&#xFDD0;", ""), ("&#x1F3B8;", "\U0001F3B8"),
    ("&NotEqualTilde;", "\u2242\u0338"), ("&eacute;", "\u00e9"), ("&qid;", "&qid;"),
    ("&amp;amp;#34;", '"'),
])
def test_entities_follow_html_unescape(reference, expected):
    assert normalize.unescape_html(reference) == expected
    assert expected == html.unescape(html.unescape(html.unescape(reference)))


def test_whitespace_and_word_classes_match_python():
    # RE2's \s is ASCII; the steps spell out Python's: every BMP character checked.
    chars = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    got = _decoded(normalize.collapse_whitespace(tf.constant([f"a{c}b" for c in chars])))
    want = [re.sub(r"\s+", " ", f"a{c}b") for c in chars]
    assert [c for c, g, w in zip(chars, got, want) if g != w] == []
    # A letter before an address is part of a word (Python's \w), so nothing is scrubbed.
    assert scrub.scrub_phones("\u00e9555-234-5678") == "\u00e9555-234-5678"
    assert scrub.scrub_phones("\u00e9 555-234-5678") == "\u00e9 [PHONE]"


def test_neighbouring_matches_are_all_scrubbed():
    # The character after a match is captured (RE2 has no look-ahead); a second pass
    # catches the matches whose neighbour the first one took.
    assert scrub.scrub_phones("555-234-5678, 555-234-5679, 555-234-5670") == (
        "[PHONE], [PHONE], [PHONE]")
    assert scrub.scrub_emails("a@b.com,c@d.org,e@f.net") == "[EMAIL],[EMAIL],[EMAIL]"
    assert scrub.scrub_phones("tel 5552345678 tel 5552345679") == "tel [PHONE] tel [PHONE]"
    assert scrub.scrub_phones("+44 20 7946 0958 1234 5678 9012") == (
        "+44 20 7946 0958 1234 5678 9012")  # 22 digits: not one phone number


def test_a_step_runs_only_on_a_batch_where_some_string_matches_its_hint():
    # The step fails whenever it runs: a batch with no "@" must not run it at all
    # (one plain review per served request skips each step's ops), and a batch with
    # one still gets it on that string only.
    def fail_if_run(texts):
        with tf.control_dependencies([tf.debugging.assert_less(tf.size(texts), 0,
                                                               message="the step ran")]):
            return tf.strings.upper(texts)

    guarded = tf.function(lambda t: regex.on_rows_matching(t, "(?s).*@.*", fail_if_run),
                          input_signature=[tf.TensorSpec([None], tf.string)])
    assert guarded(tf.constant(["plain", "text"])).numpy().tolist() == [b"plain", b"text"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="the step ran"):
        guarded(tf.constant(["plain", "a@b"]))
    upper = regex.on_rows_matching(tf.constant(["a@b", "c", ""]), "(?s).*@.*",
                                   tf.strings.upper)
    assert upper.numpy().tolist() == [b"A@B", b"c", b""]


def test_apply_text_steps_counts_each_step_per_string():
    cleaned, changed = steps.apply_text_steps(
        ["a&amp;b", "ok", "x\ud800y", "x\u200by  z", "see www.a.com"], batch_size=2)
    assert cleaned.tolist() == ["a&b", "ok", "xy", "xy z", "see [URL]"]
    assert changed["html_unescaped"].tolist() == [True, False, False, False, False]
    # The lone surrogate cannot be UTF-8: dropped on the way in, counted as a control.
    assert changed["control_chars_removed"].tolist() == [False, False, True, True, False]
    assert changed["whitespace_collapsed"].tolist() == [False, False, False, True, False]
    assert changed["url_scrubbed"].tolist() == [False, False, False, False, True]
    assert not changed["phone_scrubbed"].any()
    empty, counts = steps.apply_text_steps([])
    assert empty.shape == (0,) and not any(v.size for v in counts.values())


@pytest.mark.real_data
def test_real_reviews_are_cleaned_idempotently(shared_data):
    path = shared_data / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        texts = [json.loads(line).get("reviewText", "") for line in handle]
    # Every review with markup, entities or odd characters, and a slice of the rest.
    odd = [t for t in texts if re.search(r"[&<\x00-\x08\u200b\u00a0]|http|www|@", t)]
    sample = odd + texts[:300]
    once, _ = steps.apply_text_steps(sample)
    twice, changed = steps.apply_text_steps(list(once))
    assert len(odd) > 100
    assert [i for i, (a, b) in enumerate(zip(once, twice)) if a != b] == []
    assert not any(rows.any() for rows in changed.values())
    assert np.mean([a != b for a, b in zip(sample, once)]) > 0.2
