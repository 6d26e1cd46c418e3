"""The canonical review table every reader produces and every later stage reads.

One row per accepted review. Columns and dtypes:

| column          | dtype            | meaning                                         |
|-----------------|------------------|-------------------------------------------------|
| `user_id`       | str (object)     | reviewer id, possibly pseudonymised             |
| `item_id`       | str (object)     | product id (Amazon 2018: variant group id)      |
| `rating`        | float32          | stars, 1.0 to 5.0                               |
| `text`          | str (object)     | review body, cleaned ("" never survives)        |
| `title`         | str (object)     | summary / title, "" when absent                 |
| `helpful_votes` | int64            | helpful ("likes") votes, >= 0                   |
| `timestamp`     | int64            | seconds since the Unix epoch, UTC               |
| `verified`      | boolean (nullable)| verified purchase; <NA> when the source lacks it|
| `source`        | str (object)     | reader name, e.g. "amazon2018"                  |

Readers may add `line` (int64, 1-based line or row number in the source file), which
ties every row back to its record; later stages ignore extra columns.

Example:

>>> frame = empty_reviews()
>>> list(frame.columns) == list(CANONICAL_COLUMNS)
True
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

CANONICAL_COLUMNS: dict[str, str] = {
    "user_id": "object",
    "item_id": "object",
    "rating": "float32",
    "text": "object",
    "title": "object",
    "helpful_votes": "int64",
    "timestamp": "int64",
    "verified": "boolean",
    "source": "object",
}

RATING_MIN = 1.0
RATING_MAX = 5.0


class SchemaError(ValueError):
    """A table does not have the canonical columns or dtypes."""


def empty_reviews() -> pd.DataFrame:
    """Returns an empty canonical table with the right dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in CANONICAL_COLUMNS.items()})


def to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Casts `frame` to canonical dtypes, keeping any extra columns after them.

    Raises:
        SchemaError: a canonical column is missing.
    """
    missing = [name for name in CANONICAL_COLUMNS if name not in frame.columns]
    if missing:
        raise SchemaError(f"review table lacks canonical column(s) {missing}")
    out = frame.copy()
    for name, dtype in CANONICAL_COLUMNS.items():
        if dtype == "object":
            out[name] = out[name].astype(str).astype(object)
        else:
            out[name] = out[name].astype(dtype)
    extras = [c for c in out.columns if c not in CANONICAL_COLUMNS]
    return out[list(CANONICAL_COLUMNS) + extras].reset_index(drop=True)


def validate_reviews(frame: pd.DataFrame) -> None:
    """Checks columns, dtypes and value ranges of a canonical table.

    Raises:
        SchemaError: naming the first column that is wrong.
    """
    for name, dtype in CANONICAL_COLUMNS.items():
        if name not in frame.columns:
            raise SchemaError(f"missing column {name!r}")
        if str(frame[name].dtype) != dtype:
            raise SchemaError(f"column {name!r} has dtype {frame[name].dtype}, expected {dtype}")
    ratings = frame["rating"].to_numpy()
    if len(ratings) and (np.isnan(ratings).any() or ratings.min() < RATING_MIN
                         or ratings.max() > RATING_MAX):
        raise SchemaError(f"column 'rating' has values outside [{RATING_MIN}, {RATING_MAX}]")
    if len(frame) and frame["helpful_votes"].min() < 0:
        raise SchemaError("column 'helpful_votes' has negative values")


@dataclasses.dataclass(frozen=True)
class Rejection:
    """One input record that was set aside, and why.

    `line` is 1-based (a CSV's header is line 1); `field` names the offending field
    where one field is to blame, else "".
    """

    file: str
    line: int
    reason: str
    field: str = ""
    detail: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


@dataclasses.dataclass
class IngestReport:
    """Accounting for one ingestion run: every input record lands in one bucket.

    Invariant checked by `balanced`: `lines == accepted + sum(rejected) + duplicates`.
    `cleaning` counts edits that did not remove a record (e.g. e-mails scrubbed).
    """

    lines: int = 0
    accepted: int = 0
    rejected: Counter = dataclasses.field(default_factory=Counter)
    duplicates: int = 0
    cleaning: Counter = dataclasses.field(default_factory=Counter)
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.lines == self.accepted + sum(self.rejected.values()) + self.duplicates

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] += count

    def merge_counts(self, counts: Mapping[str, int], into: str = "cleaning") -> None:
        getattr(self, into).update({k: int(v) for k, v in counts.items() if v})

    def to_dict(self) -> dict:
        return {
            "lines": self.lines,
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "duplicates": self.duplicates,
            "cleaning": dict(sorted(self.cleaning.items())),
            "balanced": self.balanced,
            **self.extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)
