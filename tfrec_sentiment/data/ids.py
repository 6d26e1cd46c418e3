"""User and item ids: the one normalisation shared by ingestion and the served graph.

An id is compared as its exact characters after removing leading and trailing
whitespace, where whitespace is every character Python's `str.isspace` accepts
(`ID_WHITESPACE`: ASCII space, tab and line breaks, U+0085, U+00A0 no-break space,
U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, and U+001C..U+001F).
Nothing else changes: no case folding, no Unicode normalisation (NFC/NFKC), inner
spaces kept. So `" 1"`, `"1\\n"` and `"\\u00a01"` are the id `"1"`; `"a b"` and `"A"`
stay themselves.

- Ingestion (`data.readers.fields.require_id`) applies `normalize_id` to every id read.
- The exported SavedModel applies `normalize_ids` (core TensorFlow ops) to every
  `user_id` / `item_id` of a request before any lookup (`recsys.serving`,
  `export.index`), so a request id matches what ingestion stored.

Example:

>>> normalize_id("\\u00a0 A1B2\\t")
'A1B2'
>>> import tensorflow as tf
>>> normalize_ids(tf.constant([" 1", "1\\n", "a b"])).numpy().tolist()
[b'1', b'1', b'a b']
"""

from __future__ import annotations

# Every character c with c.isspace() (tests/data/test_ids.py checks the whole range).
ID_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def normalize_id(value: str) -> str:
    """An id as ingestion stores it: `value` without surrounding `ID_WHITESPACE`."""
    return value.strip(ID_WHITESPACE)


def _character_class() -> str:
    return "".join(f"\\x{{{ord(c):04x}}}" for c in ID_WHITESPACE)


def normalize_ids(ids):
    """`normalize_id` in TensorFlow ops (RE2 regex), for the served graph.

    Args:
        ids: `tf.string` of any shape, UTF-8.

    Returns:
        `tf.string`, the shape of `ids`.
    """
    import tensorflow as tf  # ingestion imports this module without TensorFlow

    space = _character_class()
    return tf.strings.regex_replace(ids, f"^[{space}]+|[{space}]+$", "")
