"""The second stage of a partitioned index: each user's own candidates scored as the
whole catalogue would score them.

A mixin of `RecommenderServing` (serving.py): `prepare_candidate_scoring` stores the
catalogue-wide moments once, before saving; `score_columns` standardises with them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_sentiment.features.common import SIMILARITY_GROUP
from tfrec_sentiment.recsys.blend_weights import (
    blend_scores,
    standardize_tensor_rows,
    weighted_component,
)
from tfrec_sentiment.recsys.scoring import candidate_ratings, rating_matrix


class CandidateScoring:
    """The candidate-scoring part of `RecommenderServing` (its attributes:
    `item_embeddings`, `item_log_count`, `model`, `score_mode`, `score_blend`,
    `blend_weights`, `new_user_blend_weights`, `blend_edges`, `components`,
    `item_features`, `_projected`, `_catalogue_outputs`, `_user_signals`, `_knn`)."""

    def prepare_candidate_scoring(self, sample: int = 2048, seed: int = 0) -> None:
        """Stores the catalogue-wide statistics that `score_columns` standardises with.

        The "learned" and "blend" scores standardise each component per user over
        the WHOLE catalogue; `score_columns` scores a few candidates, so the per-user
        mean and variance come from here instead: retrieval exactly (item embedding
        mean m [E] and covariance S [E, E]: mean u.m, variance u'Su), popularity
        exactly (one catalogue constant), kNN exactly (the profile row; projected,
        as retrieval, from the basis rows' mean and covariance), the rating
        head over a seeded sample of `sample` catalogue items (every item when the
        catalogue has at most `sample`: then exact too). Call it once, before saving.
        """
        embeddings = self.item_embeddings.numpy()
        mean, covariance = _moments(embeddings)
        self.catalogue_mean = tf.Variable(mean, trainable=False, name="catalogue_mean")
        self.catalogue_covariance = tf.Variable(covariance, trainable=False,
                                                name="catalogue_covariance")
        if self._projected:  # the catalogue's basis rows (table row 0: unknown item)
            rows = self.item_features.tables[SIMILARITY_GROUP].numpy()[1:len(embeddings) + 1]
            mean, covariance = _moments(rows)
            self.knn_mean = tf.Variable(mean, trainable=False, name="knn_mean")
            self.knn_covariance = tf.Variable(covariance, trainable=False,
                                              name="knn_covariance")
        log_count = self.item_log_count.numpy()[1:].astype(np.float64)
        self.popularity_moments = tf.Variable(
            np.array([log_count.mean(), log_count.var()] if len(log_count) else [0.0, 0.0],
                     np.float32), trainable=False, name="popularity_moments")
        rng = np.random.default_rng(seed)
        columns = (np.arange(len(embeddings)) if len(embeddings) <= sample
                   else np.sort(rng.choice(len(embeddings), sample, replace=False)))
        self.moment_sample = tf.Variable(columns.astype(np.int32), trainable=False,
                                         name="moment_sample")

    def score_columns(self, user: dict, columns: tf.Tensor, user_id: tf.Tensor | None = None,
                      history: tf.Tensor | None = None, similarity: tf.Tensor | None = None,
                      new_users: bool = False) -> tf.Tensor:
        """Scores [B, C] of each user's own C candidate columns, as `score_catalogue`.

        The score mode's value of user b and item `columns[b, c]` over the whole
        catalogue: standardised with the catalogue-wide moments of
        `prepare_candidate_scoring` (exact for retrieval, popularity and kNN; the
        rating head's over its item sample), so the candidates rank as in
        `score_catalogue` and their scores match it when the sample is the catalogue.

        Args:
            user: user-tower outputs [B, ...] (`user_outputs` / `new_user_outputs`).
            columns: int32 [B, C] catalogue columns; negative = none (its score is
                meaningless: mask it).
            user_id: string [B] known users (their bucket and kNN profile); None for
                new users, who bring `history` int64 [B] and `similarity` [B, I] ([B, r]
                projected).
            new_users: rank with the new-user blend weights.

        Raises:
            ValueError: `prepare_candidate_scoring` was not called.
        """
        if not hasattr(self, "moment_sample"):
            raise ValueError("call prepare_candidate_scoring() before score_columns()")
        safe = tf.maximum(tf.cast(columns, tf.int32), 0)
        catalogue = self._catalogue_outputs()
        item = {k: tf.gather(v, safe) for k, v in catalogue.items()}  # [B, C, ...]
        retrieval = tf.einsum("be,bce->bc", user["embedding"], item["embedding"])
        if self.score_mode == "retrieval":
            return retrieval
        if self.score_mode == "rating":
            return candidate_ratings(self.model, user, item)
        sampled = {k: tf.gather(v, self.moment_sample) for k, v in catalogue.items()}
        moments = {"retrieval": self._retrieval_moments(user["embedding"])}
        if self.score_mode == "blend":
            rating = candidate_ratings(self.model, user, item)
            moments["rating"] = tf.nn.moments(rating_matrix(self.model, user, sampled), axes=[1])
            return (standardize_tensor_rows(retrieval, moments["retrieval"])
                    + self.score_blend * standardize_tensor_rows(rating, moments["rating"]))
        num_users = tf.shape(user["bias"])[0]
        item_index = tf.cast(safe, tf.int64) + 1  # feature-table rows (0 = unknown)
        parts = {"retrieval": retrieval,
                 "popularity": tf.gather(self.item_log_count, item_index)}
        fill = tf.ones([num_users])
        moments["popularity"] = (fill * self.popularity_moments[0],
                                 fill * self.popularity_moments[1])
        parts["history"], profile = self._user_signals(num_users, user_id, history, similarity)
        weights = (self.new_user_blend_weights if new_users else self.blend_weights).read_value()
        edges = self.blend_edges.read_value()

        def rating_and_moments() -> tf.Tensor:  # [B, C + 2]: the ratings, mean, variance
            mean, variance = tf.nn.moments(rating_matrix(self.model, user, sampled), axes=[1])
            return tf.concat([candidate_ratings(self.model, user, item), mean[:, None],
                              variance[:, None]], axis=1)

        shape = tf.shape(retrieval) + tf.constant([0, 2])
        rated = weighted_component("rating", self.components, weights, edges,
                                   parts["history"], rating_and_moments, shape)
        parts["rating"], moments["rating"] = rated[:, :-2], (rated[:, -2], rated[:, -1])
        if profile is not None:
            parts["knn"] = self._knn(profile, item_index, per_row=True)
            if self._projected:
                moments["knn"] = _quadratic_moments(profile, self.knn_mean, self.knn_covariance)
            else:
                every = tf.range(1, tf.shape(self.item_ids)[0] + 1, dtype=tf.int64)
                moments["knn"] = tf.nn.moments(self._knn(profile, every), axes=[1])
        return blend_scores(parts, parts["history"], weights, edges, self.components,
                            moments=moments)

    def _retrieval_moments(self, query: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean and variance [B] of each query's dot product over the catalogue."""
        return _quadratic_moments(query, self.catalogue_mean, self.catalogue_covariance)


def _moments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [E] and covariance [E, E] (float32) of the rows [N, E], summed in float64
    blocks of 2**20 rows (bounded memory)."""
    count = max(len(rows), 1)
    total = np.zeros(rows.shape[1])
    gram = np.zeros((rows.shape[1],) * 2)
    for start in range(0, len(rows), 1 << 20):
        chunk = rows[start:start + (1 << 20)].astype(np.float64)
        total += chunk.sum(axis=0)
        gram += chunk.T @ chunk
    mean = total / count
    return mean.astype(np.float32), (gram / count - np.outer(mean, mean)).astype(np.float32)


def _quadratic_moments(query: tf.Tensor, mean: tf.Tensor,
                       covariance: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean q.m and variance q'Cq [B] of each query's dot product with rows of mean m
    and covariance C."""
    variance = tf.reduce_sum(tf.matmul(query, covariance) * query, axis=1)
    return tf.linalg.matvec(query, mean), tf.maximum(variance, 0.0)
