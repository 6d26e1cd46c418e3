"""The known review formats by name, and the guess of a file's format from its first record.

Example:

>>> resolve_format("amazon2018").source
'amazon2018'
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tfrec_sentiment.data.readers.amazon import AMAZON_2014, AMAZON_2018, AMAZON_2023
from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.format import ReviewFormat
from tfrec_sentiment.data.readers.generic import ColumnSpec, generic_format
from tfrec_sentiment.data.readers.streams import (
    DAMAGE_ERRORS,
    ReaderError,
    open_stream,
    sniff_kind,
)
from tfrec_sentiment.data.readers.yelp import YELP, YELP_CSV, YELP_JSON, YELP_REQUIRED

FORMATS: dict[str, ReviewFormat] = {
    "amazon2014": AMAZON_2014,
    "amazon2018": AMAZON_2018,
    "amazon2023": AMAZON_2023,
    "yelp": YELP,
    "yelp_csv": YELP_CSV,
    "yelp_json": YELP_JSON,
}
GENERIC_FORMATS = ("csv", "parquet", "jsonl")
FORMAT_NAMES: tuple[str, ...] = (*FORMATS, *GENERIC_FORMATS)
_GUESS_BYTES = 1 << 20


def resolve_format(name: str, columns: ColumnSpec = None) -> ReviewFormat:
    """The ReviewFormat for a `--format` name (generic ones take a column mapping).

    Raises:
        ValueError: unknown name, or a mapping given to a fixed format.
    """
    if name in GENERIC_FORMATS:
        return generic_format(name, columns)
    if name not in FORMATS:
        raise ValueError(f"unknown review format {name!r}; choose one of {list(FORMAT_NAMES)}")
    if columns:
        raise ValueError(f"a column mapping applies to {list(GENERIC_FORMATS)}, not {name!r}")
    return FORMATS[name]


def guess_format(path: str | Path, encoding: str | None = None) -> str:
    """Guesses a format name from a file's first record (compression is seen through).

    Raises:
        ReaderError: the first record matches no known format; pass a format explicitly.
    """
    path = Path(path)
    if sniff_kind(path) == "parquet":
        return "parquet"
    with open_stream(path) as (stream, _):
        first = _first_line(stream).decode(TextDecoder(encoding).codec, errors="replace")
    first = first.removeprefix("\ufeff").strip()
    if not first:  # empty (or unreadable from the start): the reader will say so
        return "csv" if ".csv" in path.name.lower() else "jsonl"
    guess = _guess_json(first) if first.startswith("{") else _guess_csv(first)
    if guess is None:
        raise ReaderError(path, f"cannot tell the review format from the first record; pass "
                          f"a format, one of {list(FORMAT_NAMES)}", line=1)
    return guess


def _first_line(stream) -> bytes:
    """The first non-blank line (cut at 1 MiB); b"" if none or the stream is damaged."""
    try:
        for _ in range(1000):
            line = stream.readline(_GUESS_BYTES)
            if not line or line.strip():
                return line
    except DAMAGE_ERRORS:
        pass
    return b""


def _guess_json(first: str) -> str | None:
    try:
        keys = set(json.loads(first))
    except (json.JSONDecodeError, TypeError):
        return None
    if "reviewerID" in keys:
        return "amazon2014" if "helpful" in keys else "amazon2018"
    if {"user_id", "rating"} <= keys and keys & {"parent_asin", "asin"}:
        return "amazon2023"
    if {"review_id", "business_id"} <= keys:
        return "yelp_json"
    return "jsonl" if {"user_id", "item_id", "rating"} <= keys else None


def _guess_csv(first: str) -> str | None:
    header = next(csv.reader(io.StringIO(first)), [])
    if set(YELP_REQUIRED) <= set(header):
        return "yelp_csv"
    return "csv" if len(header) > 1 else None
