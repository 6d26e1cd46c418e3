"""Spam-like noise: reviews that carry no words a reader (or a classifier) could use.

The rules are deliberately conservative. Real short reviews ("Great!", "ok", "A+",
"5 stars, works", "10/10", "👍", "👍👍👍", "★★★★★", "⭐⭐⭐⭐⭐") are kept: emoji, symbols
and written ratings carry sentiment, and the classifier reads them as words
(`text.emoji`). Only these are flagged, judged on the title and text of a review
together, after cleaning and with PII placeholders (`[URL]` ...) ignored:

| reason               | rule                                                         |
|----------------------|--------------------------------------------------------------|
| `empty_text`         | title and text are both empty                                |
| `spam_no_letters`    | no letter, no emoji/symbol and no "N/M" rating ("10/10",     |
|                      | "4.5/5") at all ("!!!", "......", a bare URL), so nothing is |
|                      | left to read                                                 |
| `spam_repeated_char` | one letter, digit or punctuation mark repeated, 3 or more    |
|                      | times ("aaaa", "zz z"); a repeated emoji or star is kept     |
| `spam_repeated_word` | one word repeated, 5 or more times and nothing else          |
|                      | ("good good good good good")                                 |

Example:

>>> [noise_reason(t, "") for t in ["Great!", "ok", "!!!!", "zzzzzz", "", "👍👍👍", "10/10"]]
[None, None, 'spam_no_letters', 'spam_repeated_char', 'empty_text', None, None]
"""

from __future__ import annotations

import re
import unicodedata

from tfrec_sentiment.text.emoji import is_emoji
from tfrec_sentiment.text.scrub import PLACEHOLDERS

EMPTY_TEXT = "empty_text"
SPAM_NO_LETTERS = "spam_no_letters"
SPAM_REPEATED_CHAR = "spam_repeated_char"
SPAM_REPEATED_WORD = "spam_repeated_word"
NOISE_REASONS = (EMPTY_TEXT, SPAM_NO_LETTERS, SPAM_REPEATED_CHAR, SPAM_REPEATED_WORD)

MIN_REPEATED_CHARS = 3
MIN_REPEATED_WORDS = 5

_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_SPACE = re.compile(r"\s+")
_RATING = re.compile(r"\d+(?:[.,]\d+)?\s*/\s*\d+")  # "10/10", "4.5/5"


def _is_symbol(char: str) -> bool:
    # An emoji or symbol such as "👍", "★" or "♥" that carries sentiment.
    return unicodedata.category(char) == "So" or is_emoji(char)


def _has_readable_char(text: str) -> bool:
    # A letter in any script, or an emoji/symbol.
    return any(char.isalpha() or _is_symbol(char) for char in text)


def noise_reason(text: str, title: str) -> str | None:
    """Why the review is noise, or None if it is kept.

    Args:
        text: the cleaned review body.
        title: the cleaned title ("" when absent).

    Returns:
        One of `NOISE_REASONS`, or None.
    """
    if not text and not title:
        return EMPTY_TEXT
    combined = _PLACEHOLDER.sub(" ", f"{title} {text}")
    compact = _SPACE.sub("", combined)
    if not _has_readable_char(compact) and not _RATING.search(combined):
        return SPAM_NO_LETTERS
    if (len(compact) >= MIN_REPEATED_CHARS and not _is_symbol(compact[0])
            and compact.count(compact[0]) == len(compact)):
        return SPAM_REPEATED_CHAR
    words = combined.lower().split()
    if (len(words) >= MIN_REPEATED_WORDS and words[0].isalpha()
            and words.count(words[0]) == len(words)):
        return SPAM_REPEATED_WORD
    return None
