"""File helpers every stage shares: atomic writes and JSON-ready values.

Atomic writes: a file is written under a staging name in its own folder, then moved
over the final name with `os.replace` (atomic on POSIX and Windows within one file
system), so a reader sees the old file or the whole new one, never a torn one. A
writer that fails (or a process killed mid-write) leaves the old file as it was; a
failure inside Python also removes the staging file. The staging name is
`.tmp-<random>-<name>`: hidden, unique per writer, and it keeps the final name's
suffixes, for writers that insist on one (`np.savez` adds `.npz`, Keras wants
`.weights.h5`).

- `atomic_write(path, data)`: bytes or text.
- `atomic_path(path)`: a context manager yielding the staging path, for writers that
  need a path (`np.savez`, `model.save_weights`).
- `publish(staging, path)`: the final move alone, for a staging file that must outlive
  a failure (a resumable download's `.part` file).

With `fsync=True` the data is flushed to disk before the move and the folder after
it, so the new file survives a power cut too (slower: for state a resume relies on).

Example:

>>> import tempfile
>>> import numpy as np
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_write(folder / "state.json", json.dumps({"epoch": 3})).name
'state.json'
>>> with atomic_path(folder / "scores.npz") as staging:
...     np.savez(staging, scores=np.arange(3))
>>> sorted(p.name for p in folder.iterdir())
['scores.npz', 'state.json']
>>> json.dumps({"x": np.float32(0.5), "path": Path("a/b")}, default=json_default)
'{"x": 0.5, "path": "a/b"}'
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

STAGING_PREFIX = ".tmp-"


def staging_path(path: str | Path) -> Path:
    """A fresh hidden staging name beside `path` that keeps its suffixes."""
    path = Path(path)
    return path.with_name(f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")


def publish(staging: str | Path, path: str | Path, *, fsync: bool = False) -> Path:
    """Moves a finished staging file over `path` atomically (`os.replace`).

    Args:
        staging: the complete file, in the same folder (file system) as `path`.
        path: the final name; an existing file there is replaced.
        fsync: flush the file's data before the move and the folder's entry after.

    Returns:
        `path`.
    """
    staging, path = Path(staging), Path(path)
    if fsync:
        _fsync(staging)
    os.replace(staging, path)
    if fsync:
        _fsync(path.parent)
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """Yields a staging path to write; on success it replaces `path`, on error it goes.

    Args:
        path: the final file; its folder must exist.
        fsync: as in `publish`.

    Raises:
        Whatever the body raises (after removing the staging file; `path` untouched).
        FileNotFoundError: the body wrote nothing at the staging path.
    """
    staging = staging_path(path)
    try:
        yield staging
        publish(staging, path, fsync=fsync)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str, *, fsync: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Writes `data` (bytes, or text in `encoding`) to `path` atomically.

    Returns:
        `path` (a Path).
    """
    path = Path(path)
    with atomic_path(path, fsync=fsync) as staging:
        if isinstance(data, str):
            staging.write_text(data, encoding=encoding)
        else:
            staging.write_bytes(data)
    return path


def json_default(value: object) -> object:
    """The `default=` hook of `json.dump(s)`: arrays and numpy scalars, paths.

    numpy (and anything else with `tolist`) -> lists / Python numbers; `Path` -> str.

    Raises:
        TypeError: any other type, named.
    """
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def jsonable(value: object, *, fallback: Callable[[object], object] | None = None) -> object:
    """A JSON-ready copy of `value`: what `json.loads(json.dumps(value))` gives back.

    Tuples become lists and mapping keys strings, as JSON has them; numpy values and
    paths as in `json_default`.

    Args:
        value: nested dicts / lists / numbers / strings / numpy values.
        fallback: converts any other object (e.g. `str`); None = TypeError.

    Example:
        >>> import numpy as np
        >>> jsonable({"loss": [np.float64(0.25)], 1: (2, 3)})
        {'loss': [0.25], '1': [2, 3]}
    """
    def default(item: object) -> object:
        if fallback is None or hasattr(item, "tolist") or isinstance(item, Path):
            return json_default(item)
        return fallback(item)

    return json.loads(json.dumps(value, default=default))


def _fsync(path: Path) -> None:
    """Flushes a file (or, where the OS allows, a folder) to disk."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        handle = os.open(path, flags)
    except OSError:  # folders cannot be opened on some systems (Windows)
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
