"""The TFRS recommender: two towers, a retrieval task and a rating (ranking) task.

    rating(u, i) = global_mean + bias_u + bias_i
                   + RatingHead([e_u, e_i, e_u * e_i, features_u, features_i])
    score(u, i)  = <e_u, e_i>                      (retrieval, brute-force top-k)

Losses (all in `compute_loss`, per example, then averaged over the GLOBAL batch
with `tf.nn.compute_average_loss`, so 1 and N replicas optimise the same objective):

- retrieval: in-batch softmax (`tfrs.tasks.Retrieval`), optional logQ popularity
  correction, accidental hits (same item twice in a batch) removed; each example
  weighted by `retrieval_example_weights` (1, or graded by its rating);
- rating: MSE or Huber on the rating (`tfrs.tasks.Ranking`);
- pairwise (optional): BPR, -log sigmoid(rating(u, i) - rating(u, j)) with j
  another item of the same (per-replica) batch (`tfrs.tasks.Ranking` with a
  logistic loss on the difference);
- ridge on the embedding tables and the bias tables, `id_l2 / N * |E|^2 +
  bias_l2 / N * |b|^2` (and `history_l2` for the history item table) with N
  training examples: over an epoch the objective is
  (sum of losses + id_l2 |E|^2 + bias_l2 |b|^2) / N, the same count-independent
  shrinkage as the bias baseline's b = sum(residual) / (n + reg); plus L2 on the
  towers' profile-path kernels and the rating head's kernels. All of it is added
  in `compute_loss`, scaled with `tf.nn.scale_regularization_loss`, rather than
  kept in `self.losses`, which Keras would add once per replica.

The other jobs of the model live beside it: `build.py` (`build_model`,
`make_optimizer`), `bias_init.py` (biases started at the baselines), `inputs.py` (the
input schema), `losses.py` (`retrieval_example_weights`), `topk.py` (`CatalogueTopK`).

Example:

>>> model = build_model(RecsysConfig(), tables)                 # doctest: +SKIP
>>> model.compile(optimizer=make_optimizer(RecsysConfig()))     # doctest: +SKIP
>>> model.fit(dataset)                                          # doctest: +SKIP
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrec_sentiment.recsys.config import (
    RATING_LOSSES,
    RETRIEVAL_CANDIDATES,
    RETRIEVAL_SAMPLE_WEIGHTS,
)
from tfrec_sentiment.recsys.head import RatingHead

# Re-exported here, where they used to live (the schema, the loss weights, the top-k).
from tfrec_sentiment.recsys.inputs import history_inputs, input_groups, model_input_keys
from tfrec_sentiment.recsys.losses import retrieval_example_weights
from tfrec_sentiment.recsys.topk import CatalogueTopK
from tfrec_sentiment.recsys.towers import ItemTower, UserTower

__all__ = ["RATING_LOSSES", "RETRIEVAL_CANDIDATES", "RETRIEVAL_SAMPLE_WEIGHTS",
           "CatalogueTopK", "RecommenderModel", "history_inputs", "input_groups",
           "model_input_keys", "retrieval_example_weights"]

_SUBLAYERS = ("user_tower", "item_tower", "rating_head")
_SETTINGS = ("global_mean", "retrieval_weight", "rating_weight", "pairwise_weight", "id_l2",
             "bias_l2", "history_l2", "num_examples", "head_l2", "feature_l2", "rating_loss",
             "sampling_correction", "temperature", "retrieval_candidates", "topk_ks",
             "retrieval_sample_weight", "retrieval_weight_floor")


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class RecommenderModel(tfrs.Model):
    """Two towers + rating head, trained on retrieval, rating and pairwise losses.

    Args:
        user_tower: a `UserTower`.
        item_tower: an `ItemTower` (same output_dim).
        rating_head: a `RatingHead`.
        global_mean: mean training rating (the rating baseline).
        retrieval_weight, rating_weight, pairwise_weight: loss weights (0 = off).
        id_l2: ridge weight of the embedding tables, in units of one example's loss.
        bias_l2: ridge weight of the id bias tables (the bias baseline's `reg`).
        history_l2: ridge weight of the history item embedding table.
        num_examples: N, the number of training examples (scales the ridge).
        head_l2: L2 weight on the rating head's dense and cross kernels.
        feature_l2: L2 weight on the towers' profile-path kernels (`profile_kernels`).
        rating_loss: "mse" or "huber".
        sampling_correction: logQ-correct the in-batch logits by item popularity;
            examples must then carry "item_probability" [B].
        temperature: retrieval softmax temperature (None = 1).
        retrieval_candidates: "batch" (in-batch softmax) or "catalogue" (softmax
            over every catalogue item; call `set_retrieval_catalogue` before fit).
        topk_ks: the k of the FactorizedTopK metrics (see `set_topk_candidates`).
        retrieval_sample_weight, retrieval_weight_floor: per-example weights of the
            retrieval loss ("none" or "rating", see `retrieval_example_weights`).

    Inputs of every method: a dict of batched tensors, "user_id", "item_id"
    (string [B]), the towers' feature groups "{side}_{group}" (float [B, dim]),
    "rating" (float [B], for losses) and "item_probability" (float [B]).
    """

    def __init__(
        self,
        user_tower: UserTower,
        item_tower: ItemTower,
        rating_head: RatingHead,
        global_mean: float,
        retrieval_weight: float = 1.0,
        rating_weight: float = 1.0,
        pairwise_weight: float = 0.0,
        id_l2: float = 0.0,
        bias_l2: float = 0.0,
        history_l2: float = 0.0,
        num_examples: int = 1,
        head_l2: float = 0.0,
        feature_l2: float = 0.0,
        rating_loss: str = "mse",
        sampling_correction: bool = True,
        temperature: float | None = None,
        retrieval_candidates: str = "batch",
        topk_ks: tuple[int, ...] = (10, 50),
        retrieval_sample_weight: str = "none",
        retrieval_weight_floor: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if rating_loss not in RATING_LOSSES:
            raise ValueError(f"rating_loss {rating_loss!r} not in {RATING_LOSSES}")
        self.rating_loss = rating_loss
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.rating_head = rating_head
        self.global_mean = float(global_mean)
        self.retrieval_weight = float(retrieval_weight)
        self.rating_weight = float(rating_weight)
        self.pairwise_weight = float(pairwise_weight)
        self.id_l2 = float(id_l2)
        self.bias_l2 = float(bias_l2)
        self.history_l2 = float(history_l2)
        self.num_examples = int(num_examples)
        self.head_l2 = float(head_l2)
        self.feature_l2 = float(feature_l2)
        self.sampling_correction = bool(sampling_correction)
        if retrieval_candidates not in RETRIEVAL_CANDIDATES:
            raise ValueError(f"retrieval_candidates {retrieval_candidates!r} not in "
                             f"{RETRIEVAL_CANDIDATES}")
        self.retrieval_candidates = retrieval_candidates
        if retrieval_sample_weight not in RETRIEVAL_SAMPLE_WEIGHTS:
            raise ValueError(f"retrieval_sample_weight {retrieval_sample_weight!r} not in "
                             f"{RETRIEVAL_SAMPLE_WEIGHTS}")
        self.retrieval_sample_weight = retrieval_sample_weight
        self.retrieval_weight_floor = float(retrieval_weight_floor)
        self.temperature = temperature
        self.catalogue_inputs: dict | None = None
        self.topk_ks = tuple(topk_ks)
        none = tf.keras.losses.Reduction.NONE
        self.retrieval_task = tfrs.tasks.Retrieval(
            loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True, reduction=none),
            temperature=temperature, remove_accidental_hits=True, name="retrieval",
        )
        point_loss = (tf.keras.losses.MeanSquaredError(reduction=none) if rating_loss == "mse"
                      else tf.keras.losses.Huber(reduction=none))
        self.rating_task = tfrs.tasks.Ranking(
            loss=point_loss,
            metrics=[tf.keras.metrics.RootMeanSquaredError(name="rmse"),
                     tf.keras.metrics.MeanAbsoluteError(name="mae")],
            name="rating",
        )
        # Only when used: an idle task would report a metric stuck at 0.
        self.pairwise_task = None if self.pairwise_weight <= 0 else tfrs.tasks.Ranking(
            loss=tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction=none),
            metrics=[tf.keras.metrics.BinaryAccuracy(name="pairwise_accuracy", threshold=0.0)],
            name="pairwise",
        )

    def get_config(self) -> dict:
        """Every `__init__` argument: the towers and the head serialised, the rest as is
        (`topk_ks` as a list); without it tf-keras warns at each save."""
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: tf.keras.layers.serialize(getattr(self, key)) for key in _SUBLAYERS})
        config.update({key: getattr(self, key) for key in _SETTINGS})
        config["topk_ks"] = list(self.topk_ks)
        return config

    @classmethod
    def from_config(cls, config: dict) -> RecommenderModel:
        config = dict(config)
        for key in _SUBLAYERS:
            config[key] = tf.keras.layers.deserialize(config[key])
        return cls(**config)

    # --- forward pieces (also used by serving) -----------------------------------------

    def towers(self, inputs: dict, training: bool | None = None) -> tuple[dict, dict]:
        """Both towers' outputs (see `towers.py`) for a batch of (user, item) pairs."""
        return (self.user_tower(inputs, training=training),
                self.item_tower(inputs, training=training))

    def rate(self, user: dict, item: dict, training: bool | None = None) -> tf.Tensor:
        """Predicted rating [B] from tower outputs (unclipped)."""
        # "latent": the dense part of the retrieval embedding (without the wide
        # item-to-item block, which the head has no use for).
        interaction = tf.concat(
            [user["latent"], item["latent"], user["latent"] * item["latent"],
             user["features"], item["features"]], axis=-1,
        )
        residual = self.rating_head(interaction, training=training)
        return self.global_mean + user["bias"] + item["bias"] + residual

    def call(self, inputs: dict, training: bool | None = None) -> dict:
        """{"rating": [B] predicted rating, "score": [B] retrieval score} per pair."""
        user, item = self.towers(inputs, training)
        score = tf.reduce_sum(user["embedding"] * item["embedding"], axis=-1)
        return {"rating": self.rate(user, item, training), "score": score}

    # --- losses ------------------------------------------------------------------------

    def compute_loss(self, inputs: dict, training: bool = False) -> tf.Tensor:
        user, item = self.towers(inputs, training)
        per_example = tf.zeros_like(inputs["rating"])
        if self.retrieval_weight > 0:
            candidate = self._candidate_outputs(inputs, item, training)
            weights = retrieval_example_weights(inputs["rating"], self.retrieval_sample_weight,
                                                self.retrieval_weight_floor)
            per_example += self.retrieval_weight * weights * self._retrieval_loss(
                inputs, user, candidate, training)
        rating = self.rate(user, item, training)
        if self.rating_weight > 0:
            per_example += self.rating_weight * self.rating_task(
                labels=inputs["rating"][:, None], predictions=rating[:, None],
                training=training)
        if self.pairwise_weight > 0:
            per_example += self.pairwise_weight * self._pairwise_loss(
                inputs, user, item, rating, training)
        return tf.nn.compute_average_loss(per_example) + tf.nn.scale_regularization_loss(
            self.l2_penalty())

    def l2_penalty(self) -> tf.Tensor:
        """Every L2 term of the loss: the ridge on the id tables, (id_l2 |id emb.|^2 +
        history_l2 |history emb.|^2 + bias_l2 |biases|^2) / N, plus the kernel decay
        feature_l2 |profile kernels|^2 + head_l2 |rating head kernels|^2.

        The collaborative projections are left free: their inputs (id and history
        embeddings) are already shrunk by id_l2."""
        towers = (self.user_tower, self.item_tower)
        penalty = 0.0
        for weight, tables in (
            (self.id_l2, [t for tower in towers for t in tower.embedding_tables()]),
            (self.history_l2, [t for tower in towers for t in tower.history_tables()]),
            (self.bias_l2, [t for tower in towers for t in tower.bias_tables()]),
        ):
            if weight > 0 and tables:
                penalty += weight / self.num_examples * tf.add_n(
                    [tf.reduce_sum(tf.square(t)) for t in tables])
        profile = [k for tower in towers for k in tower.profile_kernels()]
        head = [v for v in self.rating_head.trainable_variables if "kernel" in v.name]
        for weight, kernels in ((self.feature_l2, profile), (self.head_l2, head)):
            if weight > 0 and kernels:
                penalty += weight * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
        return penalty

    def _candidate_outputs(self, inputs: dict, item: dict, training: bool) -> dict:
        """Item tower outputs on the candidates' static features, if the batch has them.

        Training rows carry held-out item features (without the row's own review)
        for the rating, and "candidate_item_{group}" - the item's full
        training-period features, the same for every row of that item - for the
        in-batch softmax. Row-specific candidate features would let the softmax
        match a positive to its query by what both lack (the same review, the same
        time), a shortcut that serving never offers.
        """
        prefix = "candidate_item_"
        static = {k[len("candidate_"):]: v for k, v in inputs.items() if k.startswith(prefix)}
        if not static:
            return item
        return self.item_tower({"item_id": inputs["item_id"], **static}, training=training)

    def _retrieval_loss(self, inputs: dict, user: dict, item: dict,
                        training: bool) -> tf.Tensor:
        topk_metrics = not training and bool(self.retrieval_task.factorized_metrics)
        if self.retrieval_candidates == "catalogue" and not topk_metrics:
            return self._catalogue_loss(inputs, user, training)
        probability = inputs["item_probability"] if self.sampling_correction else None
        batch_loss = self.retrieval_task(
            user["embedding"], item["embedding"],
            candidate_sampling_probability=probability,
            candidate_ids=inputs["item_id"], compute_metrics=topk_metrics,
            compute_batch_metrics=False,
        )
        if self.retrieval_candidates == "catalogue":  # the task ran for its metrics only
            return self._catalogue_loss(inputs, user, training)
        return batch_loss

    def set_retrieval_catalogue(self, item_inputs: dict) -> None:
        """The item tower inputs of every catalogue item ("item_id" string [I] and the
        item groups [I, dim]), the candidates of the "catalogue" retrieval softmax."""
        self.catalogue_inputs = item_inputs

    def _catalogue_loss(self, inputs: dict, user: dict, training: bool) -> tf.Tensor:
        """Softmax over the whole catalogue: exact, so no sampling correction.

        A row whose item is not in the catalogue (a validation item never seen in
        training) contributes 0.
        """
        if self.catalogue_inputs is None:
            raise ValueError("retrieval_candidates='catalogue' needs set_retrieval_catalogue()")
        items = self.item_tower(self.catalogue_inputs, training=training)["embedding"]
        logits = tf.matmul(user["embedding"], items, transpose_b=True)
        logits /= self.temperature or 1.0
        tower = self.item_tower
        position = tower.ids.lookup(tf.reshape(inputs["item_id"], [-1])) - tower.num_oov_buckets
        known = position >= 0
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.maximum(position, 0), logits=logits)
        return tf.where(known, loss, 0.0)

    def _pairwise_loss(self, inputs: dict, user: dict, item: dict, rating: tf.Tensor,
                       training: bool) -> tf.Tensor:
        # The negative of example b is the item of example b - 1 in the same batch.
        negative = {k: tf.roll(v, shift=1, axis=0) for k, v in item.items()}
        difference = rating - self.rate(user, negative, training)
        distinct = tf.not_equal(inputs["item_id"], tf.roll(inputs["item_id"], 1, axis=0))
        return self.pairwise_task(
            labels=tf.ones_like(difference)[:, None], predictions=difference[:, None],
            sample_weight=tf.cast(distinct, tf.float32), training=training)

    # --- FactorizedTopK metrics, only when asked ----------------------------------------

    def set_topk_candidates(self, item_inputs: dict | None) -> None:
        """Turns the retrieval task's FactorizedTopK metrics on (over these items) or off.

        Args:
            item_inputs: the item tower's inputs for every candidate ("item_id"
                string [I] and the item groups), or None to turn the metrics off.

        Call it in the strategy's scope, before `evaluate`; the metrics are
        "factorized_top_k/top_{k}_categorical_accuracy" (id-based hit rate; it does
        not exclude the user's training items - the evaluation stage does).
        """
        if item_inputs is None:
            self.retrieval_task.factorized_metrics = []
        else:
            self.topk_index = CatalogueTopK(k=max(self.topk_ks))
            self.topk_index.index(self.item_tower(item_inputs, training=False)["embedding"],
                                  identifiers=item_inputs["item_id"])
            self.retrieval_task.factorized_metrics = [
                tfrs.metrics.FactorizedTopK(candidates=self.topk_index, ks=self.topk_ks)]
        # Keras caches the traced test step; the metric set changed, so retrace.
        self.test_function = None

    def refresh_topk_candidates(self, item_inputs: dict) -> None:
        """Recomputes the candidates' embeddings in place (no retrace)."""
        if self.retrieval_task.factorized_metrics:
            self.topk_index.refresh(self.item_tower(item_inputs, training=False)["embedding"])
