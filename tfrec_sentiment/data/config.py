"""Data stage config (owned by tfrec_sentiment.data)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class DataConfig:
    """Where reviews come from and how they are split."""

    dataset: str = "demo"  # "demo", a fetched data set name, or a file path
    format: str | None = None  # reader name; None = guess from the file
