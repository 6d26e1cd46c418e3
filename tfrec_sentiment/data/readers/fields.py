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
import time
from collections.abc import Mapping
from typing import Any

from tfrec_sentiment.data.ids import normalize_id
from tfrec_sentiment.data.schema import RATING_MAX, RATING_MIN

# Epoch seconds of 1995-01-01 UTC: no web review is older (Amazon opened in July 1995;
# its public review dumps, the oldest supported data sets, start in 1996; Yelp in 2004).
# An earlier time is a unit mistake (seconds read as ms: 1588687728 -> 1970-01-19).
TIMESTAMP_MIN = 788_918_400
DAY = 86_400
# Units a number can be in, and how many of them make a second.
TIME_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


def timestamp_max() -> int:
    """Latest plausible review time: tomorrow (now + 1 day, epoch seconds, UTC).

    A day of slack covers every time zone; anything later is a unit mistake (ms read
    as seconds) or a wrong clock, never a real review.
    """
    return int(time.time()) + DAY


def likely_unit(number: float) -> str | None:
    """The unit in TIME_UNITS in which `number` is a plausible review time, if any.

    The plausible span (1995 to tomorrow) is less than a factor 1000 wide, so at most
    one unit fits.

    Example:

    >>> likely_unit(1588687728), likely_unit(1588687728923), likely_unit(42)
    ('s', 'ms', None)
    """
    high = timestamp_max()
    for unit, scale in TIME_UNITS.items():
        if TIMESTAMP_MIN <= number / scale <= high:
            return unit
    return None


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


class TimestampRangeError(FieldError):
    """A time outside 1995-01-01 .. tomorrow (reason `timestamp_out_of_range`).

    Attributes:
        unit: the unit the field was read in ("s" or "ms").
        likely: the unit in which the raw number WOULD be plausible (see `likely_unit`),
            None for dates and for numbers implausible in every unit.
    """

    def __init__(self, field: str, detail: str, unit: str, likely: str | None) -> None:
        super().__init__("timestamp_out_of_range", field, detail)
        self.unit = unit
        self.likely = likely


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
    """A non-empty id (user or item); reason `missing_<canonical>` when absent or blank.

    Normalised by `data.ids.normalize_id` (the served graph applies the same rule).
    """
    value = record.get(field)
    if type(value) is str and value.isascii() and value.strip():  # the common case, fast
        return normalize_id(value)
    if _is_missing(value):
        raise FieldError(f"missing_{canonical}", field, shorten(value))
    return normalize_id(_as_string(value, field, canonical))


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
    string or a datetime; plausible review times only (1995-01-01 to tomorrow).

    ISO strings ("2011-01-26", "2016-03-09 00:00:00") without a zone are taken as UTC.

    Why these bounds: online reviews began with the web shops of 1995 (Amazon opened
    that July; its review dumps, the oldest supported, start in 1996), so an earlier time
    is a unit mistake, most often seconds read as milliseconds (which lands in January
    1970); a time after tomorrow (a day of slack for time zones) is milliseconds read
    as seconds or a broken clock. Either would sort first or last in every time split.

    Raises:
        FieldError: missing_timestamp, timestamp_invalid, or (TimestampRangeError)
            timestamp_out_of_range, whose detail names the date it would be and, for a
            number, the unit in which it would be plausible.

    Example:

    >>> parse_epoch(1588687728923, "timestamp", unit="ms")
    1588687728
    >>> try:  # doctest: +ELLIPSIS
    ...     parse_epoch(1588687728, "timestamp", unit="ms")
    ... except FieldError as error:
    ...     print(error.reason, "|", error.detail)
    timestamp_out_of_range | 1588687728 ms is 1970-01-19, before 1995-01-01; as seconds ...
    """
    if _is_missing(value):
        raise FieldError("missing_timestamp", field, shorten(value))
    number = None
    if isinstance(value, datetime.date):  # Parquet timestamp / date columns
        seconds = _datetime_seconds(value)
    elif isinstance(value, str) and not _looks_numeric(value):
        seconds = _parse_iso(value, field)
    else:
        number = _as_number(value, field, "timestamp_invalid")
        seconds = int(number // TIME_UNITS[unit])
    high = timestamp_max()
    if not TIMESTAMP_MIN <= seconds <= high:
        raise _out_of_range(value, field, unit, number, seconds, high)
    return seconds


def _out_of_range(value: Any, field: str, unit: str, number: float | None, seconds: int,
                  high: int) -> TimestampRangeError:
    shown = shorten(value) if number is None else f"{shorten(value)} {unit}"
    bound = "before 1995-01-01" if seconds < TIMESTAMP_MIN else \
        f"after tomorrow ({_date(high)})"
    detail = f"{shown} is {_date(seconds)}, {bound}"
    likely = likely_unit(number) if number is not None else None
    if likely is not None and likely != unit:
        detail += f"; as {UNIT_NAMES[likely]} it is {_date(number // TIME_UNITS[likely])}"
    return TimestampRangeError(field, detail, unit, likely)


def _date(seconds: float) -> str:
    """ISO date of epoch seconds, or a plain statement where datetime cannot show it."""
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return "beyond year 9999" if seconds > 0 else "before year 1"


def parse_us_date(value: Any, field: str) -> int:
    """Amazon's `reviewTime` ("02 28, 2014") as epoch seconds, UTC midnight."""
    if not isinstance(value, str):
        raise FieldError("missing_timestamp", field, shorten(value))
    try:
        day = datetime.datetime.strptime(value.strip(), "%m %d, %Y")
    except ValueError as error:
        raise FieldError("timestamp_invalid", field, shorten(value)) from error
    seconds = int(day.replace(tzinfo=datetime.UTC).timestamp())
    high = timestamp_max()
    if not TIMESTAMP_MIN <= seconds <= high:
        raise _out_of_range(value, field, "s", None, seconds, high)
    return seconds


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
