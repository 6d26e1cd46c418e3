"""The erasure's cleanup (`pipeline.forget`): what still holds the users, deleted or listed.

Once the erasure's version is live, `clean_up` finds the older versions whose files
hold one of the ids, the run folders that hold one (`related_runs`: the parent and
its ancestors, the runs that made the older versions, update runs started from any
of them) and the entries of the erased texts in a score cache shared by several
runs, then deletes them (mode "delete") or only lists them ("list"). `holds` reads
Parquet tables (compression hides bytes on disk), loads `.npz` arrays and searches
every other file byte for byte; an id that is also a substring of unrelated bytes
(a very short id) can only make one more old copy count as holding it.

Example:

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "vocab.txt").write_text(" ".join(["A1B2C3", "D4E5F6"]))
>>> holds(folder, [b"D4E5F6"]), holds(folder, [b"Z9Z9Z9"])
(True, False)
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfrec_sentiment.export.versions import (
    delete_versions,
    publish_lock,
    version_facts,
    versions,
)
from tfrec_sentiment.io import EncryptedTableError, read_table
from tfrec_sentiment.pipeline.forget_ids import Matched
from tfrec_sentiment.pipeline.update import LINEAGE_FILE, RECORD_KEY
from tfrec_sentiment.sentiment.cache_edit import remove_scores
from tfrec_sentiment.sentiment.inference import ScoreCache

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption


@dataclasses.dataclass
class Cleanup:
    """What held the users after the new version went live, and what became of it.

    Attributes:
        mode: "delete" or "list".
        versions: older version numbers that held them (deleted, or to delete).
        runs: run folders that held them (deleted, or to delete).
        score_cache: a shared score cache outside the run folders, or None.
        cache_entries: entries of their texts in that cache (deleted, or to delete).
        done: whether the cleanup deleted them (mode "delete").
    """

    mode: str
    versions: list[int] = dataclasses.field(default_factory=list)
    runs: list[str] = dataclasses.field(default_factory=list)
    score_cache: str | None = None
    cache_entries: int = 0
    done: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def clean_up(model_dir: Path, version: int, parent: Path, run_dir: Path, matched: Matched,
             erased_keys: np.ndarray, cache: ScoreCache, mode: str,
             encryption: TableEncryption | None = None) -> Cleanup:
    """Deletes (or lists) what still holds the users once `version` is live.

    Older versions whose files hold an id, run folders that hold one (`related_runs`
    of `parent` and the older versions, never `run_dir`), and the entries of the
    erased texts (`erased_keys`) in the parent's score `cache` when it lies outside
    those run folders (a shared `sentiment.cache_dir`). Versions are deleted under the
    publish lock, renamed to a hidden name first (`delete_versions`). `encryption`
    reads the runs' encrypted tables (`holds`).
    """
    needles = [n.encode("utf-8") for n in matched.needles]
    cleanup = Cleanup(mode)
    older = [v for v in versions(model_dir) if v < version]
    cleanup.versions = [v for v in older if holds(model_dir / str(v), needles)]
    runs = related_runs(parent, model_dir, older)
    own = run_dir.resolve()
    cleanup.runs = [str(r) for r in runs
                    if r.resolve() != own and holds(r, needles, encryption)]
    cache_dir = cache.directory.resolve()
    if not any(cache_dir.is_relative_to(Path(r).resolve()) for r in cleanup.runs):
        cleanup.cache_entries = sum(entry is not None for f in cache.fingerprints()
                                    for entry in cache.lookup(f, erased_keys))
        cleanup.score_cache = str(cache.directory) if cleanup.cache_entries else None
    if mode != "delete":
        return cleanup
    with publish_lock(model_dir):
        delete_versions(model_dir, cleanup.versions)
    for run in cleanup.runs:
        shutil.rmtree(run)
    if cleanup.score_cache is not None:
        remove_scores(cache, erased_keys)
    cleanup.done = True
    return cleanup


def related_runs(parent: Path, model_dir: Path, older: Sequence[int]) -> list[Path]:
    """Run folders that may hold the same users as `parent`.

    The parent and its ancestors (lineage.json's `parent_run`, up to the training
    run), the runs that made the `older` versions (export.json's `source_run` and
    update record), and the update or erasure runs beside any of them that started
    from one of them (e.g. refused updates, which keep the whole history). Only
    existing folders with a config.json count.
    """
    found: dict[Path, None] = {}
    run = parent
    while run is not None and (run / "config.json").is_file() and run.resolve() not in found:
        found[run.resolve()] = None
        lineage = _read(run / LINEAGE_FILE)
        run = Path(lineage["parent_run"]) if lineage.get("parent_run") else None
    for version in older:
        facts = version_facts(model_dir / str(version))
        record = facts.get(RECORD_KEY) if isinstance(facts.get(RECORD_KEY), dict) else {}
        for path in (facts.get("source_run"), record.get("run_dir")):
            if path and (Path(path) / "config.json").is_file():
                found.setdefault(Path(path).resolve(), None)
    family = {str(p) for p in found}
    for folder in {p.parent for p in found}:
        for sibling in sorted(folder.iterdir()):
            lineage = _read(sibling / LINEAGE_FILE)
            if (lineage.get("parent_run") in family and (sibling / "config.json").is_file()):
                found.setdefault(sibling.resolve(), None)
    return list(found)


def holds(folder: Path, needles: Sequence[bytes],
          encryption: TableEncryption | None = None) -> bool:
    """Whether any file under `folder` holds one of `needles` (UTF-8 ids).

    Parquet tables are read (`io.read_table`, with `encryption` for encrypted ones)
    and their string values searched (compression hides bytes on disk); a table
    that cannot be decrypted counts as holding them (it cannot be shown not to).
    `.npz` arrays are loaded (string arrays searched), every other file is searched
    byte for byte.
    """
    if not needles:
        return False
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            found = _table_holds(path, needles, encryption)
        elif path.suffix == ".npz":
            found = _arrays_hold(path, needles)
        else:
            found = _bytes_hold(path, needles)
        if found:
            return True
    return False


def _table_holds(path: Path, needles: Sequence[bytes],
                 encryption: TableEncryption | None) -> bool:
    try:
        frame = read_table(path, encryption)
    except EncryptedTableError:
        return True
    for column in frame.columns:
        if frame[column].dtype.kind in "iufbmM":
            continue
        values = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                  for v in frame[column].dropna().tolist() if isinstance(v, str | bytes)]
        blob = "\x00".join(values).encode("utf-8", "surrogatepass")
        if any(n in blob for n in needles):
            return True
    return False


def _arrays_hold(path: Path, needles: Sequence[bytes]) -> bool:
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            array = data[name]
            if array.dtype.kind == "U":
                blob = "\x00".join(array.ravel().tolist()).encode("utf-8", "surrogatepass")
            elif array.dtype.kind == "S":
                blob = b"\x00".join(array.ravel().tolist())
            else:
                continue
            if any(n in blob for n in needles):
                return True
    return False


def _bytes_hold(path: Path, needles: Sequence[bytes]) -> bool:
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                              access=mmap.ACCESS_READ) as view:
        return any(view.find(n) >= 0 for n in needles)


def _read(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
