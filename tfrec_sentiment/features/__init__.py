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

from tfrec_sentiment.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "FeatureConfig": "config",
    "FeatureTables": "tables",
    "build_feature_tables": "tables",
    "ReviewProfile": "profile",
    "review_signals": "profile",
    "SentimentFusion": "fusion",
    "FeatureLookup": "lookup",
})
