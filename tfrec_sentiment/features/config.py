"""Feature stage config (owned by tfrec_sentiment.features)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class FeatureConfig:
    """How sentiment, ratings and helpful votes are fused into features."""

    use_sentiment: bool = True
