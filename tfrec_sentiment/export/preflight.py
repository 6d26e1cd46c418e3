"""Export preflight: can the export folder take the SavedModel, checked BEFORE training.

An unwritable, uncreatable or full export folder would otherwise surface only when
the export writes, after the whole training, as a raw TensorFlow traceback.
`check_export_root` runs before any work (in `pipeline.train.run_training`,
`tools/export.py` and `pipeline.update.run_update`) and raises one `ExportRootError`
naming the folder and the fault:

- the folder (or a missing parent) cannot be created, e.g. a parent is a regular file;
- the folder is not writable: a small probe file is really written, synced and
  removed (a permission-bit test such as `os.access` says yes to root in a 0o555
  folder, and says nothing about quotas or file systems that refuse new files);
- the free space (`shutil.disk_usage`) is below the estimated SavedModel size times
  `SPACE_MARGIN`.

The folders the check creates stay when it passes (the export needs them; a second
process creating the same folder at the same time is no error) and are removed again
when it fails, so a refused run leaves no trace.

Size estimate (rough, documented, on the high side): the SavedModel holds the BERT
weights as float32 (parameters x 4 bytes: the preset's weight files, e.g. 91 MB for
MiniLM-L6's 22.7M parameters), the catalogue and user tables, and graph, vocabulary and
metadata (`OVERHEAD_BYTES`). Before training the tables' size is not known; the review
file's size stands in for it (the exported tables are, like the file, proportional to
the reviews; measured exports are 93 MB for 1,000 items and 577 MB for 1,000,000, see
README "Serving"). For a finished run (`tools/export.py`, updates) the estimate is the
size of the run's saved models and tables.

`export_write_errors(folder)` turns the write failures that still happen during the
export (a disk filling up meanwhile, a permission changed) into the same one-line
`ExportRootError`: `OSError` with errno ENOSPC / EDQUOT / EACCES / EPERM / EROFS and
TensorFlow's `PermissionDeniedError` / `ResourceExhaustedError` whose message is a
file-system message (an out-of-memory `ResourceExhaustedError` passes through).

This module does not import TensorFlow, so a tool can check before TensorFlow starts.

Example:

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> check_export_root(root / "saved_models" / "demo", estimated_bytes=1 << 20)
>>> list((root / "saved_models" / "demo").iterdir())  # created; the probe file is gone
[]
>>> blocker = root / "file"
>>> _ = blocker.write_text("x")
>>> check_export_root(blocker / "saved_models", 0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tfrec_sentiment.export.preflight.ExportRootError: export folder ... is a file, not a folder
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MIB = 1 << 20
OVERHEAD_BYTES = 16 * MIB  # graph, tokenizer vocabulary, export.json, models.config
SPACE_MARGIN = 1.25  # free space needed = estimate x margin
PROBE_BYTES = 4096
# Stand-in bytes per demo user / item (embedding rows and features, float32).
_DEMO_BYTES_PER_ID = 4096
_WEIGHT_SUFFIXES = (".safetensors", ".h5", ".bin", ".keras", ".ckpt", ".npz")
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}
# os.strerror texts TensorFlow's file system puts into its status messages.
_WRITE_MESSAGES = tuple(os.strerror(code) for code in sorted(_WRITE_ERRNOS))


class ExportRootError(RuntimeError):
    """The export folder cannot take the SavedModel; the message names it and why."""


def check_export_root(path: str | Path, estimated_bytes: int = 0, *,
                      margin: float = SPACE_MARGIN) -> None:
    """Checks that `path` exists or can be created, is writable and has room.

    Args:
        path: the folder the SavedModel versions go into (`<root>/<model_name>`).
        estimated_bytes: the expected SavedModel size in bytes (e.g.
            `estimate_run_export_bytes(config)`); 0 skips the space check.
        margin: the free space must be at least `estimated_bytes * margin`.

    Raises:
        ExportRootError: a one-line message naming `path` and what is wrong.
    """
    folder = Path(path).expanduser()
    created = _create(folder)
    try:
        _probe(folder)
        _check_space(folder, int(estimated_bytes), margin)
    except ExportRootError:
        _remove(created)  # a refused run leaves no trace
        raise


def check_export_config(export: Any, estimated_bytes: int = 0) -> None:
    """`check_export_root` on `<export.root>/<export.model_name>` of an ExportConfig."""
    check_export_root(Path(export.root) / export.model_name, estimated_bytes)


def estimate_run_export_bytes(config: Any) -> int:
    """Rough SavedModel size of a run not trained yet, from its `RunConfig` (bytes).

    BERT weights (`sentiment_weight_bytes`) + tables (the review file's size; demo
    data: users and items x 4 KiB) + `OVERHEAD_BYTES`. See the module docstring.
    """
    return (sentiment_weight_bytes(config.sentiment) + _data_bytes(config.data)
            + OVERHEAD_BYTES)


def estimate_saved_run_bytes(run_dir: str | Path) -> int:
    """Rough SavedModel size of a finished run folder (bytes): the sizes of
    `sentiment/model`, `recsys` and `features` + `OVERHEAD_BYTES`."""
    run_dir = Path(run_dir)
    return sum(folder_bytes(run_dir / part) for part in ("sentiment/model", "recsys",
                                                         "features")) + OVERHEAD_BYTES


def sentiment_weight_bytes(settings: Any) -> int:
    """float32 size of the sentiment model's weights (bytes), from a `SentimentConfig`.

    `model_dir`: that folder's size; "tiny": `bert_parameter_count` of its dimensions
    x 4; a preset folder ("minilm" or a path): the size of its weight files. An
    unresolvable preset counts 0 (the sentiment stage reports it).
    """
    if getattr(settings, "model_dir", None):
        return folder_bytes(Path(settings.model_dir))
    if settings.preset == "tiny":
        hidden = settings.tiny_hidden_dim
        return 4 * bert_parameter_count(vocabulary=256, hidden=hidden,
                                        layers=settings.tiny_layers,
                                        intermediate=4 * hidden,
                                        positions=max(settings.sequence_length, 16))
    from tfrec_sentiment.sentiment.presets import resolve_preset

    try:
        folder = resolve_preset(settings.preset)
    except FileNotFoundError:
        return 0
    weights = sum(p.stat().st_size for p in folder.rglob("*")
                  if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    return weights or folder_bytes(folder)


def bert_parameter_count(vocabulary: int, hidden: int, layers: int, intermediate: int,
                         positions: int, segments: int = 2) -> int:
    """Parameters of a BERT encoder with a pooler (embeddings, layers, layer norms).

    >>> bert_parameter_count(30522, 384, 6, 1536, 512)  # MiniLM-L6: 22.7M
    22713216
    """
    embeddings = (vocabulary + positions + segments) * hidden + 2 * hidden
    attention = 4 * (hidden * hidden + hidden) + 2 * hidden
    feed_forward = 2 * hidden * intermediate + intermediate + hidden + 2 * hidden
    return embeddings + layers * (attention + feed_forward) + hidden * hidden + hidden


def folder_bytes(path: Path) -> int:
    """Total size of the files under `path` (0 if it does not exist)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def write_error_cause(error: BaseException) -> str | None:
    """One line naming the file-system fault of a failed write, or None if `error`
    is no such fault (e.g. an out-of-memory `ResourceExhaustedError`)."""
    if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or os.strerror(error.errno)}{where}"
    if type(error).__module__.startswith("tensorflow") and type(error).__name__ in (
            "PermissionDeniedError", "ResourceExhaustedError", "FailedPreconditionError",
            "UnknownError"):
        message = str(getattr(error, "message", error))
        for text in _WRITE_MESSAGES:
            if text in message:
                where = message.split(";")[0].strip().splitlines()[0][:300]
                return f"{text}: {where}" if where != text else text
    return None


@contextlib.contextmanager
def export_write_errors(folder: str | Path) -> Iterator[None]:
    """Re-raises a file-system write failure inside the block as one `ExportRootError`
    naming `folder` (the export's own staging folder is removed by `write_version`).

    Raises:
        ExportRootError: for the errors `write_error_cause` recognises; any other
            exception passes unchanged.
    """
    try:
        yield
    except Exception as error:
        cause = write_error_cause(error)
        if cause is None:
            raise
        raise ExportRootError(f"export folder {folder}: cannot write the SavedModel: "
                              f"{cause}") from error


def _create(folder: Path) -> list[Path]:
    """Creates `folder` and its missing parents; returns those created, outermost first."""
    missing = []
    current = folder
    while not current.exists():
        if current.is_symlink():  # a dangling link: mkdir would fail obscurely
            raise ExportRootError(f"export folder {folder}: cannot create it: {current} "
                                  "is a broken symbolic link")
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if current.exists() and not current.is_dir():
        raise ExportRootError(f"export folder {folder}: cannot create it: {current} is a "
                              "file, not a folder")
    created: list[Path] = []
    try:
        for made in reversed(missing):
            try:
                made.mkdir()
            except FileExistsError:
                if made.is_dir():  # another process made it meanwhile: not ours
                    continue
                raise
            created.append(made)
    except OSError as error:
        _remove(created)
        reason = error.strerror or type(error).__name__
        raise ExportRootError(f"export folder {folder}: cannot create it: {reason} "
                              f"({error.filename or made})") from error
    return created


def _remove(created: list[Path]) -> None:
    for made in reversed(created):
        with contextlib.suppress(OSError):  # not empty: someone else uses it now
            made.rmdir()


def _probe(folder: Path) -> None:
    probe = folder / f".preflight-{uuid.uuid4().hex}"
    try:
        with open(probe, "xb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ExportRootError(f"export folder {folder}: not writable: {reason} "
                              f"(writing a {PROBE_BYTES}-byte probe file)") from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _check_space(folder: Path, estimated_bytes: int, margin: float) -> None:
    if estimated_bytes <= 0:
        return
    free = shutil.disk_usage(folder).free
    needed = int(estimated_bytes * margin)
    if free < needed:
        raise ExportRootError(
            f"export folder {folder}: not enough free space: {_mb(free)} free, the "
            f"SavedModel needs about {_mb(estimated_bytes)} (x{margin:g} margin = "
            f"{_mb(needed)})")


def _data_bytes(data: Any) -> int:
    spec = str(getattr(data, "dataset", "demo"))
    if spec == "demo":
        users = int(getattr(data, "demo_users", 0))
        items = int(getattr(data, "demo_items", 0))
        return (users + items) * _DEMO_BYTES_PER_ID
    path = Path(spec).expanduser()
    if path.is_file():
        return path.stat().st_size
    try:
        from tfrec_sentiment.data.fetch import cached_path

        return Path(cached_path(spec, cache_dir=getattr(data, "cache_dir", None))).stat().st_size
    except Exception:  # not fetched / unknown: the data stage reports it
        return 0


def _mb(size: int) -> str:
    return f"{size / MIB:,.1f} MiB"
