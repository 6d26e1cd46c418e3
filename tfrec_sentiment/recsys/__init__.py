"""recsys stage: the TFRS retrieval + ranking recommender (tf-keras).

Public API (imported lazily, so `tfrec_sentiment.recsys.config` stays light):

- `RecsysConfig` (config.py)
- `UserTower`, `ItemTower` (towers.py), `RatingHead` (head.py): public tf-keras
  layers, registered serializable under the package "tfrec_sentiment"; the towers'
  parts (id_embedding.py, history_bag.py, profile_path.py, similarity_block.py) are
  public in `tfrec_sentiment.layers`; the saved weights' format: weights_format.py
- `RecommenderModel` (model.py): the `tfrs.Model`; `build_model`, `make_optimizer`
  (build.py): its factory; `initialize_biases` (bias_init.py): biases started at the
  baselines; `CatalogueTopK` (topk.py)
- `train_recommender` (train.py) -> `TrainedRecommender` (trained.py): the EVAL
  protocol (`predict_rating`, `score_items`), save / load
- `RecommenderServing` (serving.py): the tf.functions the export composes
"""

from __future__ import annotations

from tfrec_sentiment.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "RecsysConfig": "config",
    "UserTower": "towers",
    "ItemTower": "towers",
    "RatingHead": "head",
    "RecommenderModel": "model",
    "build_model": "build",
    "make_optimizer": "build",
    "initialize_biases": "bias_init",
    "CatalogueTopK": "topk",
    "train_recommender": "train",
    "TrainedRecommender": "trained",
    "RecommenderServing": "serving",
})
