"""What the evaluation asks of a model, baseline or TFRS: the `Recommender` protocol.

Every model scored by `tfrec_sentiment.evaluation` answers two questions with plain
numpy arrays (no tensors, no Keras objects cross this boundary):

- `predict_rating(user_ids [N], item_ids [N]) -> float [N]`: the stars the user would
  give each paired item (rating metrics: RMSE, MAE).
- `score_items(user_ids [U], item_ids [I]) -> float [U, I]`: one score per user and
  catalogue item, higher = recommend first (top-K metrics). Only the order within a
  row matters; ties are allowed and are scored as a random order (see `metrics.py`).

Ids are strings. A model must answer for ids it never saw in training (a defined
fallback, e.g. the global or the item mean) and must not return NaN.

Example:

>>> import numpy as np
>>> class Constant:
...     def predict_rating(self, user_ids, item_ids):
...         return np.full(len(user_ids), 4.0)
...     def score_items(self, user_ids, item_ids):
...         return np.zeros((len(user_ids), len(item_ids)))
>>> isinstance(Constant(), Recommender)
True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class Recommender(Protocol):
    """A trained model the evaluation can score."""

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Predicted stars for paired ids.

        Args:
            user_ids: str [N].
            item_ids: str [N], paired with `user_ids`.

        Returns:
            float [N].
        """
        ...

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Ranking scores of every item for every user.

        Args:
            user_ids: str [U].
            item_ids: str [I], the catalogue to rank.

        Returns:
            float [U, I]; higher = recommend first.
        """
        ...


@runtime_checkable
class FittableRecommender(Recommender, Protocol):
    """A recommender trained from a canonical review table (the baselines)."""

    def fit(self, train: pd.DataFrame) -> FittableRecommender:
        """Trains on canonical rows (`user_id`, `item_id`, `rating`, `timestamp`); returns self."""
        ...


@runtime_checkable
class SplitLike(Protocol):
    """A time split: `tfrec_sentiment.data.splits.Split` or anything with these frames."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
