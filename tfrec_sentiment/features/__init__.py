"""features stage: user profiles and item aggregates of the training period (tf-keras).

Public API (imported lazily, so `tfrec_sentiment.features.config` stays light):

- `FeatureConfig` (config.py)
- `build_feature_tables`, `FeatureTables` (tables.py): the tables, leakage-free
  training examples, full-period lookups, save / load
- `ReviewProfile`, `review_signals` (profile.py): the one aggregation of reviews
- `SentimentFusion` (fusion.py), `FeatureLookup` (lookup.py): public tf-keras layers,
  registered serializable under the package "tfrec_sentiment"
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FeatureConfig": "config",
    "FeatureTables": "tables",
    "build_feature_tables": "tables",
    "ReviewProfile": "profile",
    "review_signals": "profile",
    "SentimentFusion": "fusion",
    "FeatureLookup": "lookup",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
