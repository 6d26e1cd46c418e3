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

import bz2
import contextlib
import csv
import gzip
import io
import json
import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tfrec_sentiment.data.readers.fields import has_surrogate, shorten
from tfrec_sentiment.data.schema import Rejection

Record = tuple[int, dict[str, Any]]

# Errors a decompressor raises when its input ends early or is damaged.
DAMAGE_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"PAR1": "parquet",
}


class ReaderError(ValueError):
    """A review file cannot be read at all (or lacks a required column).

    The message names the file and, where it applies, the line.
    """

    def __init__(self, file: str | Path, message: str, line: int | None = None) -> None:
        where = f"{file}" if line is None else f"{file}, line {line}"
        super().__init__(f"{where}: {message}")
        self.file = str(file)
        self.line = line


def sniff_kind(path: Path) -> str:
    """"gzip", "bz2", "xz", "zip", "parquet" or "plain", from the first bytes.

    Raises:
        ReaderError: the path is not a readable file.
    """
    if not path.is_file():
        raise ReaderError(path, "no such file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise ReaderError(path, f"cannot open ({error.strerror or error})") from error
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return "plain"


def zip_member(archive: zipfile.ZipFile, file: str | Path) -> zipfile.ZipInfo:
    """The one data member of a zip archive (macOS metadata folders ignored)."""
    members = [m for m in archive.infolist()
               if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    if len(members) != 1:
        names = [m.filename for m in members]
        raise ReaderError(file, f"a zip archive must hold exactly one data file, found {names}")
    return members[0]


@contextlib.contextmanager
def open_stream(path: Path) -> Iterator[tuple[BinaryIO, Callable[[], int]]]:
    """Opens `path` decompressed; yields the stream and a function giving bytes read on disk.

    Raises:
        ReaderError: the file is missing, or is an archive that cannot be opened.
    """
    kind = sniff_kind(path)
    with open(path, "rb") as raw, contextlib.ExitStack() as stack:
        if kind == "gzip":
            stream: BinaryIO = stack.enter_context(gzip.GzipFile(fileobj=raw))
        elif kind == "bz2":
            stream = stack.enter_context(bz2.BZ2File(raw))
        elif kind == "xz":
            stream = stack.enter_context(lzma.LZMAFile(raw))
        elif kind == "zip":
            try:
                archive = stack.enter_context(zipfile.ZipFile(raw))
            except zipfile.BadZipFile as error:
                raise ReaderError(path, f"unreadable zip archive ({error})") from error
            stream = stack.enter_context(archive.open(zip_member(archive, path)))
        else:
            stream = raw
        yield stream, raw.tell


def _damage(file: str, line: int, error: BaseException) -> Rejection:
    reason = "truncated_file" if isinstance(error, EOFError) else "corrupt_file"
    detail = f"{type(error).__name__}: {error}; records after line {line - 1} are lost"
    return Rejection(file=file, line=line, reason=reason, detail=detail)


def _guarded_lines(lines: Iterator[Any], file: str) -> Iterator[tuple[int, Any] | Rejection]:
    """Numbers the items of `lines`; a damaged stream ends with one damage Rejection."""
    number = 0
    while True:
        try:
            item = next(lines)
        except StopIteration:
            return
        except DAMAGE_ERRORS as error:
            yield _damage(file, number + 1, error)
            return
        number += 1
        yield number, item


def iter_json_records(stream: BinaryIO, file: str) -> Iterator[Record | Rejection]:
    """One JSON object per line; every physical line is one record or one Rejection."""
    for item in _guarded_lines(iter(stream), file):
        if isinstance(item, Rejection):
            yield item
        else:
            yield parse_json_line(item[1], item[0], file)


def parse_json_line(raw: bytes, line: int, file: str) -> Record | Rejection:
    """Decodes one JSON line, or says precisely why it cannot be decoded."""
    if not raw.strip():
        return Rejection(file=file, line=line, reason="empty_line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(file=file, line=line, reason="invalid_utf8",
                         field=_field_with_bad_bytes(raw),
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


def _field_with_bad_bytes(raw: bytes) -> str:
    """The top-level JSON key whose value holds the undecodable bytes, if it parses."""
    try:
        record = json.loads(raw.decode("utf-8", errors="surrogateescape"))
    except json.JSONDecodeError:
        return ""
    if not isinstance(record, dict):
        return ""
    for key, value in record.items():
        if has_surrogate(key) or has_surrogate(json.dumps(value, ensure_ascii=False)):
            return key
    return ""


def iter_csv_records(stream: BinaryIO, file: str,
                     required: Sequence[str] = ()) -> Iterator[Record | Rejection]:
    """CSV with a header row; records are dicts keyed by the header.

    Raises:
        ReaderError: (on first use) the header lacks a column in `required`.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except (csv.Error, *DAMAGE_ERRORS) as error:
        raise ReaderError(file, f"unreadable CSV header ({error})", line=1) from error
    if header is None:
        return  # an empty file has no records; the caller reports lines = 0
    check_columns(file, header, required)
    yield from _csv_rows(reader, header, file)


def check_columns(file: str | Path, header: Sequence[str], required: Sequence[str]) -> None:
    """Raises ReaderError naming the file and each required column the header lacks."""
    missing = [name for name in required if name not in header]
    if missing:
        raise ReaderError(
            file, f"missing required column(s) {missing}; the header has {list(header)}", line=1)


def _csv_rows(reader: Any, header: list[str], file: str) -> Iterator[Record | Rejection]:
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejection(file=file, line=line, reason="csv_error", detail=str(error))
            continue
        except DAMAGE_ERRORS as error:
            yield _damage(file, line, error)
            return
        yield _csv_record(row, header, line, file)


def _csv_record(row: list[str], header: list[str], line: int, file: str) -> Record | Rejection:
    if not row or not any(cell.strip() for cell in row):
        return Rejection(file=file, line=line, reason="empty_line")
    if len(row) != len(header):
        return Rejection(file=file, line=line, reason="csv_wrong_field_count",
                         detail=f"{len(row)} fields, header has {len(header)}")
    for name, cell in zip(header, row):
        if has_surrogate(cell):
            return Rejection(file=file, line=line, reason="invalid_utf8", field=name,
                             detail=shorten(cell.encode("utf-8", "surrogateescape")))
    return line, dict(zip(header, row))


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
    yield from _guarded_lines(_arrow_guard(rows), file)


def _arrow_guard(rows: Iterator[dict]) -> Iterator[dict]:
    import pyarrow as pa

    try:
        yield from rows
    except pa.ArrowException as error:  # a damaged page: report like a damaged stream
        raise OSError(str(error)) from error
