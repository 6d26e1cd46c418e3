"""`tools/fetch_data.py` end to end, as a user runs it, against a local server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.test_fetch import RemoteServer, closed_port

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / "tools" / "fetch_data.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args, "--no-progress", "--timeout", "10"],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


@pytest.mark.real_data
def test_fetch_prints_cached_path(shared_data, tmp_path):
    with RemoteServer(shared_data) as server:
        done = _run("amazon2014", "Musical_Instruments", "--base-url", server.base("amazon2014"),
                    "--cache-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    expected = shared_data / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    assert path.read_bytes() == expected.read_bytes()


def test_offline_prints_one_error_line(tmp_path):
    base = f"http://127.0.0.1:{closed_port()}/amazon2018"
    done = _run("amazon2018", "All_Beauty", "--base-url", base, "--cache-dir", str(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: cannot download {base}/categoryFilesSmall/All_Beauty")
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_unknown_source_is_refused_by_argparse(tmp_path):
    done = _run("amazon1999", "Books", "--cache-dir", str(tmp_path))
    assert done.returncode == 2 and "invalid choice" in done.stderr
