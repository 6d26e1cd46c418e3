"""Version folders of a published model: the latest one, and keeping only the last N.

`saved_model.write_version` adds versions (next free integer, staged then renamed);
this module reads and prunes them. TF Serving loads only integer-named folders, so a
version is removed by first renaming it to a hidden name (one atomic step: the server
sees the version vanish whole, never half its files) and then deleting that folder.

Example:

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> for v in (1, 2, 3, 4):
...     (root / str(v)).mkdir()
>>> prune_versions(root, keep=2)
[1, 2]
>>> versions(root)
[3, 4]
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from tfrec_sentiment.export.saved_model import versions

_DELETING_PREFIX = ".deleting-"

__all__ = ["latest_version", "prune_versions", "versions"]


def latest_version(model_dir: str | Path) -> int | None:
    """The highest integer version folder of `model_dir`, or None when there is none."""
    found = versions(model_dir)
    return found[-1] if found else None


def prune_versions(model_dir: str | Path, keep: int, protect: Iterable[int] = ()) -> list[int]:
    """Deletes all but the `keep` newest versions (and never those in `protect`).

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
    for version in doomed:
        hidden = model_dir / f"{_DELETING_PREFIX}{version}-{uuid.uuid4().hex}"
        os.rename(model_dir / str(version), hidden)
        shutil.rmtree(hidden)
    return doomed
