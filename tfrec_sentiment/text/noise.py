"""Spam-like noise: reviews that carry no words a reader (or a classifier) could use.

The rules are deliberately conservative. Real short reviews ("Great!", "ok", "A+",
"5 stars, works") are kept; only these are flagged, judged on the title and text of a
review together, after cleaning and with PII placeholders (`[URL]` ...) ignored:

| reason               | rule                                                         |
|----------------------|--------------------------------------------------------------|
| `empty_text`         | title and text are both empty                                |
| `spam_no_letters`    | no letter and no emoji/symbol at all ("!!!", "10/10", a bare |
|                      | URL), so nothing is left to read                             |
| `spam_repeated_char` | one character repeated, 3 or more times ("aaaa", "......")   |
| `spam_repeated_word` | one word repeated, 5 or more times and nothing else          |
|                      | ("good good good good good")                                 |

Example:

>>> [noise_reason(t, "") for t in ["Great!", "ok", "!!!!", "zzzzzz", ""]]
[None, None, 'spam_no_letters', 'spam_repeated_char', 'empty_text']
"""

from __future__ import annotations

import re
import unicodedata

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


def _has_readable_char(text: str) -> bool:
    # A letter in any script, or an emoji/symbol such as "👍" that carries sentiment.
    for char in text:
        if char.isalpha() or unicodedata.category(char) == "So":
            return True
    return False


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
    if not _has_readable_char(compact):
        return SPAM_NO_LETTERS
    if len(compact) >= MIN_REPEATED_CHARS and compact.count(compact[0]) == len(compact):
        return SPAM_REPEATED_CHAR
    words = combined.lower().split()
    if (len(words) >= MIN_REPEATED_WORDS and words[0].isalpha()
            and words.count(words[0]) == len(words)):
        return SPAM_REPEATED_WORD
    return None
