"""Export stage config (owned by tfrec_sentiment.export)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ExportConfig:
    """Where and how the one SavedModel is written."""

    root: str = "saved_models"
    model_name: str = "tfrec_sentiment"
    top_k: int = 10
