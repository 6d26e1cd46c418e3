"""CSV records, framed before they are parsed, so that a broken quote never loses sync.

Quoted fields (RFC 4180, `""` escapes, the grammar of Python's `csv` with its
defaults) may span any number of lines, and a record ends only at a line end outside
quotes (`csv_frames`, `_frame_state`). A record longer than `max_record_bytes` is read
to its true end without being kept and set aside alone as `record_too_long`; a quote
still open at the end of the file is one `csv_unclosed_quote` rejection naming the
lines it swallowed. Each framed record is then parsed alone by `csv`.

Example:

>>> list(csv_frames(io.BytesIO(b'a,b\\n1,"x\\ny"\\n'), "f.csv"))
[(1, 'a,b\\n'), (2, '1,"x\\ny"\\n')]
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.fields import has_surrogate, shorten
from tfrec_sentiment.data.readers.streams import (
    DAMAGE_ERRORS,
    MAX_RECORD_BYTES,
    ReaderError,
    Record,
    check_columns,
    damage,
    too_long,
)
from tfrec_sentiment.data.schema import Rejection

_FIELD_START, _IN_FIELD, _QUOTED, _QUOTE_IN_QUOTED = 0, 1, 2, 3  # CSV framing states
# One whole CSV record on one line (the common case), in the grammar of `_frame_state`;
# possessive quantifiers keep the match linear on any input.
_FIELD = r'(?:"[^"]*+(?:""[^"]*+)*+"[^,\r\n]*+|[^",\r\n][^,\r\n]*+|)'
_ONE_LINE_RECORD = re.compile(rf"{_FIELD}(?:,{_FIELD})*+(?:\r\n|\n|\r)")


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
        yield damage(file, start, error)
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
