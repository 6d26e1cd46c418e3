"""Splits of a review table by time: per-user leave-last-out, or one global cut-off.

Never random rows: a model is evaluated on reviews written after the ones it learnt
from (see "Evaluation must not leak" in docs/design.md). Both splits are deterministic and
put every row in exactly one part.

Rules shared by both splits:

- **Ties.** Amazon stores review times as whole days, so one user's reviews often
  share a timestamp. Such ties are ordered by a fixed 64-bit hash (BLAKE2b) of
  `(user_id, item_id)`: the order depends neither on the file's row order nor on
  the alphabet of item ids (which would always hold out the "largest" asin), nor on
  how text cleaning rewrote the review, and it is the same on every machine and run.
- **Cold-start users.** `split_reviews` first holds out a share of users whole
  (`DataConfig.cold_user_share`, chosen by `cold_user_mask`: a salted SHA-256 of the
  normalised user id, so the same users on every machine, run and row order). Their
  rows form `Split.cold`, are in no time part, and so never reach training, the
  feature tables or an exported vocabulary (see `evaluation.cold_start`).
- **Leak units.** Rows of one user that share an item (a re-review) or a non-empty text
  (a copy under another item id) form one unit, and a unit is never cut: it goes
  whole to the part of its latest row. So no `(user, item)` and no `(user, text)` pair
  of a held-out part is also in train. After ingestion collapses variant copies such
  units are rare; without them every unit is one row.

The keys (tie order, leak units, cold-user hash) are `split_keys.py`, re-exported here.

Example:

>>> from tfrec_sentiment.data.demo import generate_demo
>>> split = leave_last_out(generate_demo(seed=0, users=40, items=30))
>>> split.test["user_id"].nunique() == split.test.shape[0] == 40
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.data.config import SPLIT_METHODS, DataConfig, parse_time
from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.data.split_keys import (
    COLD_USER_SALT,
    cold_user_mask,
    leak_units,
    tie_break_keys,
    user_hash_share,
    user_sample_mask,
)
from tfrec_sentiment.io import read_table, write_table

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

__all__ = ["ALL_PARTS", "COLD", "COLD_USER_SALT", "PARTS", "SPLIT_METHODS", "Split",
           "cold_user_mask", "cutoff_times", "leak_units", "leaked_pairs", "leave_last_out",
           "split_reviews", "tie_break_keys", "time_cutoff", "user_hash_share",
           "user_sample_mask"]

PARTS = ("train", "validation", "test")  # the time split's parts (what models learn from)
COLD = "cold"  # the held-out cold-start users' rows
ALL_PARTS = (*PARTS, COLD)


@dataclasses.dataclass
class Split:
    """Canonical review tables: `train`, `validation`, `test`, and the `cold` users.

    `cold` holds every row of the users held out for the cold-start protocol (empty
    when none are); they are in no other part. `parts` are the three time parts only
    (what training reads); `all_parts`, `sizes`, `users`, `summary` and `save` include
    `cold`. Each part keeps the input's columns and the input's row order; indexes are
    reset.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    cold: pd.DataFrame | None = None  # None = no cold users (an empty table)

    def __post_init__(self) -> None:
        if self.cold is None:
            self.cold = self.train.iloc[:0]

    @property
    def parts(self) -> dict[str, pd.DataFrame]:
        """The time parts: train, validation, test (not `cold`)."""
        return {name: getattr(self, name) for name in PARTS}

    @property
    def all_parts(self) -> dict[str, pd.DataFrame]:
        """The time parts and `cold`."""
        return {name: getattr(self, name) for name in ALL_PARTS}

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per part, `cold` included."""
        return {name: len(frame) for name, frame in self.all_parts.items()}

    @property
    def users(self) -> dict[str, int]:
        """Distinct users per part, `cold` included."""
        return {name: int(frame["user_id"].nunique()) for name, frame in self.all_parts.items()}

    def summary(self) -> dict:
        """Rows, users and time range per part (`cold` included), as plain JSON-able values."""
        summary = {}
        for name, frame in self.all_parts.items():
            times = frame["timestamp"]
            summary[name] = {
                "rows": len(frame),
                "users": int(frame["user_id"].nunique()),
                "items": int(frame["item_id"].nunique()),
                "first": _iso(times.min()) if len(frame) else None,
                "last": _iso(times.max()) if len(frame) else None,
            }
        return summary

    def save(self, directory: str | Path, encryption: TableEncryption | None = None) -> Path:
        """Writes `train.parquet`, `validation.parquet`, `test.parquet`, `cold.parquet`
        (encrypted with `encryption`, see `tfrec_sentiment.privacy`) and `split.json`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.all_parts.items():
            write_table(frame, directory / f"{name}.parquet", encryption)
        (directory / "split.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, encryption: TableEncryption | None = None) -> Split:
        """Reads the parts written by `save` (a folder without `cold.parquet`, written
        before cold-start users existed, loads with an empty `cold`).

        Raises:
            EncryptedTableError: the parts are encrypted and `encryption` cannot open them.
        """
        directory = Path(directory)
        frames = {}
        for name in ALL_PARTS:
            path = directory / f"{name}.parquet"
            if not path.is_file():
                if name == COLD:
                    continue
                raise FileNotFoundError(f"split part {path} is missing")
            # Parquet gives pandas 3's "str" dtype back; restore the canonical dtypes.
            frames[name] = to_canonical(read_table(path, encryption))
        return cls(**frames)


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).date().isoformat()


def _unit_order(frame: pd.DataFrame, units: np.ndarray) -> pd.DataFrame:
    """One row per leak unit (user, unit, latest time, tie key), in time order per user."""
    rows = pd.DataFrame({
        "user": frame["user_id"].astype(str).to_numpy(),
        "unit": units,
        "time": frame["timestamp"].to_numpy(np.int64),
        "tie": tie_break_keys(frame),
    })
    grouped = rows.groupby("unit", sort=False)
    per_unit = pd.DataFrame({
        "user": grouped["user"].first(),
        "time": grouped["time"].max(),
        "tie": grouped["tie"].min(),
    })
    return per_unit.reset_index().sort_values(["user", "time", "tie"], kind="stable")


def _assemble(frame: pd.DataFrame, part_of_row: np.ndarray) -> Split:
    parts = {}
    for code, name in enumerate(PARTS):
        parts[name] = frame.loc[part_of_row == code].reset_index(drop=True)
    return Split(**parts)


def leave_last_out(
    frame: pd.DataFrame,
    validation_per_user: int = 1,
    test_per_user: int = 1,
    min_train_per_user: int = 1,
) -> Split:
    """Per user: the latest reviews to test, the ones before them to validation.

    A user with fewer than `test_per_user + validation_per_user + min_train_per_user`
    units (rows, unless leak units join some; see the module docstring) keeps all of
    them in train. Units are ordered by their latest row, so a user's test rows are at
    least as late as all of that user's train and validation rows (the earlier rows of
    a multi-row test unit excepted: they follow their unit).

    Args:
        frame: a canonical review table (user_id, item_id, text, timestamp used).
        validation_per_user: units per user held out for validation (0 for none).
        test_per_user: units per user held out for test.
        min_train_per_user: units a user must keep in train to be held out at all.

    Returns:
        The `Split`.

    Example:
        `leave_last_out(frame, validation_per_user=0)` gives train + test only.
    """
    if min(validation_per_user, test_per_user) < 0 or min_train_per_user < 1:
        raise ValueError("per-user counts must be >= 0 and min_train_per_user >= 1")
    row_units = leak_units(frame)
    units = _unit_order(frame, row_units)
    from_end = units.groupby("user", sort=False).cumcount(ascending=False).to_numpy()
    count = units.groupby("user", sort=False)["unit"].transform("size").to_numpy()
    eligible = count >= test_per_user + validation_per_user + min_train_per_user
    part = np.zeros(len(units), dtype=np.int64)
    part[eligible & (from_end < test_per_user + validation_per_user)] = 1
    part[eligible & (from_end < test_per_user)] = 2
    part_of_unit = pd.Series(part, index=units["unit"].to_numpy())
    return _assemble(frame, part_of_unit.loc[row_units].to_numpy())


def cutoff_times(
    timestamps: np.ndarray,
    validation_start: str | int | None = None,
    test_start: str | int | None = None,
    validation_quantile: float | None = 0.8,
    test_quantile: float = 0.9,
) -> tuple[int, int]:
    """The two cut-off times of `time_cutoff`, explicit or from quantiles.

    A quantile `q` cuts at the timestamp of the review at rank ceil(q * N) in time
    order, so at most a share `q` of the reviews comes before it (less when that day
    has several reviews: a day is never cut in two). No validation part is made when
    both `validation_start` and `validation_quantile` are None.

    Returns:
        `(validation_start, test_start)` in Unix seconds; equal when there is no
        validation part.
    """
    ordered = np.sort(np.asarray(timestamps, dtype=np.int64))

    def at_quantile(q: float) -> int:
        if not 0.0 < q < 1.0:
            raise ValueError(f"split quantile must be in (0, 1), got {q}")
        if len(ordered) == 0:
            return 0
        return int(ordered[min(len(ordered) - 1, int(np.ceil(q * len(ordered))))])

    test = parse_time(test_start) if test_start is not None else at_quantile(test_quantile)
    if validation_start is not None:
        validation = parse_time(validation_start)
    elif validation_quantile is not None:
        validation = at_quantile(validation_quantile)
    else:
        validation = test
    if validation > test:
        raise ValueError(f"validation starts ({_iso(validation)}) after test ({_iso(test)})")
    return validation, test


def time_cutoff(
    frame: pd.DataFrame,
    validation_start: str | int | None = None,
    test_start: str | int | None = None,
    validation_quantile: float | None = 0.8,
    test_quantile: float = 0.9,
) -> Split:
    """One global time line: train before `validation_start`, test from `test_start` on.

    Args:
        frame: a canonical review table.
        validation_start, test_start: ISO dates or Unix seconds; None = from quantiles
            (see `cutoff_times`).
        validation_quantile, test_quantile: shares of reviews before each cut.

    Returns:
        The `Split`. Users and items may appear only in later parts (cold start).
    """
    validation, test = cutoff_times(frame["timestamp"].to_numpy(), validation_start,
                                    test_start, validation_quantile, test_quantile)
    row_units = leak_units(frame)
    # A unit goes whole to the part of its latest row.
    unit_time = _unit_order(frame, row_units).set_index("unit")["time"]
    unit_time = unit_time.loc[row_units].to_numpy()
    part = np.where(unit_time >= test, 2, np.where(unit_time >= validation, 1, 0))
    return _assemble(frame, part)


def split_reviews(frame: pd.DataFrame, config: DataConfig) -> Split:
    """Splits `frame` as `config.split` says ("leave_last_out" or "time_cutoff"), after
    holding out the cold-start users (`config.cold_user_share`) as `Split.cold`.

    Example:
        >>> from tfrec_sentiment.data.demo import generate_demo
        >>> split = split_reviews(generate_demo(seed=0, users=200, items=30), DataConfig())
        >>> sorted(set(split.cold["user_id"]) & set(split.train["user_id"]))
        []
    """
    if config.split not in SPLIT_METHODS:
        raise ValueError(f"data.split={config.split!r}: choose one of {SPLIT_METHODS}")
    cold = cold_user_mask(frame, config.cold_user_share)
    rest = frame.loc[~cold].reset_index(drop=True)
    if config.split == "leave_last_out":
        split = leave_last_out(rest, config.split_validation_per_user,
                               config.split_test_per_user, config.split_min_train_per_user)
    else:
        split = time_cutoff(rest, config.split_validation_start, config.split_test_start,
                            config.split_validation_quantile, config.split_test_quantile)
    split.cold = frame.loc[cold].reset_index(drop=True)
    return split


def leaked_pairs(split: Split) -> dict[str, int]:
    """Held-out rows whose (user, item) or (user, text) pair is also in train.

    Returns:
        `{"user_item": n, "user_text": n}` over validation and test together.
    """
    train = split.train
    held = pd.concat([split.validation, split.test], ignore_index=True)
    counts = {}
    for name, column in (("user_item", "item_id"), ("user_text", "text")):
        seen = set(zip(train["user_id"], train[column]))
        pairs = zip(held["user_id"], held[column])
        counts[name] = sum(1 for pair in pairs if pair in seen and pair[1] != "")
    return counts
