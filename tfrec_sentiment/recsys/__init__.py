"""recsys stage: the TFRS retrieval + ranking recommender (tf-keras).

Public API (imported lazily, so `tfrec_sentiment.recsys.config` stays light):

- `RecsysConfig` (config.py)
- `UserTower`, `ItemTower` (towers.py), `RatingHead` (head.py): public tf-keras
  layers, registered serializable under the package "tfrec_sentiment"
- `RecommenderModel`, `build_model` (model.py): the `tfrs.Model`
- `train_recommender` (train.py) -> `TrainedRecommender` (trained.py): the EVAL
  protocol (`predict_rating`, `score_items`), save / load
- `RecommenderServing` (serving.py): the tf.functions the export composes
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RecsysConfig": "config",
    "UserTower": "towers",
    "ItemTower": "towers",
    "RatingHead": "head",
    "RecommenderModel": "model",
    "build_model": "model",
    "train_recommender": "train",
    "TrainedRecommender": "trained",
    "RecommenderServing": "serving",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
