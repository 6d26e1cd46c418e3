"""The baselines without a rating model of their own: global mean, item mean, popularity.

Example:

>>> import pandas as pd
>>> train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
...                       "rating": [5.0, 3.0, 4.0]})
>>> ItemMean().fit(train).predict_rating(np.array(["b", "b"]), np.array(["y", "new"]))
array([3., 4.])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec_sentiment.evaluation.baselines.common import IdTable, check_train


class GlobalMean:
    """Predicts the mean training rating for everyone; ranks all items equally."""

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> GlobalMean:
        """Args: train: canonical rows (`user_id`, `item_id`, `rating`); validation: unused."""
        check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N], all mu."""
        return np.full(len(user_ids), self.mean_)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I], all zero: every order is equally likely (see metrics.py on ties)."""
        return np.zeros((len(user_ids), len(item_ids)))


class ItemMean:
    """The item's mean training rating, (sum + shrinkage * mu) / (count + shrinkage).

    Args:
        shrinkage: pseudo-ratings at mu added to each item; 0 = the plain item mean.
    """

    def __init__(self, shrinkage: float = 0.0) -> None:
        self.shrinkage = shrinkage

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> ItemMean:
        """Args: train: canonical rows; validation: unused."""
        check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        self.items_ = IdTable(train["item_id"].to_numpy(str))
        codes = self.items_.codes(train["item_id"].to_numpy(str))
        total = np.bincount(codes, train["rating"].to_numpy(np.float64), len(self.items_.index))
        count = np.bincount(codes, minlength=len(self.items_.index))
        means = (total + self.shrinkage * self.mean_) / (count + self.shrinkage)
        self.item_mean_ = np.append(means, self.mean_)  # last row: unknown items
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: the item mean, mu for unknown items."""
        return self.item_mean_[self.items_.codes(item_ids)]

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: the item means, the same for every user."""
        means = self.item_mean_[self.items_.codes(item_ids)]
        return np.broadcast_to(means, (len(user_ids), len(item_ids))).copy()


class Popularity:
    """Ranks items by training interaction count; predicts mu (it has no rating model)."""

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> Popularity:
        """Args: train: canonical rows; validation: unused."""
        check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        self.items_ = IdTable(train["item_id"].to_numpy(str))
        codes = self.items_.codes(train["item_id"].to_numpy(str))
        self.count_ = np.append(np.bincount(codes, minlength=len(self.items_.index)), 0)
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N], all mu."""
        return np.full(len(user_ids), self.mean_)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: training counts (0 for unknown items), the same for every user."""
        counts = self.count_[self.items_.codes(item_ids)].astype(np.float64)
        return np.broadcast_to(counts, (len(user_ids), len(item_ids))).copy()
