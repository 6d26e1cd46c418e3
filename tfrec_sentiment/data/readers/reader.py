"""Reads a review file of any known format into the canonical table, chunk by chunk.

Every input record ends in exactly one place: a row of the table (with its `line`) or
a `Rejection` (file, line, field, reason). `ReadResult.lines` counts input records (a
CSV record over many physical lines counts once), so
`len(reviews) + len(rejections) == lines` always holds.

At the end of a file two checks speak up in `warnings` (and so on stderr and in the
report of `tools/prepare_data.py`):

- encoding: records that are not valid UTF-8 (or the `encoding` given) are rejected,
  and charset-normalizer names the encoding their bytes most likely are in;
- time unit: times outside 1995-01-01 .. tomorrow are rejected; when most of a file's
  times would be plausible in another unit (seconds where milliseconds are expected,
  or ms / microseconds where seconds are), the warning names that unit.

The format registry and guess are `registry.py`, the file-level checks
`file_checks.py` (both re-exported here).

Example:

>>> result = read_reviews("reviews_Musical_Instruments_5.json.gz")  # doctest: +SKIP
>>> result.format, result.lines, len(result.reviews), len(result.rejections)  # doctest: +SKIP
('amazon2014', 10261, 10261, 0)
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.fields import FieldError, TimestampRangeError, shorten
from tfrec_sentiment.data.readers.file_checks import read_warnings, unit_warnings
from tfrec_sentiment.data.readers.format import Review, ReviewFormat
from tfrec_sentiment.data.readers.generic import ColumnSpec
from tfrec_sentiment.data.readers.registry import (
    FORMAT_NAMES,
    FORMATS,
    GENERIC_FORMATS,
    guess_format,
    resolve_format,
)
from tfrec_sentiment.data.readers.sources import (
    DAMAGE_ERRORS,
    MAX_RECORD_BYTES,
    iter_csv_records,
    iter_json_records,
    iter_parquet_records,
    open_stream,
)
from tfrec_sentiment.data.schema import CANONICAL_COLUMNS, Rejection

__all__ = ["FORMATS", "FORMAT_NAMES", "GENERIC_FORMATS", "ReadChunk", "ReadResult",
           "guess_format", "iter_review_chunks", "read_reviews", "read_warnings",
           "resolve_format", "reviews_frame", "unit_warnings"]

@dataclasses.dataclass
class ReadChunk:
    """Up to `chunk_size` input records: accepted rows, rejections, records seen.

    The LAST chunk of a file also carries the file-level checks: `warnings` (encoding,
    time unit) and `encoding_detected` (see `encoding.TextDecoder.detect`).
    """

    reviews: pd.DataFrame
    rejections: list[Rejection]
    lines: int
    warnings: list[str] = dataclasses.field(default_factory=list)
    encoding_detected: str | None = None


@dataclasses.dataclass
class ReadResult:
    """A whole file read: canonical table (+ `line`), rejections, and notes."""

    file: str
    format: str
    reviews: pd.DataFrame
    rejections: list[Rejection]
    lines: int
    warnings: list[str] = dataclasses.field(default_factory=list)
    encoding_detected: str | None = None

    def rejected_counts(self) -> Counter:
        """reason -> number of records rejected for it."""
        return Counter(rejection.reason for rejection in self.rejections)


def iter_review_chunks(path: str | Path, format: str | None = None,
                       columns: ColumnSpec = None, *, chunk_size: int = 50_000,
                       progress: bool | None = False, encoding: str | None = None,
                       max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[ReadChunk]:
    """Streams a review file as canonical chunks; memory holds one chunk of raw records.

    Args:
        path: the file (plain, .gz, .bz2, .xz, or a .zip with one member; or Parquet).
        format: a name in FORMAT_NAMES; None guesses it from the first record.
        columns: column mapping for the generic formats (see `generic.parse_columns`).
        chunk_size: records per chunk.
        progress: show a tqdm bar (bytes of the file on disk); None = only when
            stderr is a terminal.
        encoding: the file's text encoding (a Python codec name, ASCII-compatible);
            None = UTF-8, with the likely encoding named in a warning if records fail.
        max_record_bytes: a record (JSON line, CSV record) longer than this is set
            aside alone as `record_too_long`; the next one is read normally.

    Yields:
        ReadChunk; at least one, even for an empty file. The last one holds the
        file-level warnings.

    Raises:
        ReaderError: the file cannot be opened, or a CSV / Parquet lacks a required column.
        ValueError: unknown or non-ASCII-compatible encoding (before anything is read).
    """
    path = Path(path)
    decoder = TextDecoder(encoding)
    fmt = resolve_format(format or guess_format(path, encoding), columns)
    builder = _ChunkBuilder(fmt, str(path))
    size = path.stat().st_size if path.is_file() else 0
    with _records(path, fmt, decoder, max_record_bytes) as (records, position), tqdm(
            total=size, unit="B", unit_scale=True, desc=path.name,
            disable=None if progress is None else not progress) as bar:
        for item in records:
            builder.add(item)
            if builder.count >= chunk_size:
                bar.update(position() - bar.n)
                yield builder.flush()
        bar.update(size - bar.n)
        last = builder.flush()
    last.warnings = decoder.notes(str(path)) + builder.unit_notes()
    last.encoding_detected = (decoder.detect() or (None,))[0]
    yield last


def read_reviews(path: str | Path, format: str | None = None, columns: ColumnSpec = None,
                 *, chunk_size: int = 50_000, progress: bool | None = False,
                 encoding: str | None = None,
                 max_record_bytes: int = MAX_RECORD_BYTES) -> ReadResult:
    """Reads a whole review file; see `iter_review_chunks` for the arguments.

    Returns:
        ReadResult with `reviews` a canonical table plus `line` (int64), one row per
        accepted record, in file order.
    """
    name = format or guess_format(path, encoding)
    frames, rejections, lines, notes = [], [], 0, []
    for chunk in iter_review_chunks(path, name, columns, chunk_size=chunk_size,
                                    progress=progress, encoding=encoding,
                                    max_record_bytes=max_record_bytes):
        frames.append(chunk.reviews)
        rejections.extend(chunk.rejections)
        lines += chunk.lines
        notes += chunk.warnings
    reviews = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    result = ReadResult(str(path), name, reviews, rejections, lines,
                        encoding_detected=chunk.encoding_detected)
    result.warnings = read_warnings(result.file, name, lines, len(reviews),
                                    result.rejected_counts()) + notes
    return result


@contextlib.contextmanager
def _records(path: Path, fmt: ReviewFormat, decoder: TextDecoder, max_record_bytes: int):
    if fmt.container == "parquet":  # rows are framed by the format; strings are UTF-8
        records = iter_parquet_records(path, str(path), fmt.required)
        yield records, lambda: 0
        return
    limits = {"decoder": decoder, "max_record_bytes": max_record_bytes}
    with open_stream(path) as (stream, position):
        container = _sniff_container(stream) if fmt.container == "auto" else fmt.container
        if container == "csv":
            yield iter_csv_records(stream, str(path), fmt.required, **limits), position
        else:
            yield iter_json_records(stream, str(path), **limits), position


def _sniff_container(stream) -> str:
    """"jsonl" if the decompressed content starts with "{", else "csv"."""
    try:
        head = stream.peek(64)
    except DAMAGE_ERRORS:
        return "jsonl"  # the JSON reader reports the damage as a rejection
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


class _ChunkBuilder:
    """Collects parsed reviews and rejections until a chunk is full."""

    def __init__(self, fmt: ReviewFormat, file: str) -> None:
        self.fmt = fmt
        self.file = file
        self.accepted = 0  # over the whole file, for the unit check
        self.unit_hints: Counter = Counter()  # (field, unit read, likely unit) -> records
        self._reset()

    def _reset(self) -> None:
        self.reviews: list[Review] = []
        self.lines: list[int] = []
        self.rejections: list[Rejection] = []
        self.count = 0

    def add(self, item: tuple[int, dict] | Rejection) -> None:
        self.count += 1
        if isinstance(item, Rejection):
            self.rejections.append(item)
            return
        line, record = item
        try:
            review = self.fmt.parse(record)
        except FieldError as error:
            self.rejections.append(Rejection(self.file, line, error.reason, error.field,
                                             error.detail))
            if isinstance(error, TimestampRangeError):
                self.unit_hints[error.field, error.unit, error.likely] += 1
            return
        except (TypeError, ValueError, AttributeError) as error:
            # A record shaped unlike the format (e.g. a list where an id belongs).
            self.rejections.append(Rejection(self.file, line, "invalid_record",
                                             detail=shorten(str(error))))
            return
        self.reviews.append(review)
        self.lines.append(line)
        self.accepted += 1

    def unit_notes(self) -> list[str]:
        """Warnings for times that look like another unit (see `unit_warnings`)."""
        return unit_warnings(self.file, self.unit_hints, self.accepted)

    def flush(self) -> ReadChunk:
        chunk = ReadChunk(reviews_frame(self.reviews, self.lines, self.fmt.source),
                          self.rejections, self.count)
        self._reset()
        return chunk


def reviews_frame(reviews: list[Review], lines: list[int], source: str) -> pd.DataFrame:
    """Canonical table (+ `line`) from parsed reviews, with the schema's dtypes."""
    columns = list(zip(*reviews)) if reviews else [()] * len(Review._fields)
    data = {}
    for name, values in zip(Review._fields, columns):
        dtype = CANONICAL_COLUMNS[name]
        data[name] = pd.array(values, dtype="boolean") if dtype == "boolean" else \
            pd.Series(values, dtype=dtype)
    data["source"] = pd.Series([source] * len(reviews), dtype=object)
    data["line"] = np.asarray(lines, dtype=np.int64)
    return pd.DataFrame(data)
