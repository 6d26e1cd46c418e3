"""Sentiment stage config (owned by tfrec_sentiment.sentiment)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class SentimentConfig:
    """The BERT review classifier and its fine-tuning."""

    preset: str = "minilm"  # "minilm" (packaged weights), "tiny", or a local preset folder
    epochs: int = 1
