"""Data stage config (owned by tfrec_sentiment.data).

Example:

>>> config = DataConfig(dataset="reviews.csv", format="csv",
...                     columns=("user_id=uid", "item_id=product"))
>>> config.collapse_variants is None  # None: on for formats that copy reviews (amazon2018)
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import numbers

from tfrec_sentiment.config_checks import ConfigError, check_fields

PSEUDONYMIZE_KEY_ENV = "TFREC_PSEUDONYMIZE_KEY"
# Allowed `split` values, dispatched in `data.splits.split_reviews`.
SPLIT_METHODS = ("leave_last_out", "time_cutoff")


def _format_names() -> tuple[str, ...]:
    # The readers' registry owns the names; imported only when a format is given.
    from tfrec_sentiment.data.readers import FORMAT_NAMES

    return FORMAT_NAMES


def parse_time(value: str | int | float) -> int:
    """Unix seconds from Unix seconds or an ISO date/datetime ("2013-06-01"; UTC if naive).

    The one reading of `split_validation_start` / `split_test_start`: the config checks
    them with it, `data.splits` cuts with it. Raises ValueError for anything else.
    """
    if isinstance(value, numbers.Real):  # int, float and the numpy scalars
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"time {value!r} is neither Unix seconds nor an ISO date") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


@dataclasses.dataclass
class DataConfig:
    """Where reviews come from, how they are ingested, and how they are split."""

    dataset: str = "demo"  # "demo", a fetched data set name, or a file path
    # Size of the synthetic demo data (tfrec_sentiment.data.demo.generate_demo).
    demo_users: int = dataclasses.field(default=600, metadata={"min": 1})
    demo_items: int = dataclasses.field(default=300, metadata={"min": 1})
    # reader name; None = guess from the file
    format: str | None = dataclasses.field(default=None, metadata={"choices": _format_names})
    # Generic csv / parquet / jsonl readers: "canonical=source" pairs, e.g. "user_id=uid".
    columns: tuple[str, ...] = ()
    # Collapse one review copied onto several item ids (same user + same text) and group
    # the items it links into one product. None = only for formats known to copy
    # (amazon2018); True / False force it for any format.
    collapse_variants: bool | None = None
    # Pseudonymise user ids with a keyed hash when this environment variable holds a key
    # (or a key is passed explicitly); the key itself never enters the config.
    pseudonymize_key_env: str = PSEUDONYMIZE_KEY_ENV
    cache_dir: str | None = None  # fetched data sets; None = tfrec_sentiment.data.fetch default
    # Text encoding of review files, a Python codec name such as "cp1252"; None = UTF-8,
    # with records that fail rejected and the likely encoding named in a warning.
    encoding: str | None = None
    # records per chunk while streaming a file
    chunk_size: int = dataclasses.field(default=50_000, metadata={"min": 1})
    # Splits by time (tfrec_sentiment.data.splits). "leave_last_out": per user, the latest
    # reviews go to test and the ones before to validation; "time_cutoff": one global date.
    split: str = dataclasses.field(default="leave_last_out", metadata={"choices": SPLIT_METHODS})
    split_validation_per_user: int = dataclasses.field(default=1, metadata={"min": 0})
    split_test_per_user: int = dataclasses.field(default=1, metadata={"min": 0})
    # users with fewer reviews left keep all in train
    split_min_train_per_user: int = dataclasses.field(default=1, metadata={"min": 1})
    # time_cutoff: an ISO date ("2013-06-01") or Unix seconds; None = use the quantile.
    split_validation_start: str | None = None
    split_test_start: str | None = None
    # share of reviews (by time) before validation
    split_validation_quantile: float = dataclasses.field(
        default=0.8, metadata={"above": 0.0, "below": 1.0})
    split_test_quantile: float = dataclasses.field(
        default=0.9, metadata={"above": 0.0, "below": 1.0})
    # Cold-start users (data.splits.cold_user_mask): this share of users, chosen by a
    # salted SHA-256 of the normalised user id, is held out whole (Split.cold) before the
    # time split: none of their rows reaches training, features or the export. 0 = off.
    cold_user_share: float = dataclasses.field(default=0.2, metadata={"min": 0.0, "below": 1.0})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.encoding is not None:
            from tfrec_sentiment.data.readers.encoding import check_encoding

            try:
                check_encoding(self.encoding)
            except ValueError as error:
                raise ConfigError(str(error), "encoding", self.encoding) from None
        if self.columns:
            from tfrec_sentiment.data.readers import parse_columns

            try:
                parse_columns(self.columns)
            except ValueError as error:
                raise ConfigError(str(error), "columns", ",".join(self.columns)) from None
        if self.split_validation_quantile > self.split_test_quantile:
            raise ConfigError(f"must be <= split_test_quantile={self.split_test_quantile}",
                              "split_validation_quantile", self.split_validation_quantile)
        starts = {}
        for name in ("split_validation_start", "split_test_start"):
            if getattr(self, name) is not None:
                try:
                    starts[name] = parse_time(getattr(self, name))
                except ValueError:
                    raise ConfigError("expected an ISO date (2013-06-01) or Unix seconds",
                                      name, getattr(self, name)) from None
        if len(starts) == 2 and starts["split_validation_start"] > starts["split_test_start"]:
            raise ConfigError(f"must not be after split_test_start={self.split_test_start!r}",
                              "split_validation_start", self.split_validation_start)
