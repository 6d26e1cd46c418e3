"""Downloads public review data sets into a local cache, resumably.

Data sets are named `source/name`:

- `amazon2018/<name>`: `<base>/categoryFilesSmall/<name>_5.json.gz` (5-core, McAuley
  lab), default base `https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2`;
- `amazon2014/<name>`: `<base>/categoryFiles/reviews_<name>_5.json.gz` (5-core, SNAP),
  default base `http://snap.stanford.edu/data/amazon/productGraph`.

A base URL is overridden by an argument or by the environment variables
`TFREC_AMAZON2018_BASE` / `TFREC_AMAZON2014_BASE` (a mirror, or a local test server).
Files land in `<cache>/<source>/<file>`; the cache is `TFREC_CACHE_DIR`, else
`$XDG_CACHE_HOME/tfrec_sentiment`, else `~/.cache/tfrec_sentiment`.

A download streams into `<file>.part` with a progress bar. An interrupted download
resumes from the partial file with an HTTP Range request (a server that ignores it
and answers 200 restarts from byte 0); a connection dropped mid-file is retried a few
times, resuming each time. A complete file is checked (gzip: decompressed to its end)
and only then renamed into place atomically, so the cache never holds half a file
under the final name. Network failures raise `FetchError` with one line naming the URL
and the cause. Only the standard library speaks HTTP.

Example:

>>> spec = parse_spec("amazon2018/All_Beauty")
>>> spec.url()
'https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz'
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import os
import re
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm.auto import tqdm

import tfrec_sentiment
from tfrec_sentiment.io import publish

CACHE_ENV = "TFREC_CACHE_DIR"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_&.-]*$")
_CHUNK = 1 << 16


@dataclasses.dataclass(frozen=True)
class Source:
    """A family of remote files that share a base URL and a file layout."""

    name: str
    default_base: str
    base_env: str
    path_template: str  # relative to the base URL; "{name}" is the data set name
    example: str


SOURCES: dict[str, Source] = {
    "amazon2018": Source(
        "amazon2018", "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2",
        "TFREC_AMAZON2018_BASE", "categoryFilesSmall/{name}_5.json.gz", "All_Beauty"),
    "amazon2014": Source(
        "amazon2014", "http://snap.stanford.edu/data/amazon/productGraph",
        "TFREC_AMAZON2014_BASE", "categoryFiles/reviews_{name}_5.json.gz",
        "Musical_Instruments"),
}


class FetchError(RuntimeError):
    """A download failed; the message is one line naming the URL and the cause."""


class UnknownDatasetError(FileNotFoundError, ValueError):
    """A `source/name` spec names no known source or an invalid name."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One remote data set, e.g. `DatasetSpec("amazon2014", "Musical_Instruments")`."""

    source: str
    name: str

    @property
    def remote_path(self) -> str:
        return SOURCES[self.source].path_template.format(name=self.name)

    @property
    def filename(self) -> str:
        return self.remote_path.rsplit("/", 1)[-1]

    def base_url(self, base_url: str | None = None) -> str:
        """`base_url`, else the source's environment variable, else its default."""
        source = SOURCES[self.source]
        return (base_url or os.environ.get(source.base_env) or source.default_base).rstrip("/")

    def url(self, base_url: str | None = None) -> str:
        return f"{self.base_url(base_url)}/{self.remote_path}"

    def command(self) -> str:
        """The shell command that downloads this data set."""
        return f"python tools/fetch_data.py {self.source} {self.name}"

    def __str__(self) -> str:
        return f"{self.source}/{self.name}"


def parse_spec(spec: str | DatasetSpec) -> DatasetSpec:
    """Parses "source/name".

    Raises:
        UnknownDatasetError: unknown source, or a name that is not a plain file stem.
    """
    if isinstance(spec, DatasetSpec):
        return spec
    source, _, name = str(spec).partition("/")
    if source not in SOURCES:
        raise UnknownDatasetError(
            f"unknown data set source {source!r} in {spec!r}; known: {sorted(SOURCES)} "
            f"(e.g. amazon2018/{SOURCES['amazon2018'].example})")
    if not _NAME.match(name) or ".." in name:
        raise UnknownDatasetError(
            f"invalid data set name {name!r} in {spec!r}; expected a category such as "
            f"{SOURCES[source].example}")
    return DatasetSpec(source, name)


def default_cache_dir() -> Path:
    """`TFREC_CACHE_DIR`, else `$XDG_CACHE_HOME/tfrec_sentiment`, else `~/.cache/...`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tfrec_sentiment"


def cache_path(spec: str | DatasetSpec, cache_dir: str | Path | None = None) -> Path:
    """Where the data set's file is (or would be) cached."""
    spec = parse_spec(spec)
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / spec.source / spec.filename


def cached_path(spec: str | DatasetSpec, cache_dir: str | Path | None = None) -> Path:
    """The cached file of a downloaded data set.

    Raises:
        FileNotFoundError: not downloaded yet; the message gives the fetch command.
    """
    path = cache_path(spec, cache_dir)
    if not path.is_file():
        spec = parse_spec(spec)
        cache_flag = f" --cache-dir {cache_dir}" if cache_dir else ""
        raise FileNotFoundError(
            f"data set {spec} is not in the cache ({path}); download it with "
            f"`{spec.command()}{cache_flag}`")
    return path


def fetch(
    spec: str | DatasetSpec,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 3,
) -> Path:
    """Downloads a data set into the cache (resuming a partial file) and returns its path.

    Args:
        spec: "source/name", e.g. "amazon2018/All_Beauty".
        cache_dir: cache root; None = `default_cache_dir()`.
        base_url: overrides the source's base URL.
        force: download again even if the file is cached.
        progress: show a tqdm progress bar.
        timeout: seconds to wait for the server on connect and on each read.
        retries: how many times a connection dropped mid-file is resumed.

    Returns:
        The path of the complete, checked file.

    Raises:
        FetchError: the server cannot be reached, refuses the file, the transfer keeps
            breaking, or the file fails its integrity check.
    """
    spec = parse_spec(spec)
    final = cache_path(spec, cache_dir)
    if final.is_file() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    if force:
        part.unlink(missing_ok=True)
    url = spec.url(base_url)
    for attempt in range(retries + 1):
        try:
            _download(url, part, timeout, progress)
            break
        except _InterruptedError as interruption:
            if attempt == retries:
                raise FetchError(
                    f"download of {url} broke off ({interruption}); the partial file "
                    f"{part} is kept: run the same command again to resume") from None
    _check_integrity(url, part)
    publish(part, final)  # atomic: readers see no file or the whole file
    return final


class _InterruptedError(Exception):
    """The connection ended before the whole file came (resumable)."""


def _cause(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        error = reason
    elif isinstance(reason, str) and reason:
        return reason
    text = str(error) or type(error).__name__
    return " ".join(text.split())


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    """Opens the URL from byte `offset`; None if the partial file is already whole."""
    headers = {"User-Agent": f"tfrec_sentiment/{tfrec_sentiment.__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing after `offset`: the file is complete
            return None
        raise FetchError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise FetchError(f"cannot download {url}: {_cause(error)}") from None


def _resume_offset(response: http.client.HTTPResponse, offset: int) -> int:
    """Where the response's body starts: `offset` for a matching 206, else 0."""
    if not offset or response.status != 206:
        return 0  # a server that ignores Range sends the whole file again
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if not match or int(match.group(1)) != offset:
        raise _InterruptedError(f"server answered Range {offset}- with {content_range!r}")
    return offset


def _download(url: str, part: Path, timeout: float, progress: bool) -> None:
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, offset, timeout)
    if response is None:
        return
    with response:
        start = _resume_offset(response, offset)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        received = 0
        with part.open("ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress, leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.IncompleteRead, OSError) as error:
                    raise _InterruptedError(
                        f"{_cause(error)} after {start + received} bytes") from None
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and start + received < total:
        raise _InterruptedError(f"connection closed after {start + received} of {total} bytes")


def _check_integrity(url: str, path: Path) -> None:
    """Decompresses a .gz to its end; a corrupt file is removed, a truncated one kept."""
    if not path.name.endswith(".gz.part"):
        return
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except EOFError as error:
        raise FetchError(
            f"download of {url} is incomplete ({_cause(error)}); the partial file {path} "
            f"is kept: run the same command again to resume") from None
    except (OSError, zlib.error) as error:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"download of {url} is not a valid gzip file ({_cause(error)}); removed it, "
            f"run the same command again") from None
