"""features stage: user profiles and item aggregates of the training period (tf-keras).

Public API (imported lazily, so `tfrec_sentiment.features.config` stays light):

- `FeatureConfig` (config.py)
- `build_feature_tables`, `FeatureTables` (tables.py): the tables, leakage-free
  training examples (the modes: leakage.py), full-period lookups; growth (growth.py),
  save / load (storage.py), statistics (table_stats.py)
- `ridge_biases` (biases.py): the user / item rating biases of the bias baseline and
  of the recommender's bias init
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
    "ridge_biases": "biases",
    "ReviewProfile": "profile",
    "review_signals": "profile",
    "SentimentFusion": "fusion",
    "FeatureLookup": "lookup",
})
