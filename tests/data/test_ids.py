"""Id normalisation: ingestion and the served graph apply the same rule (data/ids.py)."""

from __future__ import annotations

import tensorflow as tf

from tfrec_sentiment.data.ids import ID_WHITESPACE, normalize_id, normalize_ids
from tfrec_sentiment.data.readers.fields import require_id

ODD_IDS = [" 1", "1 ", "\t1\r\n", "\u00a01\u3000", "\u20281\u2029", "\x1c1\x85", "1",
           "a b", " a b ", "", "   ", "\u200b1", "A1", "caf\u00e9", "cafe\u0301 "]


def test_whitespace_is_exactly_what_str_isspace_accepts():
    every = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    assert ID_WHITESPACE == every


def test_python_rule_strips_surrounding_whitespace_only():
    assert [normalize_id(i) for i in ODD_IDS] == [
        "1", "1", "1", "1", "1", "1", "1", "a b", "a b", "", "", "\u200b1", "A1",
        "caf\u00e9", "cafe\u0301"]  # no case folding, no NFC, zero-width space kept


def test_tensorflow_rule_matches_the_python_rule():
    served = normalize_ids(tf.constant(ODD_IDS)).numpy().tolist()
    assert [s.decode("utf-8") for s in served] == [normalize_id(i) for i in ODD_IDS]
    assert normalize_ids(tf.constant([[b" \xff "]])).numpy().tolist() == [[b"\xff"]]


def test_ingestion_uses_the_rule():
    for value in ODD_IDS:
        if normalize_id(value):
            assert require_id({"id": value}, "id", "user_id") == normalize_id(value)
