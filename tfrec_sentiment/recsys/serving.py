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
  co-reviews of their own to leave out; projected above
  `FeatureConfig.similarity_max_items`, the mean of the history items' rows of S Q),
  and the learned score's history bucket
  counts their given reviews; new users are blended with their own weights
  (`new_user_blend`, fitted on validation users given their first reviews:
  `TrainedRecommender.fit_new_user_blend`).

The parts of the module: new users from their reviews (`serving_new_users.py`), the
partitioned index's candidate scoring (`serving_candidates.py`), the scoring rules
on tower outputs (`scoring.py`: `score_matrix`, `rating_matrix`, re-exported here).

Example:

>>> serving = RecommenderServing(model, tables, config)              # doctest: +SKIP
>>> serving.rank(tf.constant(["u1"]), tf.constant(["i9"]))            # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfrec_sentiment.data.ids import normalize_ids
from tfrec_sentiment.features.aspects import ASPECT_GROUP
from tfrec_sentiment.features.tables import SIMILARITY_GROUP, FeatureTables
from tfrec_sentiment.recsys.blend_weights import BlendWeights, blend_scores, weighted_component
from tfrec_sentiment.recsys.config import SCORE_MODES, RecsysConfig
from tfrec_sentiment.recsys.inputs import input_groups
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.scoring import (
    blend_components,
    profile_at,
    rating_matrix,
    score_matrix,
)
from tfrec_sentiment.recsys.serving_candidates import CandidateScoring
from tfrec_sentiment.recsys.serving_new_users import NewUserServing

__all__ = ["RATING_RANGE", "SCORE_MODES", "RecommenderServing", "blend_components",
           "rating_matrix", "score_matrix"]

RATING_RANGE = (1.0, 5.0)
_IDS = tf.TensorSpec([None], tf.string)


class RecommenderServing(NewUserServing, CandidateScoring, tf.Module):
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
        # The aspect tables are exported only for a model that reads them.
        unused = () if ASPECT_GROUP in config.feature_groups else (ASPECT_GROUP,)
        self.user_features = tables.lookup_layer("user", drop=unused)
        self.item_features = tables.lookup_layer("item", drop=unused)
        self.profile = tables.profile
        self.score_mode = config.score_mode
        self.score_blend = float(config.score_blend)
        self._groups = {side: input_groups(config, side, tables) for side in ("user", "item")}
        # A projected item-to-item block: the item table holds the basis rows Q[i].
        self._projected = SIMILARITY_GROUP in self._groups["item"]
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
        weights = (self.blend_weights if weights is None else weights).read_value()
        edges = self.blend_edges.read_value()
        parts = self._components(user, item, user_id, item_index, history, similarity,
                                 blend=(weights, edges))
        return blend_scores(parts, parts["history"], weights, edges, self.components)

    def _components(self, user: dict, item: dict, user_id: tf.Tensor | None,
                    item_index: tf.Tensor | None, history: tf.Tensor | None = None,
                    similarity: tf.Tensor | None = None,
                    blend: tuple[tf.Tensor, tf.Tensor] | None = None) -> dict:
        """Raw component scores [U, I] (`recsys.blend.COMPONENTS`) + "history" int64 [U].

        New users (`user_id` None) may bring their own `history` (reviews, int64 [U])
        and `similarity` profile (float32 [U, I'] over the feature-table items). With
        the `blend` (weights [B, C], edges [B - 1]) that will combine them, the rating
        head runs only where some user's bucket weighs it (`weighted_component`)."""
        num_users = tf.shape(user["bias"])[0]
        if item_index is None:
            item_index = tf.range(1, tf.shape(self.item_ids)[0] + 1, dtype=tf.int64)
        parts = {"retrieval": tf.matmul(user["embedding"], item["embedding"], transpose_b=True)}
        popularity = tf.gather(self.item_log_count, item_index)  # [I]
        parts["popularity"] = tf.tile(popularity[None, :], [num_users, 1])
        parts["history"], profile = self._user_signals(num_users, user_id, history, similarity)
        if profile is not None:
            parts["knn"] = self._knn(profile, item_index)
        if blend is None:
            parts["rating"] = rating_matrix(self.model, user, item)
        else:
            parts["rating"] = weighted_component(
                "rating", self.components, *blend, parts["history"],
                lambda: rating_matrix(self.model, user, item), tf.shape(parts["retrieval"]))
        return parts

    def _knn(self, profile: tf.Tensor, item_index: tf.Tensor,
             per_row: bool = False) -> tf.Tensor:
        """The "knn" component at feature-table rows `item_index` (int64 [I], or [U, C]
        with `per_row`; 0 = unknown item, 0): exact, the profile [U, I'] at the item;
        projected, the profile @ Q [U, r] times the item's basis row Q[i]."""
        if not self._projected:
            padded = tf.concat([tf.zeros([tf.shape(profile)[0], 1]), profile], axis=1)
            return profile_at(padded, item_index, per_row)
        rows = tf.gather(self.item_features.tables[SIMILARITY_GROUP], item_index)
        if per_row:
            return tf.einsum("ur,ucr->uc", profile, rows)
        return tf.matmul(profile, rows, transpose_b=True)

    def _user_signals(self, num_users: tf.Tensor, user_id: tf.Tensor | None,
                      history: tf.Tensor | None,
                      similarity: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The learned score's per-user inputs: training reviews int64 [U] (the bucket)
        and, with "knn", the similarity profile [U, I'] (projected: [U, r])."""
        if user_id is None:
            row = tf.zeros([num_users], tf.int64)
        else:
            row = tf.cast(self.user_features.index(tf.reshape(normalize_ids(user_id), [-1])),
                          tf.int64)
        history = tf.gather(self.user_history, row) if history is None else history
        if "knn" not in self.components:
            return history, None
        profile = (tf.gather(self.user_features.tables[SIMILARITY_GROUP], row)
                   if similarity is None else similarity)  # [U, I'] or [U, r]
        return history, profile

    def user_outputs(self, user_id: tf.Tensor) -> dict:
        """User-tower outputs of known (or unknown) users, string [B] -> {"embedding"
        [B, E], "latent", "features", "bias"}: the first stage's query."""
        return self._user_outputs(user_id)

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
