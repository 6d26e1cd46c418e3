"""The rejected records on disk: `rejected.jsonl`, or `rejected.parquet` when encrypted.

A rejection's `detail` may quote the field it rejects (a user id, a piece of text), so a
run whose tables are encrypted (`tfrec_sentiment.privacy`) writes its rejections as an
encrypted table through `io.write_table`; a plain run keeps one JSON line per rejection.
Each writer removes the other form, so a folder holds one.

Example:

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = save_rejections([Rejection("f.json", 3, "invalid_rating", "rating", "'five'")], folder)
>>> load_rejections(folder)[0].reason, sorted(p.name for p in folder.iterdir())
('invalid_rating', ['rejected.jsonl'])
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from tfrec_sentiment.data.schema import Rejection
from tfrec_sentiment.io import atomic_write, read_table, write_table

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

REJECTED_FILE = "rejected.jsonl"
REJECTED_TABLE = "rejected.parquet"  # in place of REJECTED_FILE when encrypted


def save_rejections(rejections: Sequence[Rejection], directory: Path,
                    encryption: TableEncryption | None = None) -> Path:
    """Writes `rejections` into `directory`; returns the file written."""
    if encryption is None:
        (directory / REJECTED_TABLE).unlink(missing_ok=True)
        return atomic_write(directory / REJECTED_FILE,
                            "".join(rejection.to_json() + "\n" for rejection in rejections))
    (directory / REJECTED_FILE).unlink(missing_ok=True)
    columns = [field.name for field in dataclasses.fields(Rejection)]
    rows = pd.DataFrame([dataclasses.asdict(r) for r in rejections], columns=columns)
    return write_table(rows.astype({"line": "int64"}), directory / REJECTED_TABLE, encryption)


def load_rejections(directory: Path,
                    encryption: TableEncryption | None = None) -> list[Rejection]:
    """Reads what `save_rejections` wrote (either form).

    Raises:
        EncryptedTableError: the table is encrypted and `encryption` cannot open it.
    """
    if (directory / REJECTED_TABLE).is_file():
        rows = read_table(directory / REJECTED_TABLE, encryption).to_dict("records")
        return [Rejection(**{k: int(v) if k == "line" else str(v) for k, v in row.items()})
                for row in rows]
    with open(directory / REJECTED_FILE, encoding="utf-8") as handle:
        return [Rejection(**json.loads(line)) for line in handle if line.strip()]
