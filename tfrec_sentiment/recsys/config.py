"""Recommender stage config (owned by tfrec_sentiment.recsys)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class RecsysConfig:
    """The TFRS retrieval + ranking model and its training."""

    epochs: int = 5
