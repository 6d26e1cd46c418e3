"""The cold-start protocol's models that answer from each cold user's given reviews.

`GivenItemsKNN` scores from the given reviews' items (item-kNN); `FromReviews` asks
the exported module as `recommend_from_reviews` does (text and stars). Both rank only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class GivenReviews:
    """Base of the models that answer from each user's given reviews (ranking only)."""

    def __init__(self, given: pd.DataFrame) -> None:
        self.given = given
        self._rows = given.groupby(given["user_id"].astype(str), sort=False).indices
        self._items = given["item_id"].astype(str).to_numpy()

    def rows_of(self, user_ids: np.ndarray) -> list[np.ndarray]:
        """int arrays: the given rows of each user (empty for a user without any)."""
        empty = np.zeros(0, np.int64)
        return [self._rows.get(str(u), empty) for u in user_ids]

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError("the cold-start protocol only ranks (ratings=False)")


class GivenItemsKNN(GivenReviews):
    """Item-kNN scoring each user from the items of their given reviews.

    Args:
        knn: a fitted `baselines.ItemKNN` (its similarities and popularity prior).
        given: the given rows (`user_id`, `item_id`).
    """

    def __init__(self, knn, given: pd.DataFrame) -> None:
        super().__init__(given)
        self.knn = knn

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: `ItemKNN.score_histories` of the users' given items."""
        return self.knn.score_histories([self._items[r] for r in self.rows_of(user_ids)],
                                        item_ids)


class FromReviews(GivenReviews):
    """The text-aware model, asked as the exported `recommend_from_reviews` asks it.

    Calls `ServingModule._score_new_users` (the function behind that signature) with
    the given reviews' text ("title. text", `sentiment.labels.review_texts`) and stars,
    one user index per user, then maps the module's catalogue columns to the asked items.

    Args:
        module: an `export.module.ServingModule` (`build_serving_module`).
        given: the given rows (`user_id`, `text`, `title`, `rating`).
        users_per_call: users scored per call (bounds the sentiment batch).
    """

    def __init__(self, module, given: pd.DataFrame, users_per_call: int = 64) -> None:
        from tfrec_sentiment.sentiment.labels import review_texts

        super().__init__(given)
        self.module = module
        self.users_per_call = users_per_call
        self._texts = np.asarray(review_texts(given), dtype=object)
        self._stars = given["rating"].to_numpy(np.float32)
        catalogue = module.recommender.catalogue()["item_ids"].numpy()
        self._catalogue = pd.Index([i.decode("utf-8") for i in catalogue])

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]; items outside the module's catalogue score below every other."""
        import tensorflow as tf

        columns = self._catalogue.get_indexer(np.asarray(item_ids, str))
        out = []
        for begin in range(0, len(user_ids), self.users_per_call):
            rows = self.rows_of(user_ids[begin:begin + self.users_per_call])
            index = np.concatenate([np.full(len(r), g, np.int32) for g, r in enumerate(rows)])
            flat = np.concatenate(rows).astype(np.int64)
            scores = self.module._score_new_users(
                tf.constant(self._texts[flat].astype(str)), tf.constant(index),
                tf.constant(self._stars[flat]), tf.constant(self._items[flat]),
                tf.constant(len(rows), tf.int32)).numpy()
            out.append(np.asarray(scores, np.float64))
        scores = np.concatenate(out) if out else np.zeros((0, len(self._catalogue)))
        low = scores.min() - 1.0 if scores.size else 0.0
        return np.where(columns >= 0, scores[:, np.maximum(columns, 0)], low)
