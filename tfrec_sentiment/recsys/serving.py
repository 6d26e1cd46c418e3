"""TF-callable pieces of a trained recommender, for evaluation and for the export.

`RecommenderServing` is a `tf.Module` holding the trained towers and rating head,
the training-period feature tables as in-graph lookups (`FeatureLookup`), the
`ReviewProfile` aggregation for brand-new users, and the item catalogue's tower
outputs (a brute-force index, computed once at construction). Every public method
is a `tf.function` with a fixed input signature, so the module can be saved with
`tf.saved_model.save` as it is, or composed into a larger module. Every id given is
first normalised as ingestion normalised the training ids (`data.ids.normalize_ids`:
surrounding whitespace removed), so `" u1"` is `"u1"`.

Functions (B = batch of ids, I = catalogue size, E = embedding width, G = users):

- `user_tower(user_id string[B])` -> {"embedding" [B, E], "features", "bias"}
- `item_tower(item_id string[B])` -> same for items (unknown ids: OOV + prior)
- `rank(user_id string[B], item_id string[B])` ->
  {"predicted_rating" float[B] in [1, 5], "score" float[B] retrieval score}
- `catalogue()` -> {"item_ids" string[I], "embeddings" float[I, E]}
- `score_catalogue(user_id string[B])` -> float[B, I], the configured score mode
- `score_items(user_id string[B], item_id string[I])` -> float[B, I]
- `score_components(user_id string[B], item_id string[I])` -> {component: float[B, I]}
  the raw signals of the learned score (`recsys.blend`), and "history" int64[B]
- `score_columns(user outputs, columns int32[B, C], ...)` -> float[B, C]: each user's
  own candidates scored as `score_catalogue` scores them (catalogue-wide moments from
  `prepare_candidate_scoring`): the second stage of the export's partitioned index
- `impute_ratings(probabilities float[N, 3])` -> float[N] stars from sentiment
- `profile_from_reviews(probabilities [N, 3], rating [N], helpful_votes [N],
  timestamp int64[N] (seconds; the request time for fresh reviews),
  embedding [N, D], segment_ids int32[N], num_users int32[])` -> user feature
  groups [G, dim]; `score_catalogue_from_reviews(...)` (the same inputs and
  `item_id string[N]`, the reviewed items; "" or an unknown id: none) -> [G, I]
  scores for G brand-new users. Their id is unknown (the OOV row), but their
  reviews give what a training user's row holds: the profile, the review history
  (latest = last given, known items only) and its item-to-item similarity profile
  (`features.similarity`, over the whole training period: a new user has no
  co-reviews of their own to leave out), and the learned score's history bucket
  counts their given reviews; new users are blended with their own weights
  (`new_user_blend`, fitted on validation users given their first reviews:
  `TrainedRecommender.fit_new_user_blend`).

Example:

>>> serving = RecommenderServing(model, tables, config)              # doctest: +SKIP
>>> serving.rank(tf.constant(["u1"]), tf.constant(["i9"]))            # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from tfrec_sentiment.data.ids import normalize_ids
from tfrec_sentiment.features import similarity as similarity_lib
from tfrec_sentiment.features.tables import HISTORY_GROUPS, SIMILARITY_GROUP, FeatureTables
from tfrec_sentiment.recsys.blend import COMPONENTS, BlendWeights, blend_scores
from tfrec_sentiment.recsys.config import SCORE_MODES, RecsysConfig
from tfrec_sentiment.recsys.inputs import input_groups
from tfrec_sentiment.recsys.model import RecommenderModel

RATING_RANGE = (1.0, 5.0)
_IDS = tf.TensorSpec([None], tf.string)


class RecommenderServing(tf.Module):
    """In-graph feature lookup + towers + rating head + catalogue scoring.

    Args:
        model: the trained `RecommenderModel` (built).
        tables: the FeatureTables whose full training-period features are served.
        config: the RecsysConfig the model was trained with (score mode, groups).
        blend: the fitted weights of score mode "learned" (`recsys.blend`); None
            (not fitted yet) ranks every bucket by retrieval alone.
        new_user_blend: the learned score's weights for new users scored from their
            reviews (`score_catalogue_from_reviews`; bucket = reviews given), with
            `blend`'s components and bounds; None takes `blend`'s.
    """

    def __init__(self, model: RecommenderModel, tables: FeatureTables,
                 config: RecsysConfig, blend: BlendWeights | None = None,
                 new_user_blend: BlendWeights | None = None) -> None:
        super().__init__(name="recommender_serving")
        if config.score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode {config.score_mode!r} not in {SCORE_MODES}")
        self.model = model
        self.user_features = tables.lookup_layer("user")
        self.item_features = tables.lookup_layer("item")
        self.profile = tables.profile
        self.score_mode = config.score_mode
        self.score_blend = float(config.score_blend)
        self._groups = {side: input_groups(config, side, tables) for side in ("user", "item")}
        self._text_dim = tables.profile.text_dim
        calibration = tables.rating_calibration or [1.0, 3.0, 5.0]
        self.rating_calibration = tf.constant(calibration, tf.float32)
        self.item_ids = tf.Variable(tables.ids["item"].astype(str), trainable=False,
                                    name="item_ids")
        items = self._item_outputs(self.item_ids)
        self.item_embeddings = tf.Variable(items["embedding"], trainable=False)
        self.item_latents = tf.Variable(items["latent"], trainable=False)
        self.item_biases = tf.Variable(items["bias"], trainable=False)
        self.item_features_fused = tf.Variable(items["features"], trainable=False)
        self._build_blend(tables, config, blend, new_user_blend)
        self._build_new_user_history(tables)
        self._build_signatures()

    def _build_new_user_history(self, tables: FeatureTables) -> None:
        """History length L and the item-to-item similarity (sparse [I, I]) that turn a
        new user's reviewed items into the history groups a training user's row holds."""
        history = self.user_features.tables.get(HISTORY_GROUPS["items"])
        self._history_length = int(history.shape[1]) if history is not None else 0
        self._has_similarity = SIMILARITY_GROUP in self._groups["user"]
        if not self._has_similarity:
            return
        num_items = len(tables.ids["item"])
        co = tables.co_reviews
        grown = num_items - co.shape[0]  # items added after training: no co-reviews yet
        co = sp.csr_array(co)
        if grown:
            co.resize((num_items, num_items))
        cosine = similarity_lib.cosine_similarity(co, tables.config.similarity_shrinkage)
        coo = cosine.tocoo()
        self.similarity_indices = tf.Variable(
            np.stack([coo.row, coo.col], axis=1).astype(np.int64).reshape(-1, 2),
            trainable=False, name="similarity_indices")
        self.similarity_values = tf.Variable(coo.data.astype(np.float32), trainable=False,
                                             name="similarity_values")
        self._num_items = num_items

    def _build_blend(self, tables: FeatureTables, config: RecsysConfig,
                     blend: BlendWeights | None, new_user_blend: BlendWeights | None) -> None:
        """The learned score's tables: per-user training reviews [U + 1] and per-item
        log(1 + training reviews) [I + 1] (row 0: unknown id), and the weights."""
        self.components = blend_components(tables)
        if blend is None:
            blend = BlendWeights.single("retrieval", self.components, config.blend_history_bounds)
        new_user_blend = new_user_blend or blend
        for name, weights in (("blend", blend), ("new-user blend", new_user_blend)):
            if weights.components != self.components:
                raise ValueError(f"{name} weights are for components {weights.components}, "
                                 f"the tables give {self.components}")
        if new_user_blend.bounds != blend.bounds:
            raise ValueError(f"new-user blend bounds {new_user_blend.bounds} differ from the "
                             f"blend's {blend.bounds}")
        self.blend = blend
        users = np.bincount(tables.rows["user_index"], minlength=len(tables.ids["user"]))
        items = np.bincount(tables.rows["item_index"], minlength=len(tables.ids["item"]))
        self.user_history = tf.Variable(np.concatenate([[0], users]).astype(np.int64),
                                        trainable=False, name="user_history")
        self.item_log_count = tf.Variable(np.log1p(np.concatenate([[0], items])).astype(
            np.float32), trainable=False, name="item_log_count")
        self.blend_weights = tf.Variable(blend.weights, trainable=False, name="blend_weights")
        self.new_user_blend_weights = tf.Variable(new_user_blend.weights, trainable=False,
                                                  name="new_user_blend_weights")
        self.blend_edges = tf.Variable(blend.edges, trainable=False, name="blend_edges")

    # --- inputs ------------------------------------------------------------------------

    def _side_inputs(self, side: str, ids: tf.Tensor) -> dict:
        ids = normalize_ids(ids)  # as ingestion stored them (data.ids)
        lookup = self.user_features if side == "user" else self.item_features
        found = lookup(ids)
        inputs = {f"{side}_id": tf.reshape(ids, [-1])}
        inputs.update({f"{side}_{g}": found[g] for g in self._groups[side]})
        return inputs

    def _user_outputs(self, user_id: tf.Tensor) -> dict:
        return self.model.user_tower(self._side_inputs("user", user_id), training=False)

    def _item_outputs(self, item_id: tf.Tensor) -> dict:
        return self.model.item_tower(self._side_inputs("item", item_id), training=False)

    def _catalogue_outputs(self) -> dict:
        return {"embedding": self.item_embeddings.read_value(),
                "latent": self.item_latents.read_value(),
                "bias": self.item_biases.read_value(),
                "features": self.item_features_fused.read_value()}

    # --- scoring -------------------------------------------------------------------------

    def _score_matrix(self, user: dict, item: dict, user_id: tf.Tensor | None = None,
                      item_index: tf.Tensor | None = None, history: tf.Tensor | None = None,
                      similarity: tf.Tensor | None = None,
                      weights: tf.Variable | None = None) -> tf.Tensor:
        """Scores [U, I] by the score mode. `user_id` string [U] (None: new users, the
        OOV path), `item_index` int [I] (feature-table rows, 0 = unknown; None: the
        catalogue) serve the learned score's per-user and per-item signals; new users
        bring their own `history`, `similarity` (`_components`) and blend `weights`."""
        if self.score_mode != "learned":
            return score_matrix(self.model, user, item, self.score_mode, self.score_blend)
        parts = self._components(user, item, user_id, item_index, history, similarity)
        weights = self.blend_weights if weights is None else weights
        return blend_scores(parts, parts["history"], weights.read_value(),
                            self.blend_edges.read_value(), self.components)

    def _components(self, user: dict, item: dict, user_id: tf.Tensor | None,
                    item_index: tf.Tensor | None, history: tf.Tensor | None = None,
                    similarity: tf.Tensor | None = None) -> dict:
        """Raw component scores [U, I] (`recsys.blend.COMPONENTS`) + "history" int64 [U].

        New users (`user_id` None) may bring their own `history` (reviews, int64 [U])
        and `similarity` profile (float32 [U, I'] over the feature-table items)."""
        num_users = tf.shape(user["bias"])[0]
        if item_index is None:
            item_index = tf.range(1, tf.shape(self.item_ids)[0] + 1, dtype=tf.int64)
        parts = {"retrieval": tf.matmul(user["embedding"], item["embedding"], transpose_b=True),
                 "rating": rating_matrix(self.model, user, item)}
        popularity = tf.gather(self.item_log_count, item_index)  # [I]
        parts["popularity"] = tf.tile(popularity[None, :], [num_users, 1])
        parts["history"], padded = self._user_signals(num_users, user_id, history, similarity)
        if padded is not None:
            parts["knn"] = _profile_at(padded, item_index)
        return parts

    def _user_signals(self, num_users: tf.Tensor, user_id: tf.Tensor | None,
                      history: tf.Tensor | None,
                      similarity: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The learned score's per-user inputs: training reviews int64 [U] (the bucket)
        and, with "knn", the similarity profile [U, I' + 1] (column 0: unknown item)."""
        if user_id is None:
            row = tf.zeros([num_users], tf.int64)
        else:
            row = tf.cast(self.user_features.index(tf.reshape(normalize_ids(user_id), [-1])),
                          tf.int64)
        history = tf.gather(self.user_history, row) if history is None else history
        if "knn" not in self.components:
            return history, None
        profile = (tf.gather(self.user_features.tables[SIMILARITY_GROUP], row)
                   if similarity is None else similarity)  # [U, I']
        return history, tf.concat([tf.zeros([num_users, 1]), profile], axis=1)

    # --- candidate scoring (the second stage of a partitioned index) ---------------------

    def prepare_candidate_scoring(self, sample: int = 2048, seed: int = 0) -> None:
        """Stores the catalogue-wide statistics that `score_columns` standardises with.

        The "learned" and "blend" scores standardise each component per user over
        the WHOLE catalogue; `score_columns` scores a few candidates, so the per-user
        mean and variance come from here instead: retrieval exactly (item embedding
        mean m [E] and covariance S [E, E]: mean u.m, variance u'Su), popularity
        exactly (one catalogue constant), kNN exactly (the profile row), the rating
        head over a seeded sample of `sample` catalogue items (every item when the
        catalogue has at most `sample`: then exact too). Call it once, before saving.
        """
        embeddings = self.item_embeddings.numpy()
        count = max(len(embeddings), 1)
        total = np.zeros(embeddings.shape[1])
        gram = np.zeros((embeddings.shape[1],) * 2)
        for start in range(0, len(embeddings), 1 << 20):  # float64, bounded memory
            chunk = embeddings[start:start + (1 << 20)].astype(np.float64)
            total += chunk.sum(axis=0)
            gram += chunk.T @ chunk
        mean = total / count
        self.catalogue_mean = tf.Variable(mean.astype(np.float32), trainable=False,
                                          name="catalogue_mean")
        self.catalogue_covariance = tf.Variable(
            (gram / count - np.outer(mean, mean)).astype(np.float32), trainable=False,
            name="catalogue_covariance")
        log_count = self.item_log_count.numpy()[1:].astype(np.float64)
        self.popularity_moments = tf.Variable(
            np.array([log_count.mean(), log_count.var()] if len(log_count) else [0.0, 0.0],
                     np.float32), trainable=False, name="popularity_moments")
        rng = np.random.default_rng(seed)
        columns = (np.arange(len(embeddings)) if len(embeddings) <= sample
                   else np.sort(rng.choice(len(embeddings), sample, replace=False)))
        self.moment_sample = tf.Variable(columns.astype(np.int32), trainable=False,
                                         name="moment_sample")

    def user_outputs(self, user_id: tf.Tensor) -> dict:
        """User-tower outputs of known (or unknown) users, string [B] -> {"embedding"
        [B, E], "latent", "features", "bias"}: the first stage's query."""
        return self._user_outputs(user_id)

    def new_user_outputs(self, probabilities, rating, helpful_votes, timestamp, embedding,
                         segment_ids, num_users, item_id) -> tuple[dict, tf.Tensor,
                                                                   tf.Tensor | None]:
        """User-tower outputs of G new users from their reviews (the inputs of
        `score_catalogue_from_reviews`), their reviews given int64 [G] and their
        similarity profile ([G, I] or None): what `score_columns` takes for them."""
        return self._new_users(probabilities, rating, helpful_votes, timestamp, embedding,
                               segment_ids, num_users, item_id)

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
                new users, who bring `history` int64 [B] and `similarity` [B, I].
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
        rating = _candidate_ratings(self.model, user, item)
        if self.score_mode == "rating":
            return rating
        sampled = {k: tf.gather(v, self.moment_sample) for k, v in catalogue.items()}
        moments = {"retrieval": self._retrieval_moments(user["embedding"]),
                   "rating": tf.nn.moments(rating_matrix(self.model, user, sampled), axes=[1])}
        if self.score_mode == "blend":
            return (_standardize_rows(retrieval, moments["retrieval"])
                    + self.score_blend * _standardize_rows(rating, moments["rating"]))
        num_users = tf.shape(user["bias"])[0]
        item_index = tf.cast(safe, tf.int64) + 1  # feature-table rows (0 = unknown)
        parts = {"retrieval": retrieval, "rating": rating,
                 "popularity": tf.gather(self.item_log_count, item_index)}
        fill = tf.ones([num_users])
        moments["popularity"] = (fill * self.popularity_moments[0],
                                 fill * self.popularity_moments[1])
        parts["history"], padded = self._user_signals(num_users, user_id, history, similarity)
        if padded is not None:
            parts["knn"] = _profile_at(padded, item_index, per_row=True)
            every = tf.range(1, tf.shape(self.item_ids)[0] + 1, dtype=tf.int64)
            moments["knn"] = tf.nn.moments(_profile_at(padded, every), axes=[1])
        weights = self.new_user_blend_weights if new_users else self.blend_weights
        return blend_scores(parts, parts["history"], weights.read_value(),
                            self.blend_edges.read_value(), self.components, moments=moments)

    def _retrieval_moments(self, query: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean and variance [B] of each query's dot product over the catalogue."""
        mean = tf.linalg.matvec(query, self.catalogue_mean)
        variance = tf.reduce_sum(tf.matmul(query, self.catalogue_covariance) * query, axis=1)
        return mean, tf.maximum(variance, 0.0)

    def _item_index(self, item_id: tf.Tensor) -> tf.Tensor:
        return tf.cast(self.item_features.index(tf.reshape(normalize_ids(item_id), [-1])),
                       tf.int64)

    # --- the tf.functions ----------------------------------------------------------------

    def _build_signatures(self) -> None:
        reviews = [
            tf.TensorSpec([None, 3], tf.float32, name="probabilities"),
            tf.TensorSpec([None], tf.float32, name="rating"),
            tf.TensorSpec([None], tf.float32, name="helpful_votes"),
            tf.TensorSpec([None], tf.int64, name="timestamp"),
            tf.TensorSpec([None, self._text_dim], tf.float32, name="embedding"),
            tf.TensorSpec([None], tf.int32, name="segment_ids"),
            tf.TensorSpec([], tf.int32, name="num_users"),
        ]
        self.profile_from_reviews = tf.function(self._profile_from_reviews,
                                                input_signature=reviews)
        self.score_catalogue_from_reviews = tf.function(
            self._score_catalogue_from_reviews,
            input_signature=reviews + [tf.TensorSpec([None], tf.string, name="item_id")])

    @tf.function(input_signature=[_IDS])
    def user_tower(self, user_id: tf.Tensor) -> dict:
        out = self._user_outputs(user_id)
        return {k: out[k] for k in ("embedding", "features", "bias")}

    @tf.function(input_signature=[_IDS])
    def item_tower(self, item_id: tf.Tensor) -> dict:
        out = self._item_outputs(item_id)
        return {k: out[k] for k in ("embedding", "features", "bias")}

    @tf.function(input_signature=[_IDS, _IDS])
    def rank(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict:
        user, item = self._user_outputs(user_id), self._item_outputs(item_id)
        rating = self.model.rate(user, item, training=False)
        return {
            "predicted_rating": tf.clip_by_value(rating, *RATING_RANGE),
            "score": tf.reduce_sum(user["embedding"] * item["embedding"], axis=-1),
        }

    @tf.function(input_signature=[])
    def catalogue(self) -> dict:
        return {"item_ids": self.item_ids.read_value(),
                "embeddings": self.item_embeddings.read_value()}

    @tf.function(input_signature=[_IDS])
    def score_catalogue(self, user_id: tf.Tensor) -> tf.Tensor:
        return self._score_matrix(self._user_outputs(user_id), self._catalogue_outputs(),
                                  user_id)

    @tf.function(input_signature=[_IDS, _IDS])
    def score_items(self, user_id: tf.Tensor, item_id: tf.Tensor) -> tf.Tensor:
        return self._score_matrix(self._user_outputs(user_id), self._item_outputs(item_id),
                                  user_id, self._item_index(item_id))

    @tf.function(input_signature=[_IDS, _IDS])
    def score_components(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict:
        """Raw learned-score components {name: float32 [B, I]} and "history" int64 [B]."""
        return self._components(self._user_outputs(user_id), self._item_outputs(item_id),
                                user_id, self._item_index(item_id))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def impute_ratings(self, probabilities: tf.Tensor) -> tf.Tensor:
        """Stars [N] from sentiment, a least-squares map fitted on the training split."""
        stars = tf.linalg.matvec(probabilities, self.rating_calibration)
        return tf.clip_by_value(stars, *RATING_RANGE)

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
            [G, I] mean item-to-item similarity of the history items}: the groups
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
        """Mean similarity [G, I] of each history row's items (int64 [G, L], 0 = none)."""
        num_users = tf.shape(history)[0]
        valid = history > 0
        count = tf.reduce_sum(tf.cast(valid, tf.float32), axis=1, keepdims=True)
        share = tf.cast(valid, tf.float32) / tf.maximum(count, 1.0)  # [G, L]
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


def rating_matrix(model: RecommenderModel, user: dict, item: dict) -> tf.Tensor:
    """Predicted ratings [U, I] of every user x item pair (unclipped).

    Args:
        model: the `RecommenderModel`.
        user: user tower outputs ("latent" [U, E], "features" [U, F], "bias" [U]).
        item: item tower outputs, the same keys with I rows.
    """
    num_users, num_items = tf.shape(user["bias"])[0], tf.shape(item["bias"])[0]

    def tile(values: tf.Tensor, repeat_users: bool) -> tf.Tensor:
        if repeat_users:  # row u * I + i holds user u
            return tf.repeat(values, num_items, axis=0)
        return tf.tile(values, tf.concat([[num_users], tf.ones_like(tf.shape(values)[1:])], 0))

    keys = ("latent", "features", "bias")
    pairs_user = {k: tile(user[k], True) for k in keys}
    pairs_item = {k: tile(item[k], False) for k in keys}
    rating = model.rate(pairs_user, pairs_item, training=False)
    return tf.reshape(rating, [num_users, num_items])


def _candidate_ratings(model: RecommenderModel, user: dict, item: dict) -> tf.Tensor:
    """Predicted ratings [B, C] of user b and its own candidates (item outputs [B, C, ...])."""
    count = tf.shape(item["bias"])[1]
    keys = ("latent", "features", "bias")
    pairs_user = {k: tf.repeat(user[k], count, axis=0) for k in keys}
    pairs_item = {k: tf.reshape(item[k], [-1] + item[k].shape[2:].as_list()) for k in keys}
    return tf.reshape(model.rate(pairs_user, pairs_item, training=False), [-1, count])


def _profile_at(padded: tf.Tensor, item_index: tf.Tensor, per_row: bool = False) -> tf.Tensor:
    """Similarity profile values at feature-table rows: [U, I' + 1] at int64 [I] ->
    [U, I], or at [U, C] -> [U, C] (`per_row`); rows beyond the profile give 0."""
    width = tf.cast(tf.shape(padded)[1], tf.int64)
    inside = tf.where(item_index < width, item_index, tf.zeros_like(item_index))
    if per_row:
        return tf.gather(padded, inside, batch_dims=1)
    return tf.gather(padded, inside, axis=1)


def score_matrix(model: RecommenderModel, user: dict, item: dict, score_mode: str,
                 score_blend: float = 1.0) -> tf.Tensor:
    """Scores [U, I] of every user x item pair by `score_mode` (see `RecsysConfig`).

    The one scoring rule of serving, evaluation and the training-time ranking
    monitor: "retrieval" = dot product of the tower embeddings, "rating" = the
    predicted rating, "blend" = both standardised per user, the rating weighted
    by `score_blend`. "learned" ranks here by retrieval: its weights are fitted
    after training (`recsys.blend`), so the training-time monitor follows the
    trained score; `RecommenderServing` applies the fitted blend.
    """
    retrieval = tf.matmul(user["embedding"], item["embedding"], transpose_b=True)
    if score_mode in ("retrieval", "learned"):
        return retrieval
    rating = rating_matrix(model, user, item)
    if score_mode == "rating":
        return rating
    return _standardize_rows(retrieval) + score_blend * _standardize_rows(rating)


def blend_components(tables: FeatureTables) -> tuple[str, ...]:
    """The learned score's components for these tables ("knn" needs similarity profiles)."""
    return tuple(c for c in COMPONENTS if c != "knn" or tables.has_similarity)


def _standardize_rows(scores: tf.Tensor,
                      moments: tuple[tf.Tensor, tf.Tensor] | None = None) -> tf.Tensor:
    """Each row standardised by its own moments, or by given (mean, variance) [U]."""
    if moments is None:
        mean, variance = tf.nn.moments(scores, axes=[1], keepdims=True)
    else:
        mean, variance = moments[0][:, None], moments[1][:, None]
    return (scores - mean) * tf.math.rsqrt(variance + 1e-12)
