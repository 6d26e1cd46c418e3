"""Data stage config (owned by tfrec_sentiment.data).

Example:

>>> config = DataConfig(dataset="reviews.csv", format="csv",
...                     columns=("user_id=uid", "item_id=product"))
>>> config.collapse_variants is None  # None: on for formats that copy reviews (amazon2018)
True
"""

from __future__ import annotations

import dataclasses

PSEUDONYMIZE_KEY_ENV = "TFREC_PSEUDONYMIZE_KEY"


@dataclasses.dataclass
class DataConfig:
    """Where reviews come from, how they are ingested, and how they are split."""

    dataset: str = "demo"  # "demo", a fetched data set name, or a file path
    # Size of the synthetic demo data (tfrec_sentiment.data.demo.generate_demo).
    demo_users: int = 600
    demo_items: int = 300
    format: str | None = None  # reader name; None = guess from the file
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
    chunk_size: int = 50_000  # records per chunk while streaming a file
    # Splits by time (tfrec_sentiment.data.splits). "leave_last_out": per user, the latest
    # reviews go to test and the ones before to validation; "time_cutoff": one global date.
    split: str = "leave_last_out"
    split_validation_per_user: int = 1
    split_test_per_user: int = 1
    split_min_train_per_user: int = 1  # users with fewer reviews left keep all in train
    # time_cutoff: an ISO date ("2013-06-01") or Unix seconds; None = use the quantile.
    split_validation_start: str | None = None
    split_test_start: str | None = None
    split_validation_quantile: float = 0.8  # share of reviews (by time) before validation
    split_test_quantile: float = 0.9
