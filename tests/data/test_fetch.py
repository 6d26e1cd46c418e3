"""Fetch tests against a local HTTP server on 127.0.0.1 that mirrors the remote layout."""

from __future__ import annotations

import gzip
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tfrec_sentiment.data import fetch

# remote path prefix -> folder under the served root (../shared/data's layout)
ROUTES = {
    "/amazon2018/categoryFilesSmall/": "amazon2018",
    "/amazon2014/categoryFiles/": "amazon2014",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: RemoteServer = self.server.owner
        path = server.local_file(self.path)
        server.requests.append((self.path, self.headers.get("Range")))
        if path is None:
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        offset = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            offset = int(match.group(1))
            if offset >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return
        body = data[offset:]
        self.send_response(206 if offset else 200)
        if offset:
            self.send_header("Content-Range", f"bytes {offset}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if server.drops_left > 0:  # promise the whole body, send part, hang up
            server.drops_left -= 1
            self.wfile.write(body[:server.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


class RemoteServer:
    """Serves `root/<source>/<file>` at `/<source>/<remote folder>/<file>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.ignore_range = False
        self.drops_left = 0
        self.drop_after = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def local_file(self, url_path: str) -> Path | None:
        for prefix, folder in ROUTES.items():
            if url_path.startswith(prefix):
                path = self.root / folder / url_path[len(prefix):]
                return path if path.is_file() else None
        return None

    def base(self, source: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{source}"

    def __enter__(self) -> RemoteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def remote(shared_data: Path) -> Iterator[RemoteServer]:
    with RemoteServer(shared_data) as server:
        yield server


BEAUTY = "amazon2018/All_Beauty"
KWARGS = {"progress": False, "timeout": 10.0}


def test_spec_urls_and_names(monkeypatch):
    spec = fetch.parse_spec("amazon2014/Musical_Instruments")
    assert spec.url() == ("http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"
                          "reviews_Musical_Instruments_5.json.gz")
    assert fetch.parse_spec(BEAUTY).url("http://mirror/x/") == (
        "http://mirror/x/categoryFilesSmall/All_Beauty_5.json.gz")
    monkeypatch.setenv("TFREC_AMAZON2018_BASE", "http://env-mirror")
    assert fetch.parse_spec(BEAUTY).url().startswith("http://env-mirror/categoryFilesSmall/")
    with pytest.raises(fetch.UnknownDatasetError, match="known: .*amazon2014"):
        fetch.parse_spec("amazon1999/Books")
    for bad in ("amazon2018/../etc", "amazon2018/a/b", "amazon2018/"):
        with pytest.raises(ValueError, match="invalid data set name"):
            fetch.parse_spec(bad)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path / "c"))
    assert fetch.cache_path(BEAUTY) == tmp_path / "c" / "amazon2018" / "All_Beauty_5.json.gz"
    monkeypatch.delenv(fetch.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert fetch.default_cache_dir() == tmp_path / "x" / "tfrec_sentiment"


def test_cached_path_names_the_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="python tools/fetch_data.py amazon2018 All_Beauty"):
        fetch.cached_path(BEAUTY, tmp_path)


@pytest.mark.real_data
@pytest.mark.parametrize("spec, local", [
    (BEAUTY, "amazon2018/All_Beauty_5.json.gz"),
    ("amazon2014/Musical_Instruments", "amazon2014/reviews_Musical_Instruments_5.json.gz"),
])
def test_full_download_matches_bytes(remote, shared_data, tmp_path, spec, local):
    source = spec.split("/")[0]
    path = fetch.fetch(spec, tmp_path, remote.base(source), **KWARGS)
    assert path.read_bytes() == (shared_data / local).read_bytes()
    assert fetch.cached_path(spec, tmp_path) == path
    assert not list(tmp_path.rglob("*.part"))
    fetch.fetch(spec, tmp_path, remote.base(source), **KWARGS)  # cached: no new request
    assert len(remote.requests) == 1 and remote.requests[0][1] is None


@pytest.mark.real_data
def test_resume_from_partial_file(remote, shared_data, tmp_path):
    expected = (shared_data / "amazon2018" / "All_Beauty_5.json.gz").read_bytes()
    part = fetch.cache_path(BEAUTY, tmp_path).with_name("All_Beauty_5.json.gz.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(expected[:200_000])
    path = fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), **KWARGS)
    assert path.read_bytes() == expected
    assert remote.requests == [(remote.requests[0][0], "bytes=200000-")]


@pytest.mark.real_data
def test_server_ignoring_range_restarts_from_zero(remote, shared_data, tmp_path):
    expected = (shared_data / "amazon2018" / "All_Beauty_5.json.gz").read_bytes()
    part = fetch.cache_path(BEAUTY, tmp_path).with_name("All_Beauty_5.json.gz.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)  # wrong bytes: appending to them would corrupt the file
    remote.ignore_range = True
    path = fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), **KWARGS)
    assert path.read_bytes() == expected
    assert remote.requests[0][1] == "bytes=1000-"


@pytest.mark.real_data
def test_dropped_connection_keeps_partial_then_resumes(remote, shared_data, tmp_path):
    expected = (shared_data / "amazon2018" / "All_Beauty_5.json.gz").read_bytes()
    remote.drops_left, remote.drop_after = 1, 150_000
    url = fetch.parse_spec(BEAUTY).url(remote.base("amazon2018"))
    with pytest.raises(fetch.FetchError) as caught:
        fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), retries=0, **KWARGS)
    message = str(caught.value)
    assert url in message and "resume" in message and "\n" not in message
    part = fetch.cache_path(BEAUTY, tmp_path).with_name("All_Beauty_5.json.gz.part")
    assert part.stat().st_size == 150_000
    assert not fetch.cache_path(BEAUTY, tmp_path).exists()
    path = fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), **KWARGS)
    assert path.read_bytes() == expected
    assert remote.requests[-1][1] == "bytes=150000-"


@pytest.mark.real_data
def test_dropped_connection_is_retried_within_one_call(remote, shared_data, tmp_path):
    expected = (shared_data / "amazon2018" / "All_Beauty_5.json.gz").read_bytes()
    remote.drops_left, remote.drop_after = 2, 100_000
    path = fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), retries=2, **KWARGS)
    assert path.read_bytes() == expected
    assert [r for _, r in remote.requests] == [None, "bytes=100000-", "bytes=200000-"]


@pytest.mark.real_data
def test_complete_partial_file_gets_416_and_is_kept(remote, shared_data, tmp_path):
    expected = (shared_data / "amazon2018" / "All_Beauty_5.json.gz").read_bytes()
    part = fetch.cache_path(BEAUTY, tmp_path).with_name("All_Beauty_5.json.gz.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(expected)
    path = fetch.fetch(BEAUTY, tmp_path, remote.base("amazon2018"), **KWARGS)
    assert path.read_bytes() == expected and not part.exists()


def test_offline_error_is_one_line_naming_url_and_cause(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}/amazon2018"
    with pytest.raises(fetch.FetchError) as caught:
        fetch.fetch(BEAUTY, tmp_path, base, **KWARGS)
    message = str(caught.value)
    assert message.startswith(f"cannot download {base}/categoryFilesSmall/All_Beauty_5.json.gz")
    assert "refused" in message.lower() and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not fetch.cache_path(BEAUTY, tmp_path).exists()


def test_missing_remote_file_and_corrupt_gzip(tmp_path):
    root = tmp_path / "remote"
    (root / "amazon2018").mkdir(parents=True)
    payload = gzip.compress(b'{"overall": 5.0}\n' * 5000)
    corrupt = payload[:100] + bytes(b ^ 0xFF for b in payload[100:200]) + payload[200:]
    (root / "amazon2018" / "Broken_5.json.gz").write_bytes(corrupt)
    with RemoteServer(root) as server:
        with pytest.raises(fetch.FetchError, match="HTTP 404"):
            fetch.fetch("amazon2018/Nope", tmp_path / "c", server.base("amazon2018"), **KWARGS)
        with pytest.raises(fetch.FetchError, match="not a valid gzip"):
            fetch.fetch("amazon2018/Broken", tmp_path / "c", server.base("amazon2018"),
                        **KWARGS)
    assert not list((tmp_path / "c").rglob("Broken*"))  # corrupt part removed, nothing cached
