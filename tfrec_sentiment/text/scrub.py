"""PII scrubbing: URLs, e-mail addresses and phone numbers become placeholders.

Reviews sometimes carry their author's (or a seller's) contact details. They are
replaced by `[URL]`, `[EMAIL]` and `[PHONE]` so that neither the sentiment model nor a
published run folder keeps them. The patterns lean towards precision: dates, prices,
decimals, string gauges, ASINs and model numbers ("Fender 099 0818 300") are not
phone numbers, and a bare domain ("amazon.com") is not scrubbed.

Phone numbers are recognised as:
- North American, with separators: `(555) 123-4567`, `555-123-4567`, `555.123.4567`,
  with an optional `+1` / `1-` prefix (then spaces also separate: `+1 555 123 4567`);
- international with a leading `+`: `+44 20 7946 0958`, `+49 (0)30 1234567`
  (8 to 15 digits in all);
- any 7 to 15 digit number right after a cue such as "phone", "tel:", "call me at",
  "fax", "whatsapp" (`call 5551234567`, `Tel: 020 7946 0958`).

Like `text.normalize`, every step is TensorFlow string ops (RE2; see `text.regex` for
how look-arounds are rewritten), takes a `tf.string` batch [N] or one `str`, and runs
both in the data stage and inside the model's graph.

Example:

>>> scrub_text("Mail me at jo.doe@example.com or call (555) 123-4567, see https://x.io/a.")
'Mail me at [EMAIL] or call [PHONE], see [URL].'
"""

from __future__ import annotations

import tensorflow as tf

from tfrec_sentiment.text import regex
from tfrec_sentiment.text.regex import (
    ascii_digit_count,
    map_matches,
    on_rows_matching,
    text_step,
)

D, S, W = regex.DIGIT, regex.SPACE, regex.WORD  # Python's \d, \s, \w (RE2 class bodies)

URL_PLACEHOLDER = "[URL]"
EMAIL_PLACEHOLDER = "[EMAIL]"
PHONE_PLACEHOLDER = "[PHONE]"
PLACEHOLDERS = (URL_PLACEHOLDER, EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER)

# Python's `\b` before a word: the preceding character, captured and put back.
_WORD_START = rf"(^|[^{W}])"

# --- URLs: http(s)/ftp, www., or a bare domain with a path ("amazon.com/dp/B00...").
_TLD = r"\.(?:com|net|org|edu|gov|io|co|uk|de|ly|me|info|biz)/"
_URL_START = (rf"(?:(?:https?|ftp)://|www{D}{{0,3}}\.[a-z0-9]|"
              rf"[a-z0-9-]+(?:\.[a-z0-9-]+)*{_TLD})")
# The rest of a URL is non-space text in which brackets balance (two levels deep; a
# closing bracket the URL did not open ends it, and so does an unclosed opening one)
# and whose last character is not sentence punctuation, which stays outside.
_URL_CHAR = rf'[^{S}<>"()]'
_URL_LAST = rf"""[^{S}<>"().,;:!?'\]}}]"""
_GROUP1 = rf"\({_URL_CHAR}*\)"
_GROUP2 = rf"\((?:{_URL_CHAR}|{_GROUP1})*\)"
_URL = (rf"(?i){_WORD_START}{_URL_START}"
        rf"(?:(?:{_URL_CHAR}|{_GROUP2})*(?:{_URL_LAST}|{_GROUP2}))?")

# --- E-mail addresses, also obfuscated "name (at) host (dot) com".
_AT = rf"(?:@|[{S}]?[\[(][{S}]?at[{S}]?[\])][{S}]?)"
_DOT = rf"(?:\.|[{S}]?[\[(][{S}]?dot[{S}]?[\])][{S}]?)"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_EMAIL = (rf"(?i)(^|[^{W}.+-])[a-z0-9][a-z0-9._%+-]*{_AT}{_LABEL}(?:{_DOT}{_LABEL})*"
          rf"{_DOT}[a-z]{{2,24}}(?:$|([^{W}]))")

# --- Phone numbers. No digit, decimal point, currency sign, slash or hyphen may touch
# one: that keeps prices, decimals, dates and part numbers out. The character after a
# number is captured (RE2 has no look-ahead), so a list "555-234-5678, 555-234-5679"
# needs a second pass for every other number.
_NOT_BEFORE = rf"(^|[^{W}$€£.,/+-])"
_NOT_AFTER = rf"(?:$|([^{W}/.,-]|[.,](?:$|[^{D}])))"
_NANP = (
    _NOT_BEFORE
    + r"(?:"
    + rf"(?:\+?1[-. ]?)?\([2-9]{D}{{2}}\)[ -]?{D}{{3}}[-. ]{D}{{4}}"  # (555) 123-4567
    + rf"|(?:\+1[-.]?|1[-.])?[2-9]{D}{{2}}(?:-{D}{{3}}-|\.{D}{{3}}\.){D}{{4}}"  # 555-123-4567
    + rf"|\+?1[-. ][2-9]{D}{{2}}(?:-{D}{{3}}-|\.{D}{{3}}\.| {D}{{3}} ){D}{{4}}"  # +1 555 123 4567
    + r")"
    + _NOT_AFTER
)
_INTERNATIONAL = (_NOT_BEFORE
                  + rf"(\+[1-9]{D}{{0,2}}(?:[ .-]?(?:\({D}{{1,4}}\)|{D}{{1,5}})){{2,6}})"
                  + _NOT_AFTER)
# A cue word and its separator; the separator's last character must be a space, ":"
# or "#" (the number itself may not follow a letter, ".", "," or "/").
_CUE_WORD = (r"(?:phone|telephone|tel|cell(?:phone)?|mobile|fax|whats ?app|"
             rf"(?:call|text)(?:[{S}]+(?:me|us))?(?:[{S}]+at)?)")
_CUE_LABEL = rf"[{S}]*(?:number|no\.?|#)?[{S}]*"
_CUE = (rf"(?:{_CUE_WORD}(?:{_CUE_LABEL}[:.]?[{S}]*[{S}]|{_CUE_LABEL}:|[{S}]*#)"
        rf"|ph[{S}]*:[{S}]*)")
_CUED = (rf"(?i){_WORD_START}({_CUE})(\+?{D}[{D} ().-]{{5,22}}{D})" + _NOT_AFTER)

# Pre-filters (see `on_rows_matching`): what any match must contain.
_URL_HINT = rf"(?is).*(?:://|www|{_TLD}).*"
_EMAIL_HINT = rf"(?is).*(?:@|[\[(][{S}]?at[{S}]?[\])]).*"
_PHONE_HINT = r"(?s)(?:[^0-9]*[0-9]){7}.*"  # every format has 7 digits or more

_KEEP_NEIGHBOURS = b"\\1" + PHONE_PLACEHOLDER.encode() + b"\\2"


def _phones_with_digits(low: int, high: int):
    def replace(numbers: tf.Tensor) -> tf.Tensor:
        count = ascii_digit_count(numbers)
        return tf.where((count >= low) & (count <= high), PHONE_PLACEHOLDER, numbers)

    return replace


@text_step
def scrub_urls(texts: tf.Tensor) -> tf.Tensor:
    """Replaces http(s)/ftp URLs, `www.` addresses and bare domains with a path by `[URL]`.

    Trailing punctuation that ends the sentence stays outside the placeholder.
    """
    def replace(texts: tf.Tensor) -> tf.Tensor:
        return tf.strings.regex_replace(texts, _URL, "\\1" + URL_PLACEHOLDER)

    return on_rows_matching(texts, _URL_HINT, replace)


@text_step
def scrub_emails(texts: tf.Tensor) -> tf.Tensor:
    """Replaces e-mail addresses (also `name (at) host (dot) com`) by `[EMAIL]`."""
    def replace(texts: tf.Tensor) -> tf.Tensor:
        for _ in range(2):  # the captured follower may be the next address's neighbour
            texts = tf.strings.regex_replace(texts, _EMAIL, "\\1" + EMAIL_PLACEHOLDER + "\\2")
        return texts

    return on_rows_matching(texts, _EMAIL_HINT, replace)


@text_step
def scrub_phones(texts: tf.Tensor) -> tf.Tensor:
    """Replaces phone numbers (formats in the module docstring) by `[PHONE]`."""
    def replace(texts: tf.Tensor) -> tf.Tensor:
        for _ in range(2):
            texts = tf.strings.regex_replace(texts, _NANP, _KEEP_NEIGHBOURS)
        for _ in range(2):
            texts = map_matches(texts, _INTERNATIONAL, b"\\1\xff\\2\xff\\3",
                                _phones_with_digits(8, 15))
        for _ in range(2):
            texts = map_matches(texts, _CUED, b"\\1\\2\xff\\3\xff\\4",
                                _phones_with_digits(7, 15))
        return texts

    return on_rows_matching(texts, _PHONE_HINT, replace)


def scrub_steps() -> tuple[tuple[str, object], ...]:
    """The scrubbing steps in order, each named by the edit it counts.

    URLs go first: they may contain "@" and long digit runs that would otherwise be
    read as an e-mail address or a phone number.
    """
    return (
        ("url_scrubbed", scrub_urls),
        ("email_scrubbed", scrub_emails),
        ("phone_scrubbed", scrub_phones),
    )


def scrub_text(text: str) -> str:
    """Runs every scrubbing step on one string."""
    for _, step in scrub_steps():
        text = step(text)
    return text
