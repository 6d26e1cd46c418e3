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

Example:

>>> scrub_text("Mail me at jo.doe@example.com or call (555) 123-4567, see https://x.io/a.")
'Mail me at [EMAIL] or call [PHONE], see [URL].'
"""

from __future__ import annotations

import re
from collections.abc import Callable

URL_PLACEHOLDER = "[URL]"
EMAIL_PLACEHOLDER = "[EMAIL]"
PHONE_PLACEHOLDER = "[PHONE]"
PLACEHOLDERS = (URL_PLACEHOLDER, EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER)

_TLD = r"\.(?:com|net|org|edu|gov|io|co|uk|de|ly|me|info|biz)/"
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|\bwww\d{0,3}\.(?=[a-z0-9])|"
    # a bare domain counts only with a path: "amazon.com/dp/B00..." but not "amazon.com"
    r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*" + _TLD + r")"
    r"[^\s<>\"]*",
    re.IGNORECASE,
)
_URL_HINT = re.compile(r"://|www|" + _TLD, re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]}"

_EMAIL = re.compile(
    r"(?<![\w.+-])[a-z0-9][a-z0-9._%+-]*"
    r"(?:@|\s?[\[(]\s?at\s?[\])]\s?)"  # "@" or an obfuscated "(at)" / "[at]"
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"(?:(?:\.|\s?[\[(]\s?dot\s?[\])]\s?)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"(?:\.|\s?[\[(]\s?dot\s?[\])]\s?)[a-z]{2,24}\b",
    re.IGNORECASE,
)

# No digit, decimal point, currency sign, slash or hyphen may touch a phone number:
# that is what keeps prices, decimals, dates and part numbers out.
_NOT_BEFORE = r"(?<![\w$€£.,/+-])"
_NOT_AFTER = r"(?![\w/-]|[.,]\d)"
_NANP = re.compile(
    _NOT_BEFORE
    + r"(?:"
    + r"(?:\+?1[-. ]?)?\([2-9]\d{2}\)[ -]?\d{3}[-. ]\d{4}"  # (555) 123-4567
    + r"|(?:\+1[-.]?|1[-.])?[2-9]\d{2}(?P<sep>[-.])\d{3}(?P=sep)\d{4}"  # 555-123-4567
    + r"|\+?1[-. ][2-9]\d{2}(?P<sep2>[-. ])\d{3}(?P=sep2)\d{4}"  # +1 555 123 4567
    + r")"
    + _NOT_AFTER
)
_INTERNATIONAL = re.compile(
    _NOT_BEFORE + r"\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}" + _NOT_AFTER
)
_NUMBER = re.compile(r"(?<![\w.,/])\+?\d[\d ().-]{5,22}\d" + _NOT_AFTER)
_CUE_BEFORE = re.compile(
    r"\b(?:phone|telephone|tel|cell(?:phone)?|mobile|fax|whats ?app|ph(?=\s*:)|"
    r"(?:call|text)(?:\s+(?:me|us))?(?:\s+at)?)"
    r"\s*(?:number|no\.?|#)?\s*[:.]?\s*\Z",
    re.IGNORECASE,
)
_CUE_WINDOW = 32
_OBFUSCATED_AT = re.compile(r"[\[(]\s?at\s?[\])]", re.IGNORECASE)
_DROP_DIGITS = str.maketrans("", "", "0123456789")


def _digit_count(text: str) -> int:
    return len(text) - len(text.translate(_DROP_DIGITS))


def _replace_url(match: re.Match) -> str:
    url = match.group(0)
    # A closing bracket the URL did not open ends it: "(see http://x.com/a)and" keeps ")and".
    depth = 0
    for position, char in enumerate(url):
        depth += (char == "(") - (char == ")")
        if depth < 0:
            url = url[:position]
            break
    kept = url.rstrip(_URL_TRAILING)
    while url[len(kept):].startswith(")") and kept.count("(") > kept.count(")"):
        kept += ")"
    return URL_PLACEHOLDER + match.group(0)[len(kept):]


def scrub_urls(text: str) -> str:
    """Replaces http(s)/ftp URLs, `www.` addresses and bare domains with a path by `[URL]`.

    Trailing punctuation that ends the sentence stays outside the placeholder.
    """
    if not _URL_HINT.search(text):  # cheap: most reviews hold no URL
        return text
    return _URL.sub(_replace_url, text)


def scrub_emails(text: str) -> str:
    """Replaces e-mail addresses (also `name (at) host (dot) com`) by `[EMAIL]`."""
    if "@" not in text and not _OBFUSCATED_AT.search(text):
        return text
    return _EMAIL.sub(EMAIL_PLACEHOLDER, text)


def _replace_international(match: re.Match) -> str:
    number = match.group(0)
    return PHONE_PLACEHOLDER if 8 <= _digit_count(number) <= 15 else number


def _scrub_cued(text: str) -> str:
    # Number candidates are rare, so find them first and look back for a cue word.
    pieces, last = [], 0
    for match in _NUMBER.finditer(text):
        start = match.start()
        if (7 <= _digit_count(match.group(0)) <= 15
                and _CUE_BEFORE.search(text, max(0, start - _CUE_WINDOW), start)):
            pieces += [text[last:start], PHONE_PLACEHOLDER]
            last = match.end()
    return "".join(pieces) + text[last:] if pieces else text


def scrub_phones(text: str) -> str:
    """Replaces phone numbers (formats in the module docstring) by `[PHONE]`."""
    if _digit_count(text) < 7:  # no format here has fewer digits
        return text
    text = _NANP.sub(PHONE_PLACEHOLDER, text)
    if "+" in text:
        text = _INTERNATIONAL.sub(_replace_international, text)
    return _scrub_cued(text)


def scrub_steps() -> tuple[tuple[str, Callable[[str], str]], ...]:
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
