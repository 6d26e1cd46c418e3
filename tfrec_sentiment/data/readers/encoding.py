"""Text encodings of review files: decode records, and name the likely encoding on failure.

Files are read as UTF-8 (a byte-order mark is allowed) unless an encoding is given
(`--encoding cp1252`, `DataConfig.encoding`). A record whose bytes do not decode is
rejected (`invalid_utf8`, or `invalid_encoding` for another codec) with its line and
field; its raw bytes are kept as a sample (at most `SAMPLE_BYTES`), and at the end of
the file `charset-normalizer` names the encoding those bytes most likely are in, so the
report and stderr can say "re-run with --encoding cp1252" instead of losing every
accented review in silence.

Only ASCII-compatible encodings can be given (UTF-8, the Windows / ISO-8859 code pages,
Shift-JIS, GB18030, ...): the readers find record boundaries in the raw bytes, where
`,`, `"` and line ends must be single ASCII bytes. UTF-16 / UTF-32 files are refused
with a clear message; convert them first (e.g. `iconv -f UTF-16 -t UTF-8`).

Example:

>>> decoder = TextDecoder("cp1252")
>>> decoder.decode(b"It\\x92s fine")
'It’s fine'
>>> TextDecoder("klingon")
Traceback (most recent call last):
...
ValueError: unknown encoding 'klingon' (not a Python codec name; e.g. utf-8, cp1252, latin-1)
"""

from __future__ import annotations

import codecs

SAMPLE_BYTES = 1 << 16  # raw bytes of undecodable records kept for detection
# Among decodings charset-normalizer finds equally plausible (same text, same "chaos"),
# the one named is the most widely used: Windows-1252 exports are by far the most common
# non-UTF-8 review files, then Latin-1 and the other Windows / East Asian code pages.
PREFERRED_ENCODINGS = ("cp1252", "latin_1", "iso8859_15", "cp1250", "cp1251", "cp1254",
                       "cp1253", "cp1257", "gb18030", "gbk", "big5", "shift_jis", "cp932",
                       "euc_jp", "euc_kr", "cp949", "koi8_r")
_UTF8 = codecs.lookup("utf-8").name
_TIE = 0.01  # chaos scores this close count as a tie


def check_encoding(name: str) -> str:
    """The Python codec name for `name` (e.g. "Windows-1252" -> "cp1252").

    Raises:
        ValueError: not a codec, or a codec in which `,`, `"` and line ends are not the
            ASCII bytes (UTF-16 / UTF-32), so records could not be framed.
    """
    try:
        codec = codecs.lookup(name)
    except (LookupError, TypeError) as error:
        raise ValueError(f"unknown encoding {name!r} (not a Python codec name; "
                         "e.g. utf-8, cp1252, latin-1)") from error
    try:
        ascii_compatible = ',"\r\n{}'.encode(codec.name) == b',"\r\n{}'
    except (UnicodeError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible, so records cannot be "
                         "framed; convert the file to UTF-8 first (e.g. iconv -f "
                         f"{codec.name} -t UTF-8)")
    return codec.name


class TextDecoder:
    """Decodes records of one file and collects the bytes that fail.

    Attributes:
        codec: the Python codec name in use ("utf-8" unless one was given).
        explicit: True when the encoding was given, not assumed.
        reason: the rejection reason for an undecodable record.
        failures: number of records that did not decode.
    """

    def __init__(self, encoding: str | None = None) -> None:
        self.codec = check_encoding(encoding) if encoding else _UTF8
        self.explicit = encoding is not None
        self.reason = "invalid_utf8" if self.codec == _UTF8 else "invalid_encoding"
        self.failures = 0
        self._sample = bytearray()
        self._detected: tuple[int, tuple[str, tuple[str, ...]] | None] | None = None

    def decode(self, raw: bytes, errors: str = "surrogateescape") -> str:
        """Text of `raw`; undecodable bytes become lone surrogates (see `has_surrogate`).

        With errors="strict" a UnicodeDecodeError is raised instead.
        """
        return raw.decode(self.codec, errors)

    def failed(self, raw: bytes | str) -> None:
        """Counts one undecodable record and keeps (part of) its bytes as a sample."""
        self.failures += 1
        if isinstance(raw, str):
            raw = raw.encode(self.codec, "surrogateescape")
        room = SAMPLE_BYTES - len(self._sample)
        if room > 0:
            self._sample += raw[:room] + b"\n"

    def detect(self) -> tuple[str, tuple[str, ...]] | None:
        """(likely encoding, other encodings giving the same text) of the failed bytes.

        None when nothing failed or charset-normalizer finds no decoding.
        """
        if not self._sample:
            return None
        if self._detected is None or self._detected[0] != len(self._sample):
            self._detected = len(self._sample), detect_encoding(bytes(self._sample))
        return self._detected[1]

    def notes(self, file: str) -> list[str]:
        """A warning for a human when records did not decode, naming the likely encoding."""
        if not self.failures:
            return []
        what = f"{self.failures} record(s) of {file} are not valid {self.codec} " \
               f"(rejected as {self.reason})"
        guess = self.detect()
        if guess is None:
            return [f"{what}; their encoding could not be detected"]
        likely, others = guess
        also = f" (or {', '.join(others)}: same text)" if others else ""
        return [f"{what}; their bytes look like {likely}{also}, detected by "
                f"charset-normalizer: re-run with --encoding {likely} if that is right"]


def detect_encoding(sample: bytes) -> tuple[str, tuple[str, ...]] | None:
    """The likely encoding of `sample` and the others that decode it to the same text.

    charset-normalizer ranks decodings by "chaos" (mess in the decoded text); among
    those tied with the best, the most widely used encoding (`PREFERRED_ENCODINGS`)
    is named, since short samples rarely tell e.g. cp1250 from cp1252.

    Example:

    >>> detect_encoding("Schöne Tasse – sehr gut, it’s fine".encode("cp1252"))[0]
    'cp1252'
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = min(match.chaos for match in matches)
    tied = [match for match in matches if match.chaos <= best + _TIE]
    for name in PREFERRED_ENCODINGS:
        for match in tied:
            if name in match.could_be_from_charset:
                others = tuple(n for n in match.could_be_from_charset if n != name)
                return name, others
    first = tied[0]
    return first.encoding, tuple(n for n in first.could_be_from_charset if n != first.encoding)
