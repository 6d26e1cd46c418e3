"""Text normalisation: HTML entities and tags, Unicode forms, control characters, spaces.

Each step is written in TensorFlow string ops (core TF, plus TF Text's `NormalizeUTF8`
for Unicode forms), maps a `tf.string` batch [N] to [N], and is also callable on one
Python `str` for convenience (see `text.regex.text_step`). The same code runs in the
data stage (`text.clean`, step by step, counting edits) and in the model's graph
(`text.steps.clean_texts`, first step of `SentimentPreprocessor`), so training and
serving read the same text.

Real review dumps need all of these: Amazon 2014 writes quotes as `&#34;`, Amazon 2018
keeps `<div ...>` video widgets and `&nbsp;` in a few All_Beauty reviews, and web-scraped
text carries zero-width spaces and stray control bytes.

Example:

>>> normalize_text("Great&#34;  tone<br/>&nbsp;for\\u200b the price")
'Great" tone for the price'
"""

from __future__ import annotations

import functools
import html
import html.entities

import tensorflow as tf
import tensorflow_text as tf_text

from tfrec_sentiment.text.regex import SPACE, WORD, map_matches, on_rows_matching, text_step

# Only well-formed entities with their semicolon: expanding legacy bare names would
# turn "salt&not pepper" into "salt¬ pepper".
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_ENTITY_PASSES = 3  # "&amp;#34;" needs two passes; three bound the work
_MARK_MATCH = b"\xff\\0\xff"  # the whole match between two MARK bytes
_HASH_BUCKETS = 2**62

# Known HTML element names only, so that "<sigh>", "<3" or "<sales@example.com>" survive.
_TAG_NAMES = (
    "a|abbr|b|big|blockquote|body|br|button|center|code|dd|del|div|dl|dt|em|embed|font|"
    "form|h[1-6]|head|hr|html|i|iframe|img|input|ins|label|li|link|meta|noscript|object|"
    "ol|option|p|param|pre|s|select|small|source|span|strike|strong|sub|sup|table|tbody|"
    "td|textarea|tfoot|th|thead|tr|tt|u|ul|video"
)
_TAG = rf"(?i)</?(?:{_TAG_NAMES})(?:[{SPACE}][^<>]*)?/?[{SPACE}]*>"
# `<script ...>...</script>`: the name ends at ">" or at a non-word character.
_BLOCK_WITH_BODY = "(?is)" + "|".join(
    rf"<{name}(?:>|[^{WORD}>][^>]*>).*?</{name}[{SPACE}]*>" for name in ("script", "style"))
_COMMENT = r"(?s)<!--.*?-->"

# C0/C1 controls (tab, newline, carriage return and the other whitespace controls are
# left to whitespace collapsing), soft hyphen, zero-width space, word joiner, BOM and
# bidi overrides. The zero-width joiner U+200D stays: emoji sequences need it.
# (Lone surrogates cannot reach a UTF-8 string: `text.regex.encode_strings` drops them.)
_CONTROL = (r"[\x00-\x08\x0e-\x1b\x7f-\x{84}\x{86}-\x{9f}\x{ad}\x{200b}\x{200e}\x{200f}"
            r"\x{202a}-\x{202e}\x{2060}\x{2066}-\x{2069}\x{feff}]")
# Runs that need rewriting: two or more characters, or any whitespace but " ".
_SPACE_RUN = rf"(?: ?[{SPACE.replace(' ', '')}]| [{SPACE}])[{SPACE}]*"

UNICODE_FORMS = ("NFC", "NFKC")


@functools.cache
def _numeric_exceptions() -> tuple[list[int], list[str]]:
    # Code points HTML maps to something other than themselves (cp1252 for 0x80-0x9f,
    # U+FFFD for NUL, "" for non-characters), read from the stdlib's html.unescape.
    candidates = [*range(0xA0), *range(0xFDD0, 0xFDF0),
                  *(plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF))]
    table = {c: html.unescape(f"&#{c};") for c in candidates}
    keys = sorted(c for c, value in table.items() if value != chr(c))
    return keys, [table[c] for c in keys]


@functools.cache
def _named_entities() -> tuple[list[str], list[str]]:
    names = sorted(n for n in html.entities.html5 if n.endswith(";"))
    return [f"&{n}" for n in names], [html.entities.html5[n] for n in names]


def _code_points(entities: tf.Tensor) -> tf.Tensor:
    """`&#n;` / `&#xh;` -> the number, int64 [M] (garbage for named entities)."""
    hexadecimal = tf.strings.regex_full_match(entities, "&#[xX].*")
    digits = tf.strings.regex_replace(entities, r"^&#[xX]?|;$", "")
    # Left-pad to 7 characters, read the bytes as a dense [M, 7] and weigh the places.
    padded = tf.strings.join(["0000000", digits])
    padded = tf.strings.substr(padded, tf.strings.length(padded) - 7, tf.fill(tf.shape(padded), 7))
    chars = tf.reshape(tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64), [-1, 7])
    values = tf.where(chars <= ord("9"), chars - ord("0"), tf.bitwise.bitwise_or(chars, 32) - 87)
    places = tf.where(hexadecimal[:, None],
                      tf.constant([16**p for p in range(6, -1, -1)], tf.int64),
                      tf.constant([10**p for p in range(6, -1, -1)], tf.int64))
    return tf.reduce_sum(values * places, axis=1)


def _entity_table() -> tuple[tf.Tensor, ...]:
    """The HTML5 named entities as tensors: names, characters, sorted name
    fingerprints and the order that sorts them (a stateless lookup table)."""
    names, characters = _named_entities()
    names = tf.constant(names)
    hashes = tf.strings.to_hash_bucket_fast(names, _HASH_BUCKETS)
    order = tf.argsort(hashes)
    return names, tf.constant(characters), tf.gather(hashes, order), order


def _decode_entities(entities: tf.Tensor, table: tuple[tf.Tensor, ...]) -> tf.Tensor:
    """`&...;` [M] -> their characters [M] (unknown names as written), as html.unescape.

    Named ones are found by fingerprint (binary search in `table`) and then checked
    by string, so an unknown name or a fingerprint collision is never replaced.
    """
    numeric = tf.strings.regex_full_match(entities, "&#.*")
    points = tf.where(numeric, _code_points(entities), tf.constant(0, tf.int64))
    keys, values = _numeric_exceptions()
    slot = tf.minimum(tf.searchsorted(tf.constant(keys, tf.int64), points), len(keys) - 1)
    excepted = tf.gather(tf.constant(keys, tf.int64), slot) == points
    invalid = ((points >= 0xD800) & (points <= 0xDFFF)) | (points > 0x10FFFF)
    safe = tf.cast(tf.where(invalid | excepted, tf.constant(0xFFFD, tf.int64), points), tf.int32)
    numbers = tf.raw_ops.UnicodeEncode(  # one code point per string
        input_values=safe, input_splits=tf.range(tf.size(safe, tf.int64) + 1),
        output_encoding="UTF-8", errors="replace", replacement_char=0xFFFD)
    numbers = tf.where(excepted, tf.gather(tf.constant(values), slot), numbers)

    names, characters, hashes_sorted, order = table
    hashes = tf.strings.to_hash_bucket_fast(entities, _HASH_BUCKETS)
    slot = tf.minimum(tf.searchsorted(hashes_sorted, hashes), tf.size(order) - 1)
    index = tf.gather(order, slot)
    known = tf.gather(names, index) == entities
    named = tf.where(known, tf.gather(characters, index), entities)
    return tf.where(numeric, numbers, named)


@text_step
def unescape_html(texts: tf.Tensor) -> tf.Tensor:
    """Expands HTML character references (`&#34;`, `&amp;`, `&nbsp;`), twice-escaped too.

    Args:
        texts: `tf.string` [N] (or one `str`).

    Returns:
        The texts with every well-formed `&name;` (the HTML5 table of `html.entities`)
        / `&#n;` / `&#xh;` reference replaced by its character, as `html.unescape`
        does (`&#0;` -> U+FFFD, `&#150;` -> "–"); unknown names (`&qid;`) are kept as
        written. Up to three passes, so `&amp;#34;` becomes `"`.
    """
    def expand(texts: tf.Tensor) -> tf.Tensor:
        table = _entity_table()
        for _ in range(_ENTITY_PASSES):
            texts = map_matches(texts, _ENTITY, _MARK_MATCH,
                                lambda found: _decode_entities(found, table))
        return texts

    return on_rows_matching(texts, "(?s).*&.*", expand)


@text_step
def strip_html_tags(texts: tf.Tensor) -> tf.Tensor:
    """Replaces HTML tags, comments and script/style blocks with a space.

    Only known HTML element names count as tags, so emoticons and angle-bracketed
    words in a review are left alone.
    """
    def strip(texts: tf.Tensor) -> tf.Tensor:
        texts = tf.strings.regex_replace(texts, _BLOCK_WITH_BODY, " ")
        texts = tf.strings.regex_replace(texts, _COMMENT, " ")
        return tf.strings.regex_replace(texts, _TAG, " ")

    return on_rows_matching(texts, "(?s).*<.*", strip)


@text_step
def normalize_unicode(texts: tf.Tensor, form: str = "NFKC") -> tf.Tensor:
    """Applies Unicode normalisation form `form` ("NFC" or "NFKC"; TF Text, ICU).

    NFKC (the default) also folds compatibility characters: no-break spaces, full-width
    letters and digits, ligatures such as "ﬁ". NFC only composes accents.

    Raises:
        ValueError: for any other form.
    """
    _check_form(form)
    return tf_text.normalize_utf8(texts, form)


@text_step
def remove_control_chars(texts: tf.Tensor) -> tf.Tensor:
    """Deletes control and invisible format characters (see `_CONTROL`)."""
    return tf.strings.regex_replace(texts, _CONTROL, "")


@text_step
def collapse_whitespace(texts: tf.Tensor) -> tf.Tensor:
    """Turns every run of whitespace (Python's `\\s`) into one space; strips the ends."""
    # A single " " is left alone: rewriting each of a review's spaces is slow.
    return tf.strings.strip(tf.strings.regex_replace(texts, _SPACE_RUN, " "))


def _check_form(form: str) -> None:
    if form not in UNICODE_FORMS:
        raise ValueError(f"unicode form must be one of {UNICODE_FORMS}, got {form!r}")


def normalize_steps(unicode_form: str = "NFKC") -> tuple[tuple[str, object], ...]:
    """The normalisation steps in order, each named by the edit it counts.

    Entities are expanded before tags are stripped, so twice-escaped markup such as
    `&lt;br /&gt;` is removed too; Unicode normalisation follows, because entities
    expand to characters (`&nbsp;`) that it folds. Each step takes a `tf.string`
    batch or one `str` (see `text_step`).
    """
    _check_form(unicode_form)
    return (
        ("html_unescaped", unescape_html),
        ("html_tags_removed", strip_html_tags),
        ("unicode_normalized", functools.partial(normalize_unicode, form=unicode_form)),
        ("control_chars_removed", remove_control_chars),
        ("whitespace_collapsed", collapse_whitespace),
    )


def normalize_text(text: str, unicode_form: str = "NFKC") -> str:
    """Runs every normalisation step on one string (see `normalize_steps` for the order)."""
    for _, step in normalize_steps(unicode_form):
        text = step(text)
    return text
