"""Version folders: pruning (atomic, never the newest or a protected one), leftovers of
killed exports and prunes (removed when their owner process is gone), the publish lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tfrec_sentiment.export import versions as versions_module
from tfrec_sentiment.export.versions import (
    LOCK_FILE,
    PublishLockBusyError,
    latest_version,
    prune_versions,
    publish_lock,
    remove_leftovers,
    versions,
)


def _make(root, names):
    for name in names:
        (root / name).mkdir()
        (root / name / "saved_model.pb").write_bytes(b"x")


def test_prune_keeps_the_newest_and_protected_versions(tmp_path):
    _make(tmp_path, ["1", "2", "3", "10", "staging", ".staging-abc"])
    assert latest_version(tmp_path) == 10
    assert prune_versions(tmp_path, keep=2, protect=[1]) == [2]
    assert versions(tmp_path) == [1, 3, 10]
    # Non-version folders are not TF Serving's and are left alone; nothing hidden remains.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-abc", "1", "10", "3",
                                                          "staging"]
    assert prune_versions(tmp_path, keep=5) == []


def test_prune_refuses_to_delete_everything(tmp_path):
    _make(tmp_path, ["1"])
    with pytest.raises(ValueError, match="keep must be >= 1"):
        prune_versions(tmp_path, keep=0)
    assert latest_version(tmp_path / "absent") is None


def _dead_pid() -> int:
    """The pid of a child process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_owners_go_and_live_or_foreign_ones_stay(tmp_path):
    host = socket.gethostname()
    token = "0123456789abcdef0123456789abcdef"
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)
    try:
        names = {
            "dead_staging": f".staging-{token}.{_dead_pid()}@{host}",
            "dead_deleting": f".deleting-3-{token}.{_dead_pid()}@{host}",
            "legacy_staging": f".staging-{token}",  # written before owners were recorded
            "alive_child": f".staging-{token}.{sleeper.pid}@{host}",
            "alive_self": f".deleting-2-{token}.{os.getpid()}@{host}",
            "other_host": f".staging-{token}.{_dead_pid()}@not-{host}",
        }
        _make(tmp_path, [*names.values(), "1", ".staging-not-a-token", "notes"])
        (tmp_path / "models.config").write_text("x")
        result = remove_leftovers(tmp_path)
        assert sorted(result.removed) == sorted(
            names[k] for k in ("dead_staging", "dead_deleting", "legacy_staging"))
        assert sorted(result.kept) == sorted(
            names[k] for k in ("alive_child", "alive_self", "other_host"))
        assert "is running" in result.reasons[names["alive_child"]]
        assert "host" in result.reasons[names["other_host"]]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [names["alive_child"], names["alive_self"], names["other_host"], "1",
             ".staging-not-a-token", "models.config", "notes"])
        assert (tmp_path / "1" / "saved_model.pb").read_bytes() == b"x"
    finally:
        sleeper.communicate(b"")
    # Its owner gone, the child's staging folder is a leftover too.
    assert remove_leftovers(tmp_path).removed == [names["alive_child"]]


def test_prune_names_its_deleting_folder_after_its_process(tmp_path, monkeypatch):
    _make(tmp_path, ["1", "2", "3"])
    seen = []

    def interrupted_rmtree(path, *args, **kwargs):  # the prune is killed mid-delete
        seen.append(Path(path).name)
        raise KeyboardInterrupt

    monkeypatch.setattr(versions_module.shutil, "rmtree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        prune_versions(tmp_path, keep=2)
    monkeypatch.undo()
    (hidden,) = seen
    assert hidden.startswith(".deleting-1-") and hidden.endswith(
        f".{os.getpid()}@{socket.gethostname()}")
    assert versions(tmp_path) == [2, 3]
    # Its owner (this process) is alive: kept; once renamed to a dead owner, removed.
    assert remove_leftovers(tmp_path).kept == [hidden]
    orphan = hidden.replace(f".{os.getpid()}@", f".{_dead_pid()}@")
    os.rename(tmp_path / hidden, tmp_path / orphan)
    assert remove_leftovers(tmp_path).removed == [orphan]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2", "3"]


_TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(7)
"""


def test_publish_lock_excludes_other_processes_and_threads_and_is_reentrant(tmp_path):
    lock_file = str(tmp_path / LOCK_FILE)

    def other_process() -> int:
        return subprocess.run([sys.executable, "-c", _TRY_LOCK, lock_file]).returncode

    outcomes = []

    def other_thread() -> None:
        try:
            with publish_lock(tmp_path, wait=False):
                outcomes.append("acquired")
        except PublishLockBusyError:
            outcomes.append("busy")

    with publish_lock(tmp_path) as path:
        assert str(path) == lock_file
        with publish_lock(tmp_path, wait=False):  # the holding thread may re-enter
            assert other_process() == 7
        assert other_process() == 7  # still held after the inner block
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcomes == ["busy"]
    assert other_process() == 0
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert outcomes == ["busy", "acquired"]
