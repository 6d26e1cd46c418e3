"""Opening a review file as a byte stream, and what every record reader shares.

A file is opened by its content, not its name: gzip, bz2, xz and zip (one data member)
are recognised by their magic bytes (`sniff_kind`, `open_stream`). A compressed stream
that ends early or is damaged ends its records with ONE damage rejection
(`guarded_lines`, `damage`); a file that cannot be opened at all raises `ReaderError`.

Example:

>>> too_long("f.csv", 3, 5, 20_000_000, MAX_RECORD_BYTES).reason
'record_too_long'
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tfrec_sentiment.data.schema import Rejection

Record = tuple[int, dict[str, Any]]

# Largest record (raw bytes) kept: 16 MiB. Real reviews are at most tens of KB (the
# Yelp and Amazon dumps cap texts near 5,000 words); a longer record is almost always
# a broken quote, and is set aside alone instead of being held in memory.
MAX_RECORD_BYTES = 1 << 24

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


def damage(file: str, line: int, error: BaseException) -> Rejection:
    """The one rejection of a stream that ended early (EOFError) or is damaged."""
    reason = "truncated_file" if isinstance(error, EOFError) else "corrupt_file"
    detail = f"{type(error).__name__}: {error}; records after line {line - 1} are lost"
    return Rejection(file=file, line=line, reason=reason, detail=detail)


def guarded_lines(lines: Iterator[Any], file: str) -> Iterator[tuple[int, Any] | Rejection]:
    """Numbers the items of `lines`; a damaged stream ends with one damage Rejection."""
    number = 0
    while True:
        try:
            item = next(lines)
        except StopIteration:
            return
        except DAMAGE_ERRORS as error:
            yield damage(file, number + 1, error)
            return
        number += 1
        yield number, item


def too_long(file: str, first: int, last: int, size: int, limit: int) -> Rejection:
    """The rejection of one record over the size limit (its content is not kept)."""
    span = f"line {first}" if first == last else f"lines {first}-{last}"
    return Rejection(file=file, line=first, reason="record_too_long",
                     detail=f"{size:,} bytes ({span}), over the {limit:,}-byte record limit "
                            "(max_record_bytes / --max-record-bytes)")


def check_columns(file: str | Path, header: Sequence[str], required: Sequence[str]) -> None:
    """Raises ReaderError naming the file and each required column the header lacks."""
    missing = [name for name in required if name not in header]
    if missing:
        raise ReaderError(
            file, f"missing required column(s) {missing}; the header has {list(header)}", line=1)
