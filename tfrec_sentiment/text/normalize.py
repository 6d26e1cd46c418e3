"""Text normalisation: HTML entities and tags, Unicode forms, control characters, spaces.

Each function maps one string to one string, returns its input unchanged (the same
object) when there is nothing to do, and has a cheap fast path, so that callers can
run it over every review and count the reviews it changed (see `text.clean`).

Real review dumps need all of these: Amazon 2014 writes quotes as `&#34;`, Amazon 2018
keeps `<div ...>` video widgets and `&nbsp;` in a few All_Beauty reviews, and web-scraped
text carries zero-width spaces and stray control bytes.

Example:

>>> normalize_text("Great&#34;  tone<br/>&nbsp;for\\u200b the price")
'Great" tone for the price'
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

# Only well-formed entities with their semicolon: html.unescape alone would also
# expand legacy bare names, turning "salt&not pepper" into "salt¬ pepper".
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Known HTML element names only, so that "<sigh>", "<3" or "<sales@example.com>" survive.
_TAG_NAMES = (
    "a|abbr|b|big|blockquote|body|br|button|center|code|dd|del|div|dl|dt|em|embed|font|"
    "form|h[1-6]|head|hr|html|i|iframe|img|input|ins|label|li|link|meta|noscript|object|"
    "ol|option|p|param|pre|s|select|small|source|span|strike|strong|sub|sup|table|tbody|"
    "td|textarea|tfoot|th|thead|tr|tt|u|ul|video"
)
_TAG = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?\s*>", re.IGNORECASE)
_BLOCK_WITH_BODY = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

# C0/C1 controls (tab, newline and carriage return are left to whitespace collapsing),
# lone surrogates, soft hyphen, zero-width space, word joiner, BOM and bidi overrides.
# The zero-width joiner U+200D stays: emoji sequences need it.
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e"
    "\u2060\u2066-\u2069\ufeff\ud800-\udfff]"
)
_SPACES = re.compile(r"\s+")

UNICODE_FORMS = ("NFC", "NFKC")


def unescape_html(text: str) -> str:
    """Expands HTML character references (`&#34;`, `&amp;`, `&nbsp;`), twice-escaped too.

    Args:
        text: one review field.

    Returns:
        The text with every well-formed `&name;` / `&#n;` reference replaced by its
        character; unknown names (`&qid;`) are kept as written.
    """
    for _ in range(3):  # "&amp;#34;" needs two passes; three bounds the loop
        if "&" not in text:
            return text
        expanded = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if expanded == text:
            return text
        text = expanded
    return text


def strip_html_tags(text: str) -> str:
    """Replaces HTML tags, comments and script/style blocks with a space.

    Only known HTML element names count as tags, so emoticons and angle-bracketed
    words in a review are left alone.
    """
    if "<" not in text:
        return text
    text = _BLOCK_WITH_BODY.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    return _TAG.sub(" ", text)


def normalize_unicode(text: str, form: str = "NFKC") -> str:
    """Applies Unicode normalisation form `form` ("NFC" or "NFKC").

    NFKC (the default) also folds compatibility characters: no-break spaces, full-width
    letters and digits, ligatures such as "ﬁ". NFC only composes accents.
    """
    if form not in UNICODE_FORMS:
        raise ValueError(f"unicode form must be one of {UNICODE_FORMS}, got {form!r}")
    if text.isascii():
        return text
    normalized = unicodedata.normalize(form, text)
    return text if normalized == text else normalized


def remove_control_chars(text: str) -> str:
    """Deletes control and invisible format characters (see `_CONTROL`)."""
    if text.isascii() and text.isprintable():
        return text
    return _CONTROL.sub("", text)


def collapse_whitespace(text: str) -> str:
    """Turns every run of whitespace (newlines included) into one space; strips the ends."""
    collapsed = _SPACES.sub(" ", text).strip()
    return text if collapsed == text else collapsed


def normalize_steps(unicode_form: str = "NFKC") -> tuple[tuple[str, Callable[[str], str]], ...]:
    """The normalisation steps in order, each named by the edit it counts.

    Entities are expanded before tags are stripped, so twice-escaped markup such as
    `&lt;br /&gt;` is removed too; Unicode normalisation follows, because entities
    expand to characters (`&nbsp;`) that it folds.
    """
    if unicode_form not in UNICODE_FORMS:
        raise ValueError(f"unicode form must be one of {UNICODE_FORMS}, got {unicode_form!r}")
    return (
        ("html_unescaped", unescape_html),
        ("html_tags_removed", strip_html_tags),
        ("unicode_normalized", lambda text: normalize_unicode(text, unicode_form)),
        ("control_chars_removed", remove_control_chars),
        ("whitespace_collapsed", collapse_whitespace),
    )


def normalize_text(text: str, unicode_form: str = "NFKC") -> str:
    """Runs every normalisation step on one string (see `normalize_steps` for the order)."""
    for _, step in normalize_steps(unicode_form):
        text = step(text)
    return text
