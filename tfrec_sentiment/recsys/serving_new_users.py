"""Serving brand-new users from their reviews: profile, history, similarity profile.

A mixin of `RecommenderServing` (serving.py): its `profile_from_reviews` and
`score_catalogue_from_reviews` signatures, `new_user_outputs` (the first stage of the
partitioned index for new users) and `components_from_reviews` (the new-user blend's
fit). A new user's id is unknown (the OOV row), but their reviews give what a training
user's row holds: the profile, the review history (latest = last given, known items
only) and its item-to-item similarity profile (`features.similarity`, over the whole
training period): exact, the mean of the history items' similarity rows [I] (a sparse
product with S); projected, the mean of their rows of S Q [r], one gather from a
stored [I + 1, r] table.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_sentiment.features.tables import HISTORY_GROUPS, SIMILARITY_GROUP, FeatureTables


class NewUserServing:
    """The new-user part of `RecommenderServing` (its attributes: `user_features`,
    `profile`, `model`, `_groups`, `_text_dim`, `_item_index`, `_score_matrix`,
    `_components`, `_catalogue_outputs`, `new_user_blend_weights`, `_projected`)."""

    def _build_new_user_history(self, tables: FeatureTables) -> None:
        """History length L and the item-to-item similarity (sparse [I, I]; projected: S Q
        [I + 1, r], row 0 zero) that turn a new user's reviewed items into the history
        groups a training user's row holds."""
        history = self.user_features.tables.get(HISTORY_GROUPS["items"])
        self._history_length = int(history.shape[1]) if history is not None else 0
        self._has_similarity = SIMILARITY_GROUP in self._groups["user"]
        if not self._has_similarity:
            return
        num_items = len(tables.ids["item"])
        cosine = tables.item_similarity()  # co-reviews (+ the text term of text variants)
        self._num_items = num_items
        if self._projected:
            basis = tables.basis_rows()[1:].astype(np.float64)  # [I, r], grown items 0
            projected = np.concatenate([np.zeros((1, basis.shape[1])), cosine @ basis])
            self.similarity_projected = tf.Variable(projected.astype(np.float32),
                                                    trainable=False,
                                                    name="similarity_projected")
            return
        coo = cosine.tocoo()
        self.similarity_indices = tf.Variable(
            np.stack([coo.row, coo.col], axis=1).astype(np.int64).reshape(-1, 2),
            trainable=False, name="similarity_indices")
        self.similarity_values = tf.Variable(coo.data.astype(np.float32), trainable=False,
                                             name="similarity_values")

    def new_user_outputs(self, probabilities, rating, helpful_votes, timestamp, embedding,
                         segment_ids, num_users, item_id) -> tuple[dict, tf.Tensor,
                                                                   tf.Tensor | None]:
        """User-tower outputs of G new users from their reviews (the inputs of
        `score_catalogue_from_reviews`), their reviews given int64 [G] and their
        similarity profile ([G, I] or None): what `score_columns` takes for them."""
        return self._new_users(probabilities, rating, helpful_votes, timestamp, embedding,
                               segment_ids, num_users, item_id)

    def _profile_from_reviews(self, probabilities, rating, helpful_votes, timestamp,
                              embedding, segment_ids, num_users) -> dict:
        reviews = {"probabilities": probabilities, "rating": rating,
                   "helpful_votes": helpful_votes, "timestamp": timestamp}
        if self._text_dim:
            reviews["embedding"] = embedding
        return self.profile(reviews, segment_ids=segment_ids, num_segments=num_users)

    def _score_catalogue_from_reviews(self, probabilities, rating, helpful_votes, timestamp,
                                      embedding, segment_ids, num_users,
                                      item_id) -> tf.Tensor:
        user, given, similarity = self._new_users(probabilities, rating, helpful_votes,
                                                  timestamp, embedding, segment_ids,
                                                  num_users, item_id)
        return self._score_matrix(user, self._catalogue_outputs(), history=given,
                                  similarity=similarity, weights=self.new_user_blend_weights)

    def components_from_reviews(self, probabilities, rating, helpful_votes, timestamp,
                                embedding, segment_ids, num_users, item_id) -> dict:
        """Raw learned-score components {name: float32 [G, I]} of G new users over the
        catalogue, and "history" int64 [G] (reviews given); the inputs of
        `score_catalogue_from_reviews`. Not a saved signature: the new-user blend's fit
        (`TrainedRecommender.fit_new_user_blend`) calls it."""
        user, given, similarity = self._new_users(probabilities, rating, helpful_votes,
                                                  timestamp, embedding, segment_ids,
                                                  num_users, item_id)
        return self._components(user, self._catalogue_outputs(), None, None, given,
                                similarity)

    def _new_users(self, probabilities, rating, helpful_votes, timestamp, embedding,
                   segment_ids, num_users, item_id) -> tuple[dict, tf.Tensor, tf.Tensor | None]:
        """User-tower outputs of G new users, their reviews given (int64 [G]: the blend
        bucket) and their similarity profile ([G, I] or None)."""
        profile = self._profile_from_reviews(probabilities, rating, helpful_votes, timestamp,
                                             embedding, segment_ids, num_users)
        # A new user has no id (the empty id falls in the OOV rows); their reviews
        # give the profile, and their reviewed items the history groups.
        profile.update(self._given_history(probabilities, rating, self._item_index(item_id),
                                           segment_ids, num_users))
        inputs = {"user_id": tf.fill([num_users], "")}
        empty = self.user_features(inputs["user_id"])
        inputs.update({f"user_{g}": profile[g] if g in profile else empty[g]
                       for g in self._groups["user"]})
        user = self.model.user_tower(inputs, training=False)
        given = tf.math.unsorted_segment_sum(tf.ones_like(segment_ids, tf.int64), segment_ids,
                                             num_users)  # the bucket: reviews given
        return user, given, profile.get(SIMILARITY_GROUP)

    def _given_history(self, probabilities, rating, item_index, segment_ids,
                       num_users) -> dict:
        """History groups of G new users from their N reviews (`features.history`).

        Args:
            probabilities: float32 [N, 3]; rating: float32 [N] stars (given or imputed);
            item_index: int64 [N] feature-table rows (0 = an item unknown to the
            catalogue: not in the history); segment_ids: int32 [N] user of each review.

        Returns:
            {"history": int64 [G, L] item index + 1, latest (= last given) first, 0 =
            padding; "history_rating" float32 [G, L] (stars - 3) / 2;
            "history_sentiment" float32 [G, L] p_pos - p_neg; "similarity" float32
            [G, I] mean item-to-item similarity of the history items ([G, r]
            projected)}: the groups
            the user tower reads (none when L = 0).
        """
        length = self._history_length
        if not length:
            return {}
        rows = tf.cast(tf.reshape(tf.where(item_index > 0), [-1]), tf.int32)  # known items
        users = tf.gather(segment_ids, rows)
        # position from the end among the user's known-item reviews: last given = 0
        later = (users[None, :] == users[:, None]) & (rows[None, :] > rows[:, None])
        rank = tf.reduce_sum(tf.cast(later, tf.int32), axis=1)
        kept = tf.reshape(tf.where(rank < length), [-1])
        slots = tf.stack([tf.gather(users, kept), tf.gather(rank, kept)], axis=1)
        picked = tf.gather(rows, kept)
        shape = tf.stack([num_users, length])

        def scatter(values: tf.Tensor) -> tf.Tensor:
            return tf.scatter_nd(slots, tf.gather(values, picked), shape)

        out = {HISTORY_GROUPS["items"]: scatter(item_index),
               HISTORY_GROUPS["rating"]: scatter((rating - 3.0) / 2.0),
               HISTORY_GROUPS["sentiment"]: scatter(probabilities[:, 2] - probabilities[:, 0])}
        if self._has_similarity:
            out[SIMILARITY_GROUP] = self._similarity_profile(out[HISTORY_GROUPS["items"]])
        return {g: v for g, v in out.items() if g in self._groups["user"]}

    def _similarity_profile(self, history: tf.Tensor) -> tf.Tensor:
        """Mean similarity [G, I] of each history row's items (int64 [G, L], 0 = none);
        projected, the mean of their rows of S Q [G, r]."""
        num_users = tf.shape(history)[0]
        valid = history > 0
        count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=1, keepdims=True)
        share = tf.cast(valid, tf.float32) / tf.maximum(count, 1.0)  # [G, L]
        if self._projected:  # row 0 (padding) is zero
            rows = tf.gather(self.similarity_projected, history)  # [G, L, r]
            return tf.reduce_sum(rows * share[..., None], axis=1)
        where = tf.where(valid)  # (user, slot)
        weights = tf.scatter_nd(
            tf.stack([where[:, 0], tf.gather_nd(history, where) - 1], axis=1),
            tf.gather_nd(share, where), tf.cast(tf.stack([num_users, self._num_items]),
                                                tf.int64))  # [G, I], duplicates add up
        similarity = tf.sparse.SparseTensor(self.similarity_indices.read_value(),
                                            self.similarity_values.read_value(),
                                            [self._num_items, self._num_items])
        # symmetric: (W S)^T = S W^T
        return tf.transpose(tf.sparse.sparse_dense_matmul(similarity, weights,
                                                          adjoint_b=True))
