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

import bz2
import contextlib
import csv
import gzip
import io
import json
import lzma
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.fields import has_surrogate, shorten
from tfrec_sentiment.data.schema import Rejection

Record = tuple[int, dict[str, Any]]

# Largest record (raw bytes) kept: 16 MiB. Real reviews are at most tens of KB (the
# Yelp and Amazon dumps cap texts near 5,000 words); a longer record is almost always
# a broken quote, and is set aside alone instead of being held in memory.
MAX_RECORD_BYTES = 1 << 24
_FIELD_START, _IN_FIELD, _QUOTED, _QUOTE_IN_QUOTED = 0, 1, 2, 3  # CSV framing states
# One whole CSV record on one line (the common case), in the grammar of `_frame_state`;
# possessive quantifiers keep the match linear on any input.
_FIELD = r'(?:"[^"]*+(?:""[^"]*+)*+"[^,\r\n]*+|[^",\r\n][^,\r\n]*+|)'
_ONE_LINE_RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*+(?:\r\n|\n|\r)")

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
            yield _damage(file, number, error)
            return
        yield too_long(file, number, number, size, limit)


def too_long(file: str, first: int, last: int, size: int, limit: int) -> Rejection:
    """The rejection of one record over the size limit (its content is not kept)."""
    span = f"line {first}" if first == last else f"lines {first}-{last}"
    return Rejection(file=file, line=first, reason="record_too_long",
                     detail=f"{size:,} bytes ({span}), over the {limit:,}-byte record limit "
                            "(max_record_bytes / --max-record-bytes)")


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


def iter_csv_records(stream: BinaryIO, file: str, required: Sequence[str] = (), *,
                     decoder: TextDecoder | None = None,
                     max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """CSV with a header row; records are dicts keyed by the header.

    Records are framed first (see the module docstring), then each is parsed alone by
    Python's `csv` (whose process-wide field size limit is raised to
    `max_record_bytes` if lower, so a long valid field is never cut).

    Raises:
        ReaderError: (on first use) the header is unreadable or lacks a column in `required`.
    """
    decoder = decoder or TextDecoder()
    if csv.field_size_limit() < max_record_bytes:
        csv.field_size_limit(max_record_bytes)
    frames = csv_frames(stream, file, max_record_bytes)
    first = next(frames, None)
    if first is None:
        return  # an empty file has no records; the caller reports lines = 0
    if isinstance(first, Rejection):
        raise ReaderError(file, f"unreadable CSV header ({first.reason}: {first.detail})",
                          line=1)
    text = decoder.decode(first[1].encode("latin-1"))
    try:
        header = _parse_row(text.removeprefix("\ufeff"))
    except csv.Error as error:
        raise ReaderError(file, f"unreadable CSV header ({error})", line=1) from error
    check_columns(file, header, required)
    for item in frames:
        yield item if isinstance(item, Rejection) else _csv_record(item, header, file, decoder)


def csv_frames(stream: BinaryIO, file: str,
               limit: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, str] | Rejection]:
    """Whole CSV records, each with the physical line where it starts.

    A record is returned as latin-1 text (one character per raw byte, line ends kept),
    so that sizes are byte counts and any ASCII-compatible encoding is decoded later.
    Line ends are `\\n`, `\\r\\n` or a lone `\\r`, as Python's csv sees them.

    Example:

    >>> list(csv_frames(io.BytesIO(b'a,b\\n1,"x\\ny"\\n2,z\\n'), "f.csv"))
    [(1, 'a,b\\n'), (2, '1,"x\\ny"\\n'), (4, '2,z\\n')]
    """
    text = io.TextIOWrapper(stream, encoding="latin-1", newline="")
    line, start, size, state, parts = 0, 1, 0, _FIELD_START, []
    open_line = cut_cr = False  # a line begun but not ended; a "\\r" at a size cut
    try:
        while piece := text.readline(limit + 1):
            if cut_cr and piece.startswith("\n"):  # the "\\n" of a "\\r\\n" split by the cut
                piece = piece[1:]
                if not piece:
                    cut_cr = False
                    continue
            cut_cr = len(piece) > limit and piece.endswith("\r")
            open_line = not piece.endswith(("\n", "\r"))
            line += not open_line
            if state != _FIELD_START or not _ONE_LINE_RECORD.fullmatch(piece):
                state = _frame_state(piece, state)
            size += len(piece)
            if size <= limit:
                parts.append(piece)
            else:
                parts.clear()
            if not open_line and state == _FIELD_START:
                yield (start, "".join(parts)) if size <= limit else \
                    too_long(file, start, line, size, limit)
                start, size, parts = line + 1, 0, []
    except DAMAGE_ERRORS as error:
        yield _damage(file, start, error)
        return
    if not size:
        return
    last = line + open_line
    if state == _QUOTED:
        yield Rejection(file=file, line=start, reason="csv_unclosed_quote",
                        detail=f"a quoted field is still open at the end of the file: "
                               f"lines {start}-{last} ({size:,} bytes) are one unfinished "
                               "record")
    elif size > limit:
        yield too_long(file, start, last, size, limit)
    else:
        yield start, "".join(parts)


def _frame_state(piece: str, state: int) -> int:
    """The CSV framing state after `piece` (a line or part of one), from `state`.

    Mirrors Python's csv grammar (delimiter ",", quote '"', doublequote, not strict): a
    quote opens a quoted field only at a field's start; inside, `""` is a quote and a
    lone `"` closes it; anything after the closing quote runs to the next delimiter. A
    line end outside quotes ends the record: the state returns to a field start. A
    quote that ends a cut piece may be the first half of `""`: `_QUOTE_IN_QUOTED`.
    """
    if state == _QUOTED and '"' not in piece:  # a line inside a long quoted text
        return _QUOTED
    if state == _QUOTE_IN_QUOTED:
        state = _QUOTED if piece.startswith('"') else _IN_FIELD
        piece = piece[1:] if state == _QUOTED else piece
    elif state != _QUOTED and '"' not in piece:  # the common line: no quotes at all
        return _FIELD_START if piece.endswith(("\n", "\r")) else _IN_FIELD
    i, n = 0, len(piece)
    while i < n:
        if state == _QUOTED:
            j = piece.find('"', i)
            if j < 0:
                return _QUOTED
            if j + 1 == n:
                return _QUOTE_IN_QUOTED
            if piece[j + 1] == '"':
                i = j + 2
                continue
            state, i = _IN_FIELD, j + 1
        elif state == _FIELD_START and piece[i] == '"':
            state, i = _QUOTED, i + 1
        else:
            j = piece.find(",", i)
            if j < 0:
                state = _IN_FIELD
                break
            state, i = _FIELD_START, j + 1
    return _FIELD_START if piece.endswith(("\n", "\r")) else state


def _parse_row(text: str) -> list[str]:
    """The fields of one framed record (raises csv.Error if it is not exactly one row)."""
    rows = list(csv.reader((text,)))
    if len(rows) != 1:
        raise csv.Error(f"record parses into {len(rows)} rows")
    return rows[0]


def check_columns(file: str | Path, header: Sequence[str], required: Sequence[str]) -> None:
    """Raises ReaderError naming the file and each required column the header lacks."""
    missing = [name for name in required if name not in header]
    if missing:
        raise ReaderError(
            file, f"missing required column(s) {missing}; the header has {list(header)}", line=1)


def _csv_record(frame: tuple[int, str], header: list[str], file: str,
                decoder: TextDecoder) -> Record | Rejection:
    line, raw = frame
    try:
        text, undecodable = decoder.decode(raw.encode("latin-1"), "strict"), False
    except UnicodeDecodeError:
        text, undecodable = decoder.decode(raw.encode("latin-1")), True
    try:
        row = _parse_row(text)
    except csv.Error as error:
        return Rejection(file=file, line=line, reason="csv_error", detail=str(error))
    if not row or not any(cell.strip() for cell in row):
        return Rejection(file=file, line=line, reason="empty_line")
    if len(row) != len(header):
        lines = raw.count("\n") + raw.count("\r") - raw.count("\r\n")
        span = f" over lines {line}-{line + lines - 1}" if lines > 1 else ""
        return Rejection(file=file, line=line, reason="csv_wrong_field_count",
                         detail=f"{len(row)} fields{span}, header has {len(header)}")
    for name, cell in zip(header, row) if undecodable else ():
        if has_surrogate(cell):
            decoder.failed(cell)
            return Rejection(file=file, line=line, reason=decoder.reason, field=name,
                             detail=shorten(cell.encode(decoder.codec, "surrogateescape")))
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
