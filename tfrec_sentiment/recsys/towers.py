"""The two towers: `UserTower` and `ItemTower`.

A tower turns one side's raw inputs into:

- "embedding" [B, output_dim (+ 1) (+ I)]: the retrieval embedding (scores are dot
  products): the sum of a collaborative path (id embedding + review history,
  projected) and a profile path (fused features + projected text, projected),
  then optionally a retrieval bias column and an item-to-item block of width
  `similarity_size`: I, the catalogue size (the user's weighted similarity profile;
  the item's one-hot), or r when the tables project it (the profile @ Q; the item's
  basis row Q[i], read from "item_similarity");
- "latent" [B, output_dim (+ 1)]: the embedding without the item-to-item block,
  which the ranking head reads;
- "features" [B, F]: the fused profile features (`SentimentFusion`), the projected
  text embedding and the history vectors, which the ranking head reads too
  ([B, 0] for an ids-only tower);
- "bias" [B]: the side's rating bias (id bias + a linear term of the profile).

`embedding_tables()`, `history_tables()` and `bias_tables()` return the id
embedding, history item embedding and id bias tables, which the recommender regularises as a whole
(ridge), as the bias baseline does.

Ids go through a `StringLookup` with OOV buckets, so unknown ids are defined: they
share the OOV rows. With `id_dropout`, training replaces a share of ids by their
OOV bucket, so the OOV rows learn to score from features alone: an item never seen
in training is still placed by its text and aggregates (cold start).

Inputs are a dict with "{side}_id" (string [B]) and, per configured group,
"{side}_{group}" (float [B, dim]); "{side}_text" (float [B, D]) with `use_text`;
"{side}_history" (int [B, L]) and "{side}_history_{signal}" (float [B, L]) with a
history (the user tower: the items of the user's latest reviews).

Over 350 lines because both towers share one `_Tower` body whose sublayers name the
variables of saved models and checkpoints; composing it from small registered layers
(issue 12) changes those names, so it waits for a change that also converts saved
weights.

Example:

>>> tower = ItemTower(vocabulary=["a", "b"], feature_groups=("rating",), output_dim=4)
>>> out = tower({"item_id": tf.constant(["a", "zzz"]), "item_rating": tf.ones([2, 3])})
>>> tuple(out["embedding"].shape), tuple(out["bias"].shape)
((2, 4), (2,))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from tfrec_sentiment.features.fusion import SentimentFusion, copy_statistics, standardize
from tfrec_sentiment.features.lookup import as_vocabulary, id_lookup


class _Tower(tf.keras.layers.Layer):
    """Shared body of the user and item towers; subclasses set `side`."""

    side = ""

    def __init__(
        self,
        vocabulary: Sequence[str],
        embedding_dim: int = 16,
        output_dim: int = 16,
        num_oov_buckets: int = 1,
        feature_groups: Sequence[str] = (),
        use_text: bool = False,
        fusion_units: int = 16,
        text_units: int = 8,
        statistics: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
        id_dropout: float = 0.0,
        dropout: float = 0.0,
        history_size: int = 0,
        history_dim: int = 16,
        history_signals: Sequence[str] = (),
        normalize: bool = False,
        retrieval_bias: bool = False,
        profile_in_embedding: bool = True,
        similarity_size: int = 0,
        similarity_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_oov_buckets < 1:
            raise ValueError("num_oov_buckets must be >= 1: unknown ids need a row")
        self.vocabulary = as_vocabulary(vocabulary)
        self.embedding_dim = int(embedding_dim)
        self.output_dim = int(output_dim)
        self.num_oov_buckets = int(num_oov_buckets)
        self.feature_groups = list(feature_groups)
        self.use_text = bool(use_text)
        self.fusion_units = int(fusion_units)
        self.text_units = int(text_units)
        wanted = set(self.feature_groups) | ({"text"} if self.use_text else set())
        self.statistics = copy_statistics(statistics, wanted)
        self.id_dropout = float(id_dropout)
        self.dropout = float(dropout)
        self.history_size = int(history_size)
        self.history_dim = int(history_dim)
        self.history_signals = list(history_signals)
        self.normalize = bool(normalize)
        self.retrieval_bias = bool(retrieval_bias)
        self.profile_in_embedding = bool(profile_in_embedding)
        self.similarity_size = int(similarity_size)
        self.similarity_weight_init = float(similarity_weight)
        # The optional parts, created in `build` when configured; None otherwise.
        self.fusion = self.text_projection = self.text_dropout = None
        self.history_embedding = self.similarity_weight = None
        self.feature_projection = self.feature_bias = None
        self.retrieval_bias_table = self.feature_retrieval_bias = None

    def build(self, input_shape: Mapping[str, tf.TensorShape]) -> None:
        rows = len(self.vocabulary) + self.num_oov_buckets
        self.index = id_lookup(self.vocabulary, self.num_oov_buckets)
        self.id_embedding = tf.keras.layers.Embedding(
            rows, self.embedding_dim, name="id_embedding",
            embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05),
        )
        self.id_bias = tf.keras.layers.Embedding(
            rows, 1, embeddings_initializer="zeros", name="id_bias"
        )
        profile_width = 0
        if self.feature_groups:
            self.fusion = SentimentFusion(
                units=self.fusion_units, groups=self.feature_groups,
                statistics=self.statistics, dropout=self.dropout, name="fusion",
            )
            profile_width += self.fusion_units
        if self.use_text:
            # Linear: a ReLU on a few units can die and silence the text entirely.
            self.text_projection = tf.keras.layers.Dense(self.text_units, name="text_projection")
            self.text_dropout = tf.keras.layers.Dropout(self.dropout)
            profile_width += self.text_units
        history_width = 0
        if self.history_size:
            # Index 0 = padding or an item unknown to this table.
            self.history_embedding = tf.keras.layers.Embedding(
                self.history_size, self.history_dim, name="history_embedding",
                embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05),
            )
            history_width = self.history_dim * (1 + len(self.history_signals))
        if self.similarity_size and self.side == "user":
            self.similarity_weight = self.add_weight(
                name="similarity_weight", shape=(), trainable=True,
                initializer=tf.keras.initializers.Constant(self.similarity_weight_init))
        # Two additive paths, regularised separately (see `profile_kernels`): the
        # collaborative one (id + history) and the profile one (features + text).
        self.projection = tf.keras.layers.Dense(self.output_dim, name="projection")
        self.projection.build(tf.TensorShape([None, self.embedding_dim + history_width]))
        if profile_width and self.profile_in_embedding:
            self.feature_projection = tf.keras.layers.Dense(
                self.output_dim, use_bias=False, name="feature_projection")
            self.feature_projection.build(tf.TensorShape([None, profile_width]))
        if profile_width:
            self.feature_bias = tf.keras.layers.Dense(
                1, kernel_initializer="zeros", name="feature_bias")
            self.feature_bias.build(tf.TensorShape([None, profile_width]))
        if self.retrieval_bias and self.side == "item":
            self.retrieval_bias_table = tf.keras.layers.Embedding(
                rows, 1, embeddings_initializer="zeros", name="retrieval_bias")
            if profile_width:
                self.feature_retrieval_bias = tf.keras.layers.Dense(
                    1, kernel_initializer="zeros", name="feature_retrieval_bias")
                self.feature_retrieval_bias.build(tf.TensorShape([None, profile_width]))
        super().build(input_shape)

    def _key(self, name: str) -> str:
        return f"{self.side}_{name}"

    def _id_index(self, ids: tf.Tensor, training: bool | None) -> tf.Tensor:
        index = self.index(tf.reshape(ids, [-1]))
        if not training or self.id_dropout <= 0:
            return index
        # StringLookup puts OOV ids in rows [0, num_oov_buckets); route dropped
        # ids to a bucket chosen by their hash, as an unknown id would be.
        bucket = tf.strings.to_hash_bucket_fast(tf.reshape(ids, [-1]), self.num_oov_buckets)
        dropped = tf.random.uniform(tf.shape(index)) < self.id_dropout
        return tf.where(dropped, bucket, index)

    def _profile(self, inputs: Mapping[str, tf.Tensor], training: bool | None) -> list:
        parts = []
        if self.feature_groups:
            groups = {g: inputs[self._key(g)] for g in self.feature_groups}
            parts.append(self.fusion(groups, training=training))
        if self.use_text:
            text = standardize(inputs[self._key("text")], (self.statistics or {}).get("text"))
            parts.append(self.text_projection(self.text_dropout(text, training=training)))
        return parts

    def _history(self, inputs: Mapping[str, tf.Tensor]) -> list[tf.Tensor]:
        """Mean embedding of the reviewed items, and means signed by each signal."""
        index = tf.cast(inputs[self._key("history")], tf.int64)
        index = tf.where((index > 0) & (index < self.history_size), index, 0)
        present = tf.cast(index > 0, tf.float32)[..., None]
        vectors = self.history_embedding(index) * present
        count = tf.maximum(tf.reduce_sum(present, axis=1), 1.0)
        means = [tf.reduce_sum(vectors, axis=1) / count]
        for signal in self.history_signals:
            weight = tf.cast(inputs[self._key(f"history_{signal}")], tf.float32)[..., None]
            means.append(tf.reduce_sum(vectors * weight, axis=1) / count)
        return means

    def call(self, inputs: Mapping[str, tf.Tensor], training: bool | None = None) -> dict:
        index = self._id_index(inputs[self._key("id")], training)
        embedding = self.id_embedding(index)
        bias = tf.squeeze(self.id_bias(index), -1)
        history = self._history(inputs) if self.history_size else []
        output = self.projection(_concat([embedding, *history]))
        profile = self._profile(inputs, training)
        if profile:
            profile = _concat(profile)
            if self.profile_in_embedding:
                output += self.feature_projection(profile)
            bias += tf.squeeze(self.feature_bias(profile), -1)
            history.insert(0, profile)
        if self.normalize:
            output = tf.math.l2_normalize(output, axis=-1)
        if self.retrieval_bias:
            output = tf.concat([output, self._retrieval_bias(index, profile)], axis=-1)
        features = _concat(history) if history else tf.zeros([tf.shape(embedding)[0], 0])
        latent = output
        if self.similarity_size:
            output = tf.concat([output, self._similarity(inputs, index)], axis=-1)
        return {"embedding": output, "latent": latent, "features": features, "bias": bias}

    def _similarity(self, inputs: Mapping[str, tf.Tensor], index: tf.Tensor) -> tf.Tensor:
        """The item-to-item block [B, similarity_size] of the retrieval embedding.

        User: the mean of the similarity rows of the history items; item: the
        one-hot of its catalogue position (zeros for an OOV item). Their dot
        product is mean_j W[j, i] over the user's history items j: a learned,
        full-rank item-to-item score, the counterpart of item-kNN. Projected (the
        inputs carry "item_similarity", Q[i]): the user's profile @ Q and Q[i],
        whose dot product approximates it.
        """
        if self.side == "item" and self._key("similarity") not in inputs:
            if self.similarity_size != len(self.vocabulary):
                raise ValueError(
                    f"ItemTower similarity_size ({self.similarity_size}) differs from the "
                    f"catalogue size ({len(self.vocabulary)}): a projected block needs the "
                    "input 'item_similarity'")
            position = tf.where(index >= self.num_oov_buckets, index - self.num_oov_buckets, -1)
            return tf.one_hot(position, self.similarity_size)  # -1 -> all zeros
        profile = tf.cast(inputs[self._key("similarity")], tf.float32)
        # Tables grown after training append new items at the end: keep the
        # catalogue this tower was built for.
        profile = profile[:, :self.similarity_size]
        missing = self.similarity_size - tf.shape(profile)[1]
        profile = tf.pad(profile, [[0, 0], [0, missing]])
        return profile if self.side == "item" else self.similarity_weight * profile

    def _retrieval_bias(self, index: tf.Tensor, profile: tf.Tensor | list) -> tf.Tensor:
        """Last embedding column: 1 for users, the item's retrieval bias for items.

        The dot product then adds an item bias to every retrieval score: with the
        logQ-corrected softmax it learns popularity, which ridge-shrunk embeddings
        alone under-express.
        """
        if self.side != "item":
            return tf.ones([tf.shape(index)[0], 1])
        bias = self.retrieval_bias_table(index)
        if isinstance(profile, tf.Tensor):
            bias += self.feature_retrieval_bias(profile)
        return bias

    def profile_kernels(self) -> list[tf.Variable]:
        """Kernels of the profile path (fusion, text, feature projection and bias).

        Profile features identify an id almost uniquely, so an unregularised profile
        path memorises like an id embedding would; the recommender puts its own
        (stronger) L2 on these.
        """
        layers = (self.fusion, self.text_projection, self.feature_projection,
                  self.feature_bias, self.feature_retrieval_bias)
        return [v for layer in layers if layer is not None
                for v in layer.trainable_variables if "kernel" in v.name]

    def embedding_tables(self) -> list[tf.Variable]:
        """The id embedding table [V + oov, embedding_dim]."""
        return [self.id_embedding.embeddings]

    def history_tables(self) -> list[tf.Variable]:
        """The history item embedding table [history_size, history_dim], if any."""
        return [self.history_embedding.embeddings] if self.history_size else []

    def bias_tables(self) -> list[tf.Variable]:
        """The id bias table [V + oov, 1] (and the item retrieval bias table)."""
        tables = [self.id_bias.embeddings]
        if self.retrieval_bias_table is not None:
            tables.append(self.retrieval_bias_table.embeddings)
        return tables

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary.tolist(), embedding_dim=self.embedding_dim,
            output_dim=self.output_dim, num_oov_buckets=self.num_oov_buckets,
            feature_groups=self.feature_groups, use_text=self.use_text,
            fusion_units=self.fusion_units, text_units=self.text_units,
            statistics=self.statistics, id_dropout=self.id_dropout, dropout=self.dropout,
            history_size=self.history_size, history_dim=self.history_dim,
            history_signals=self.history_signals, normalize=self.normalize,
            retrieval_bias=self.retrieval_bias, profile_in_embedding=self.profile_in_embedding,
            similarity_size=self.similarity_size, similarity_weight=self.similarity_weight_init,
        )
        return config


def _concat(parts: list[tf.Tensor]) -> tf.Tensor:
    return tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class UserTower(_Tower):
    """User tower: user id embedding + fused user profile (+ projected text).

    Args:
        vocabulary: known user ids (training users).
        embedding_dim: id embedding width.
        output_dim: retrieval embedding width (must equal the item tower's).
        num_oov_buckets: rows shared by unknown ids (>= 1).
        feature_groups: profile groups to fuse, e.g. ("rating", "helpful", "sentiment").
        use_text: also read "user_text" [B, D], the mean embedding of the user's reviews.
        fusion_units, text_units: widths of the fused groups and the text projection.
        statistics: group -> {"mean", "variance"} standardisation, fitted on training.
        id_dropout: training-time share of ids routed to the OOV rows.
        dropout: dropout on the feature inputs.
        history_size: rows of the history item embedding (number of items + 1;
            0 = no history input). Reads "user_history" int [B, L] (item index + 1,
            0 = padding) and embeds it as a bag of items.
        history_dim: width of the history item embedding.
        history_signals: signs of the history, e.g. ("rating", "sentiment"): each
            adds the mean of item vectors weighted by "user_history_{signal}"
            [B, L] (how much the user liked each item).
        normalize: L2-normalise the output embedding (retrieval scores become
            cosines; bounded logits, with a retrieval temperature).
        retrieval_bias: append one column to the embedding: 1 in the user tower, a
            learned item bias (id row + linear in the profile) in the item tower, so
            that retrieval scores carry an item bias. Set it on both towers.
        profile_in_embedding: add the projected profile to the retrieval
            embedding; off, the profile reaches retrieval only through the item's
            retrieval bias, and rating through the bias and the head.
        similarity_size: I, the catalogue size of the item-to-item block (0 = none):
            the user tower appends similarity_weight * "user_similarity" [B, I] (the
            user's item-kNN profile, features/similarity.py; wider inputs, from
            tables grown after training, are cut to I), the item tower the one-hot
            of the item's catalogue position (zeros for an unknown item), so the
            retrieval score gains similarity_weight * profile[item]. Set it on both
            towers. Projected (`FeatureConfig.similarity_max_items`): r, the user
            input is profile @ Q [B, r] and the item tower reads "item_similarity"
            [B, r] (Q[i]) instead of forming the one-hot.
        similarity_weight: the initial value of that trainable scalar.
        **kwargs: forwarded to `tf.keras.layers.Layer`.

    Call: dict with "user_id" string [B] and "user_{group}" float [B, dim] ->
    dict "embedding" [B, output_dim (+ 1 with retrieval_bias) (+ similarity_size)],
    "latent" [B, output_dim (+ 1)], "features" [B, F], "bias" [B].
    """

    side = "user"


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class ItemTower(_Tower):
    """Item tower: item id embedding + fused item aggregates + projected text embedding.

    Same arguments and outputs as `UserTower`, with inputs "item_id" string [B],
    "item_{group}" float [B, dim] and "item_text" float [B, D] (the mean embedding
    of the item's training reviews).
    """

    side = "item"
