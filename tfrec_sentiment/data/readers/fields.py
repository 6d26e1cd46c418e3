"""Field parsers shared by every reader: one place decides what a valid value is.

Each parser takes the raw value of one source field and returns the canonical value,
or raises `FieldError` with a specific reason (e.g. "rating_out_of_range") and the
source field's name, which the reader turns into a `Rejection` for that record.

Example:

>>> parse_count("1,341", "vote")
1341
>>> parse_rating("five", "overall")
Traceback (most recent call last):
...
tfrec_sentiment.data.readers.fields.FieldError: rating_not_a_number in field 'overall': 'five'
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

from tfrec_sentiment.data.schema import RATING_MAX, RATING_MIN

# Seconds; later than 2100-01-01 is taken as a unit mistake (e.g. milliseconds).
TIMESTAMP_MAX = 4_102_444_800
_SURROGATE = re.compile("[\ud800-\udfff]")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


class FieldError(ValueError):
    """One field of one record is missing or invalid.

    Attributes:
        reason: a short snake_case reason, counted in the ingestion report.
        field: the SOURCE field name (e.g. "reviewerID"), "" if no single field.
        detail: the offending value, shortened, for the rejected-records file.
    """

    def __init__(self, reason: str, field: str = "", detail: str = "") -> None:
        super().__init__(f"{reason} in field {field!r}: {detail}")
        self.reason = reason
        self.field = field
        self.detail = detail


def shorten(value: Any, limit: int = 80) -> str:
    """`repr` of a value cut to `limit` characters, for rejection details."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def has_surrogate(text: str) -> bool:
    """True if `text` holds lone surrogates (undecodable bytes or broken escapes)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_string(value: Any, field: str, canonical: str) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # Numeric ids / texts (CSV, Parquet) are kept as their decimal spelling.
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    else:
        raise FieldError(f"{canonical}_invalid", field, shorten(value))
    if has_surrogate(text):
        raise FieldError("invalid_unicode", field, shorten(text))
    return text


def require_id(record: Mapping[str, Any], field: str, canonical: str) -> str:
    """A non-empty id (user or item); reason `missing_<canonical>` when absent or blank."""
    value = record.get(field)
    if type(value) is str and value.isascii() and value.strip():  # the common case, fast
        return value.strip()
    if _is_missing(value):
        raise FieldError(f"missing_{canonical}", field, shorten(value))
    return _as_string(value, field, canonical).strip()


def optional_text(record: Mapping[str, Any], field: str | None, canonical: str) -> str:
    """A free-text field; "" when the source has none (cleaning decides about empties)."""
    if field is None:
        return ""
    value = record.get(field)
    if _is_missing(value):
        return ""
    return _as_string(value, field, canonical)


def parse_rating(value: Any, field: str) -> float:
    """Stars as a float in [RATING_MIN, RATING_MAX]; numeric strings are accepted."""
    if type(value) is float and RATING_MIN <= value <= RATING_MAX:  # the common case, fast
        return value
    if _is_missing(value):
        raise FieldError("missing_rating", field, shorten(value))
    number = _as_number(value, field, "rating_not_a_number")
    if not RATING_MIN <= number <= RATING_MAX:
        raise FieldError("rating_out_of_range", field, shorten(value))
    return number


def parse_count(value: Any, field: str, canonical: str = "helpful_votes") -> int:
    """A non-negative vote count; missing is 0, "1,341" is 1341 (Amazon 2018 `vote`)."""
    if type(value) is int and value >= 0:  # the common case, fast
        return value
    if _is_missing(value):
        return 0
    if isinstance(value, str):
        value = value.replace(",", "").strip()
    number = _as_number(value, field, f"{canonical}_invalid")
    if not number.is_integer():
        raise FieldError(f"{canonical}_invalid", field, shorten(value))
    if number < 0:
        raise FieldError(f"{canonical}_negative", field, shorten(value))
    return int(number)


def parse_epoch(value: Any, field: str, unit: str = "s") -> int:
    """Seconds since the epoch (UTC) from a number in `unit` ("s" or "ms"), an ISO date
    string or a datetime.

    ISO strings ("2011-01-26", "2016-03-09 00:00:00") without a zone are taken as UTC.
    """
    if _is_missing(value):
        raise FieldError("missing_timestamp", field, shorten(value))
    if isinstance(value, datetime.date):  # Parquet timestamp / date columns
        seconds = _datetime_seconds(value)
    elif isinstance(value, str) and not _looks_numeric(value):
        seconds = _parse_iso(value, field)
    else:
        number = _as_number(value, field, "timestamp_invalid")
        seconds = int(number // 1000) if unit == "ms" else int(number)
    if not 0 <= seconds <= TIMESTAMP_MAX:
        raise FieldError("timestamp_out_of_range", field, shorten(value))
    return seconds


def parse_us_date(value: Any, field: str) -> int:
    """Amazon's `reviewTime` ("02 28, 2014") as epoch seconds, UTC midnight."""
    if not isinstance(value, str):
        raise FieldError("missing_timestamp", field, shorten(value))
    try:
        day = datetime.datetime.strptime(value.strip(), "%m %d, %Y")
    except ValueError as error:
        raise FieldError("timestamp_invalid", field, shorten(value)) from error
    return int(day.replace(tzinfo=datetime.UTC).timestamp())


def parse_flag(value: Any, field: str) -> bool | None:
    """A yes/no flag; None (unknown) when missing."""
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FieldError("verified_invalid", field, shorten(value))


def _as_number(value: Any, field: str, reason: str) -> float:
    if isinstance(value, bool):
        raise FieldError(reason, field, shorten(value))
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise FieldError(reason, field, shorten(value)) from error
    if not math.isfinite(number):
        raise FieldError(reason, field, shorten(value))
    return number


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_iso(text: str, field: str) -> int:
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise FieldError("timestamp_invalid", field, shorten(text)) from error
    return _datetime_seconds(moment)


def _datetime_seconds(moment: datetime.date) -> int:
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:  # zone-less times are taken as UTC
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())
