"""Streams raw records out of review files, one record at a time, with line numbers.

A file is opened by its content, not its name: gzip, bz2, xz and zip (one data member)
are recognised by their magic bytes, so `reviews.json`, `reviews.json.gz` and
`yelp.csv.zip` all work. Records come out as `(line, mapping)` pairs, or as a
`Rejection` when a record cannot even be parsed (bad JSON, invalid UTF-8, a CSV row
with the wrong number of fields). Nothing is loaded whole: the caller consumes the
iterator chunk by chunk.

Line numbers are 1-based. JSON lines: the physical line. CSV: the physical line where
the record starts (the header is line 1; quoted fields may span lines). Parquet: the
row number.

Records never lose sync. A JSON record is one physical line. A CSV record is framed by
this module before it is parsed: quoted fields (RFC 4180, `""` escapes, the grammar of
Python's `csv` with its defaults) may span any number of lines, and a record ends only
at a line end outside quotes. A record longer than `max_record_bytes` (default
`MAX_RECORD_BYTES`, 16 MiB: far above any real review) is read to its true end without
being kept, and set aside ALONE as `record_too_long`, naming its first line, last line
and size; the next record is read normally. A quote still open at the end of the file
is one `csv_unclosed_quote` rejection naming the lines it swallowed.

Opening streams is `streams.py`, CSV framing `csv_records.py` (both re-exported here);
this module reads JSON lines and Parquet.

Bytes are decoded per record (`encoding.TextDecoder`: UTF-8 unless told otherwise), so
an undecodable record is rejected alone and its bytes feed the encoding detection.

A compressed stream that ends early (truncated download) or is damaged keeps every
record decoded before the damage; the lost tail counts as ONE record, rejected with
reason `truncated_file` (or `corrupt_file`) at the first line not read completely.
(A checksum error is only seen at the end of a member, so records just before a
`corrupt_file` may be garbled; the reader warns.) A file that cannot be opened at all
raises `ReaderError`.

Example:

>>> import io
>>> list(iter_json_records(io.BytesIO(b'{"a": 1}\\n{"a": \\n'), "f.json"))[1].reason
'truncated_json'
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from tfrec_sentiment.data.readers.csv_records import (
    _frame_state,
    _parse_row,
    csv_frames,
    iter_csv_records,
)
from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.fields import has_surrogate, shorten
from tfrec_sentiment.data.readers.streams import (
    DAMAGE_ERRORS,
    MAX_RECORD_BYTES,
    ReaderError,
    Record,
    check_columns,
    damage,
    guarded_lines,
    open_stream,
    sniff_kind,
    too_long,
    zip_member,
)
from tfrec_sentiment.data.schema import Rejection

__all__ = ["DAMAGE_ERRORS", "MAX_RECORD_BYTES", "ReaderError", "Record", "_frame_state",
           "_parse_row", "check_columns", "csv_frames", "iter_csv_records", "iter_json_records",
           "iter_parquet_records", "open_stream", "parse_json_line", "sniff_kind", "too_long",
           "zip_member"]


def iter_json_records(stream: BinaryIO, file: str, *, decoder: TextDecoder | None = None,
                      max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """One JSON object per line; every physical line is one record or one Rejection.

    Args:
        stream: the decompressed bytes.
        file: name used in rejections.
        decoder: the text encoding (UTF-8 if None); it also collects undecodable lines.
        max_record_bytes: longer lines are rejected alone as `record_too_long`.
    """
    decoder = decoder or TextDecoder()
    for item in _json_lines(stream, file, max_record_bytes):
        if isinstance(item, Rejection):
            yield item
        else:
            yield parse_json_line(item[1], item[0], file, decoder)


def _json_lines(stream: BinaryIO, file: str, limit: int) -> Iterator[tuple[int, bytes] | Rejection]:
    """Numbered physical lines; an over-long one is skipped to its end and rejected."""
    number = 0
    while True:
        number += 1
        try:
            raw = stream.readline(limit + 1)
            if not raw:
                return
            if len(raw) <= limit:
                yield number, raw
                continue
            size = len(raw)
            while not raw.endswith(b"\n"):
                raw = stream.readline(1 << 20)
                if not raw:
                    break
                size += len(raw)
        except DAMAGE_ERRORS as error:
            yield damage(file, number, error)
            return
        yield too_long(file, number, number, size, limit)


def parse_json_line(raw: bytes, line: int, file: str,
                    decoder: TextDecoder | None = None) -> Record | Rejection:
    """Decodes one JSON line, or says precisely why it cannot be decoded."""
    if not raw.strip():
        return Rejection(file=file, line=line, reason="empty_line")
    decoder = decoder or TextDecoder()
    try:
        text = decoder.decode(raw, "strict")
    except UnicodeDecodeError as error:
        decoder.failed(raw)
        return Rejection(file=file, line=line, reason=decoder.reason,
                         field=_field_with_bad_bytes(raw, decoder),
                         detail=f"byte {error.start}: {shorten(raw[error.start:error.start + 8])}")
    if line == 1 and text.startswith("\ufeff"):  # a byte-order mark may start the file
        text = text[1:]
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        # An error at the very end of the line means the line was cut short.
        reason = "truncated_json" if error.pos >= len(text.rstrip()) else "invalid_json"
        return Rejection(file=file, line=line, reason=reason,
                         detail=f"{error.msg} at column {error.colno}")
    if not isinstance(record, dict):
        return Rejection(file=file, line=line, reason="not_an_object", detail=shorten(record))
    return line, record


def _field_with_bad_bytes(raw: bytes, decoder: TextDecoder) -> str:
    """The top-level JSON key whose value holds the undecodable bytes, if it parses."""
    try:
        record = json.loads(decoder.decode(raw))
    except json.JSONDecodeError:
        return ""
    if not isinstance(record, dict):
        return ""
    for key, value in record.items():
        if has_surrogate(key) or has_surrogate(json.dumps(value, ensure_ascii=False)):
            return key
    return ""


def iter_parquet_records(path: Path, file: str, required: Sequence[str] = (),
                         batch_size: int = 10_000) -> Iterator[Record | Rejection]:
    """Rows of a Parquet file as dicts; `line` is the 1-based row number.

    Raises:
        ReaderError: not a readable Parquet file, or a required column is missing.
    """
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for a bad footer
        raise ReaderError(file, f"unreadable Parquet file ({error})") from error
    check_columns(file, parquet.schema_arrow.names, required)
    rows = (row for batch in parquet.iter_batches(batch_size) for row in batch.to_pylist())
    yield from guarded_lines(_arrow_guard(rows), file)


def _arrow_guard(rows: Iterator[dict]) -> Iterator[dict]:
    import pyarrow as pa

    try:
        yield from rows
    except pa.ArrowException as error:  # a damaged page: report like a damaged stream
        raise OSError(str(error)) from error
