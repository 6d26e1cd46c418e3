"""Version folders of a published model: listing, the publish lock, pruning, leftovers.

`saved_model.write_version` adds versions (next free integer, staged then renamed);
this module reads and prunes them and holds what makes publishing safe when tools
run at the same time or are killed:

- `publish_lock`: an exclusive `fcntl.flock` on `<model_dir>/.publish.lock`, held
  while a version is claimed and renamed into place (and, by an update, while it
  re-checks that the version it compared against is still the newest). It is
  re-entrant within one thread and excludes other threads and other processes.
- Hidden work folders carry their owner in their name, `.staging-<token>.<pid>@<host>`
  (an export being written) and `.deleting-<version>-<token>.<pid>@<host>` (a pruned
  version being deleted). `remove_leftovers` deletes those whose owner process is
  gone (a killed export or prune); one whose owner is alive, or runs on another host,
  stays.
- `prune_versions`: TF Serving loads only integer-named folders, so a version is
  removed by first renaming it to a hidden name (one atomic step: the server sees the
  version vanish whole, never half its files) and then deleting that folder.

Example:

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> for v in (1, 2, 3, 4):
...     (root / str(v)).mkdir()
>>> prune_versions(root, keep=2)
[1, 2]
>>> versions(root)
[3, 4]
>>> (root / ".staging-0123456789abcdef0123456789abcdef.999999999@elsewhere").mkdir()
>>> remove_leftovers(root).kept  # another host's export: its owner cannot be checked
['.staging-0123456789abcdef0123456789abcdef.999999999@elsewhere']
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

STAGING_PREFIX = ".staging-"
DELETING_PREFIX = ".deleting-"
LOCK_FILE = ".publish.lock"

# .staging-<token>[.<pid>@<host>] and .deleting-<version>-<token>[.<pid>@<host>]; names
# without the owner part were written before owners were recorded.
_LEFTOVER = re.compile(r"^\.(?P<kind>staging|deleting)-(?:(?P<version>\d+)-)?"
                       r"(?P<token>[0-9a-f]{32})(?:\.(?P<pid>\d+)@(?P<host>[^/]+))?$")

__all__ = ["LOCK_FILE", "Leftovers", "PublishLockBusyError", "delete_versions",
           "latest_version", "owned_name", "prune_versions", "publish_lock",
           "remove_leftovers", "versions"]


class PublishLockBusyError(RuntimeError):
    """`publish_lock(..., wait=False)` found the lock held by another thread or process."""


def versions(model_dir: str | Path) -> list[int]:
    """The integer version folders of a model folder, ascending ([] if it is absent)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def latest_version(model_dir: str | Path) -> int | None:
    """The highest integer version folder of `model_dir`, or None when there is none."""
    found = versions(model_dir)
    return found[-1] if found else None


def version_facts(version_dir: str | Path) -> dict:
    """A published version's `assets.extra/export.json` as a dict; {} when it is missing,
    unreadable or not a JSON object (a version folder not written by this package)."""
    try:
        facts = json.loads((Path(version_dir) / "assets.extra" / "export.json").read_text())
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def owned_name(prefix: str) -> str:
    """A hidden work-folder name that records its owner: `<prefix><token>.<pid>@<host>`.

    Example: `owned_name(".staging-")` -> ".staging-3f2a...e1.4242@build-7".
    """
    return f"{prefix}{uuid.uuid4().hex}.{os.getpid()}@{socket.gethostname()}"


@dataclasses.dataclass
class _Held:
    rlock: threading.RLock = dataclasses.field(default_factory=threading.RLock)
    depth: int = 0
    fd: int | None = None


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def publish_lock(model_dir: str | Path, wait: bool = True) -> Iterator[Path]:
    """Holds the model folder's publish lock (`<model_dir>/.publish.lock`, flock).

    Re-entrant in the thread that holds it; other threads of the process wait on an
    in-process lock first (flock alone does not exclude two opens in one process
    reliably), other processes on the flock. The lock file stays (deleting it would
    let two processes lock two different files); TF Serving ignores it.

    Args:
        model_dir: `<root>/<model_name>` (created if absent).
        wait: block until the lock is free; False raises `PublishLockBusyError` at once.

    Yields:
        The lock file's path.

    Raises:
        PublishLockBusyError: `wait=False` and another thread or process holds the lock.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir.resolve() / LOCK_FILE
    with _HELD_GUARD:
        held = _HELD.setdefault(str(path), _Held())
    if not held.rlock.acquire(blocking=wait):
        raise PublishLockBusyError(f"{path} is held by another thread of this process")
    try:
        if held.depth == 0:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                raise PublishLockBusyError(f"{path} is held by another process") from None
            except BaseException:
                os.close(fd)
                raise
            held.fd = fd
        held.depth += 1
        try:
            yield path
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fcntl.flock(held.fd, fcntl.LOCK_UN)
                os.close(held.fd)
                held.fd = None
    finally:
        held.rlock.release()


@dataclasses.dataclass
class Leftovers:
    """What `remove_leftovers` did: folder names removed and kept (with why)."""

    removed: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)


def remove_leftovers(model_dir: str | Path) -> Leftovers:
    """Deletes the `.staging-*` / `.deleting-*` folders that no live process owns.

    A folder whose name records a process of this host that no longer runs (a killed
    export, an interrupted prune) is deleted; one whose process is alive (an export
    in progress), or that was made on another host (its process cannot be checked
    from here), is kept. A name without an owner (written before owners were
    recorded) counts as orphaned. Other files and folders are never touched.

    Args:
        model_dir: `<root>/<model_name>`; absent = nothing to do.

    Returns:
        `Leftovers` with the folder names removed and kept.
    """
    model_dir = Path(model_dir)
    out = Leftovers()
    if not model_dir.is_dir():
        return out
    host = socket.gethostname()
    for path in sorted(model_dir.iterdir()):
        match = _LEFTOVER.match(path.name)
        if match is None or not path.is_dir():
            continue
        pid, owner_host = match["pid"], match["host"]
        if pid is not None and owner_host != host:
            out.kept.append(path.name)
            out.reasons[path.name] = f"made on host {owner_host}, not this one ({host})"
            continue
        if pid is not None and _alive(int(pid)):
            out.kept.append(path.name)
            out.reasons[path.name] = f"its owner, process {pid}, is running"
            continue
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            out.kept.append(path.name)
            out.reasons[path.name] = "could not be deleted"
        else:
            out.removed.append(path.name)
            out.reasons[path.name] = ("no owner recorded" if pid is None
                                      else f"its owner, process {pid}, is gone")
    return out


def prune_versions(model_dir: str | Path, keep: int, protect: Iterable[int] = ()) -> list[int]:
    """Deletes all but the `keep` newest versions (and never those in `protect`).

    Idempotent: pruning again deletes nothing more. A prune killed midway leaves at
    most a `.deleting-*` folder (never a partial integer version), which the next
    `remove_leftovers` deletes.

    Args:
        model_dir: `<root>/<model_name>`, holding integer version folders.
        keep: how many of the newest versions stay (>= 1).
        protect: versions never deleted (e.g. one pinned by a `specific` policy).

    Returns:
        The deleted versions, ascending.

    Raises:
        ValueError: `keep` < 1 (the served version must stay).
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}: the newest version is the one served")
    model_dir = Path(model_dir)
    protected = set(protect)
    doomed = [v for v in versions(model_dir)[:-keep] if v not in protected]
    return delete_versions(model_dir, doomed)


def delete_versions(model_dir: str | Path, doomed: Iterable[int]) -> list[int]:
    """Deletes the given version folders, each renamed to a hidden name first.

    The rename is one atomic step (a server sees the version vanish whole); a delete
    killed midway leaves a `.deleting-*` folder that `remove_leftovers` deletes.
    Versions that do not exist are skipped. Call it under `publish_lock`.

    Returns:
        The deleted versions, ascending.
    """
    model_dir = Path(model_dir)
    present = set(versions(model_dir))
    deleted = sorted(v for v in set(doomed) if v in present)
    for version in deleted:
        hidden = model_dir / owned_name(f"{DELETING_PREFIX}{version}-")
        os.rename(model_dir / str(version), hidden)
        shutil.rmtree(hidden)
    return deleted


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (a zombie counts as alive)."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # exists, owned by another user
    return True
