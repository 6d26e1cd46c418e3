"""The two towers: `UserTower` and `ItemTower`, composed from small layers.

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
- "features" [B, F]: the profile vector (fused groups and projected text) and the
  history vectors, which the ranking head reads too ([B, 0] for an ids-only tower);
- "bias" [B]: the side's rating bias (id bias + a linear term of the profile).

The parts (registered layers, `tfrec_sentiment.layers`; None when not configured):

    ids          IdEmbedding        id -> row (OOV buckets, id dropout) -> vector
    id_bias      Embedding [rows, 1]  the rating bias of each id row
    history      HistoryBag         the review history as a signed bag of items
    profile      ProfilePath        fused feature groups + projected text
    projection   Dense              id vector + history -> output_dim
    feature_projection, feature_bias    Dense: profile -> output_dim, profile -> 1
    similarity   SimilarityProfile (user) / CatalogueOneHot (item)
    retrieval_bias_table, feature_retrieval_bias   the item's retrieval bias (item only)

`embedding_tables()`, `history_tables()` and `bias_tables()` return the id embedding,
history item embedding and bias tables, which the recommender regularises as a whole
(ridge), as the bias baseline does; `profile_kernels()` the profile path's kernels.

Inputs are a dict with "{side}_id" (string [B]) and, per configured group,
"{side}_{group}" (float [B, dim]); "{side}_text" (float [B, D]) with `use_text`;
"{side}_history" (int [B, L]) and "{side}_history_{signal}" (float [B, L]) with a
history (the user tower: the items of the user's latest reviews); "user_similarity"
(float [B, I] or [B, r]) in a user tower with `similarity_size`, "item_similarity"
(float [B, r]) in an item tower whose block is projected.

The layout of the weights changed with this composition (format 2 of a recommender's
weights); `recsys/weights_format.py` reads the earlier layout (docs/design.md).

Example:

>>> tower = ItemTower(vocabulary=["a", "b"], feature_groups=("rating",), output_dim=4)
>>> out = tower({"item_id": tf.constant(["a", "zzz"]), "item_rating": tf.ones([2, 3])})
>>> tuple(out["embedding"].shape), tuple(out["bias"].shape)
((2, 4), (2,))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from tfrec_sentiment.recsys.history_bag import HistoryBag
from tfrec_sentiment.recsys.id_embedding import IdEmbedding
from tfrec_sentiment.recsys.profile_path import ProfilePath, profile_statistics
from tfrec_sentiment.recsys.similarity_block import CatalogueOneHot, SimilarityProfile, fit_width


class _Tower(tf.keras.layers.Layer):
    """What both towers share; the subclasses add their side's similarity block and
    retrieval bias column (`_similarity_layer`, `_similarity_block`, `_retrieval_column`)."""

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
        self.feature_groups = list(feature_groups)
        self.use_text = bool(use_text)
        self.fusion_units = int(fusion_units)
        self.text_units = int(text_units)
        self.statistics = profile_statistics(statistics, self.feature_groups, self.use_text)
        self.dropout = float(dropout)
        self.history_size = int(history_size)
        self.history_dim = int(history_dim)
        self.history_signals = list(history_signals)
        self.output_dim = int(output_dim)
        self.normalize = bool(normalize)
        self.retrieval_bias = bool(retrieval_bias)
        self.profile_in_embedding = bool(profile_in_embedding)
        self.similarity_size = int(similarity_size)
        self.similarity_weight = float(similarity_weight)
        # === Layers === (optional parts None unless configured)
        self.ids = IdEmbedding(vocabulary, embedding_dim, num_oov_buckets, id_dropout,
                               name="ids")
        self.id_bias = tf.keras.layers.Embedding(self.ids.rows, 1, name="id_bias",
                                                 embeddings_initializer="zeros")
        self.history = self.profile = self.similarity = None
        self.feature_projection = self.feature_bias = None
        self.retrieval_bias_table = self.feature_retrieval_bias = None  # item tower only
        if self.history_size:
            self.history = HistoryBag(self.history_size, self.history_dim,
                                      self.history_signals, name="history")
        if self.feature_groups or self.use_text:
            self.profile = ProfilePath(self.feature_groups, self.use_text, self.fusion_units,
                                       self.text_units, self.statistics, self.dropout,
                                       name="profile")
            if self.profile_in_embedding:
                self.feature_projection = tf.keras.layers.Dense(
                    self.output_dim, use_bias=False, name="feature_projection")
            self.feature_bias = tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                      name="feature_bias")
        # Two additive paths, regularised separately (see `profile_kernels`): the
        # collaborative one (id + history) and the profile one (features + text).
        self.projection = tf.keras.layers.Dense(self.output_dim, name="projection")
        if self.similarity_size:
            self.similarity = self._similarity_layer()

    # --- arguments held by the id layer ---------------------------------------------------

    vocabulary = property(lambda self: self.ids.vocabulary, doc="str [V]: the known ids.")
    embedding_dim = property(lambda self: self.ids.embedding_dim)
    num_oov_buckets = property(lambda self: self.ids.num_oov_buckets)
    id_dropout = property(lambda self: self.ids.id_dropout)

    # --- the side's parts (subclasses) -----------------------------------------------------

    def _similarity_layer(self) -> tf.keras.layers.Layer:
        raise NotImplementedError

    def _similarity_block(self, inputs: Mapping[str, tf.Tensor], index: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _retrieval_column(self, index: tf.Tensor, profile: tf.Tensor | None) -> tf.Tensor:
        raise NotImplementedError

    # === Call ===

    def _key(self, name: str) -> str:
        return f"{self.side}_{name}"

    def _unprefixed(self, inputs: Mapping[str, tf.Tensor], names: Sequence[str]) -> dict:
        return {name: inputs[self._key(name)] for name in names}

    def call(self, inputs: Mapping[str, tf.Tensor], training: bool | None = None) -> dict:
        ids = self.ids(inputs[self._key("id")], training=training)
        index = ids["index"]
        bias = tf.squeeze(self.id_bias(index), -1)
        features = []
        collaborative = [ids["embedding"]]
        if self.history is not None:
            names = ["history"] + [f"history_{s}" for s in self.history_signals]
            bag = self.history(self._unprefixed(inputs, names))
            collaborative.append(bag)
            features.append(bag)
        output = self.projection(_concat(collaborative))
        profile = None
        if self.profile is not None:
            names = self.feature_groups + (["text"] if self.use_text else [])
            profile = self.profile(self._unprefixed(inputs, names), training=training)
            if self.feature_projection is not None:
                output += self.feature_projection(profile)
            bias += tf.squeeze(self.feature_bias(profile), -1)
            features.insert(0, profile)
        if self.normalize:
            output = tf.math.l2_normalize(output, axis=-1)
        if self.retrieval_bias:
            output = tf.concat([output, self._retrieval_column(index, profile)], axis=-1)
        latent = output
        if self.similarity is not None:
            output = tf.concat([output, self._similarity_block(inputs, index)], axis=-1)
        features = _concat(features) if features else tf.zeros([tf.shape(index)[0], 0])
        return {"embedding": output, "latent": latent, "features": features, "bias": bias}

    # === Weights the recommender regularises ===

    def profile_kernels(self) -> list[tf.Variable]:
        """Kernels of the profile path (fusion, text, feature projection and bias).

        Profile features identify an id almost uniquely, so an unregularised profile
        path memorises like an id embedding would; the recommender puts its own
        (stronger) L2 on these.
        """
        layers = (self.profile, self.feature_projection, self.feature_bias,
                  self.feature_retrieval_bias)
        return [v for layer in layers if layer is not None
                for v in layer.trainable_variables if "kernel" in v.name]

    def embedding_tables(self) -> list[tf.Variable]:
        """The id embedding table [V + oov, embedding_dim]."""
        return [self.ids.embedding.embeddings]

    def history_tables(self) -> list[tf.Variable]:
        """The history item embedding table [history_size, history_dim], if any."""
        return [self.history.embedding.embeddings] if self.history is not None else []

    def bias_tables(self) -> list[tf.Variable]:
        """The id bias table [V + oov, 1] (and the item retrieval bias table)."""
        tables = [self.id_bias.embeddings]
        if self.retrieval_bias_table is not None:
            tables.append(self.retrieval_bias_table.embeddings)
        return tables

    # === Config ===

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
            similarity_size=self.similarity_size, similarity_weight=self.similarity_weight,
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
    "latent" [B, output_dim (+ 1)], "features" [B, F], "bias" [B]; float32 whatever
    the layer's policy (the parts keep the default one).

    Raises:
        ValueError: `num_oov_buckets` < 1.
    """

    side = "user"

    def _similarity_layer(self) -> tf.keras.layers.Layer:
        return SimilarityProfile(self.similarity_size, self.similarity_weight, name="similarity")

    def _similarity_block(self, inputs: Mapping[str, tf.Tensor], index: tf.Tensor) -> tf.Tensor:
        return self.similarity(inputs[self._key("similarity")])

    def _retrieval_column(self, index: tf.Tensor, profile: tf.Tensor | None) -> tf.Tensor:
        # Ones: the dot product with the item's last column adds the item's bias.
        return tf.ones([tf.shape(index)[0], 1])


@tf.keras.utils.register_keras_serializable(package="tfrec_sentiment")
class ItemTower(_Tower):
    """Item tower: item id embedding + fused item aggregates + projected text embedding.

    Same arguments and outputs as `UserTower`, with inputs "item_id" string [B],
    "item_{group}" float [B, dim] and "item_text" float [B, D] (the mean embedding
    of the item's training reviews). With `retrieval_bias`, the last column before
    the item-to-item block is the item's retrieval bias: a learned row per id
    (`retrieval_bias_table`) plus a linear term of the profile
    (`feature_retrieval_bias`); with the logQ-corrected softmax it learns
    popularity, which ridge-shrunk embeddings alone under-express.

    Raises:
        ValueError: (at call) an exact block (no "item_similarity") not of catalogue size.
    """

    side = "item"

    def __init__(self, vocabulary: Sequence[str], **kwargs) -> None:
        super().__init__(vocabulary, **kwargs)
        if self.retrieval_bias:
            self.retrieval_bias_table = tf.keras.layers.Embedding(
                self.ids.rows, 1, embeddings_initializer="zeros", name="retrieval_bias")
            if self.profile is not None:
                self.feature_retrieval_bias = tf.keras.layers.Dense(
                    1, kernel_initializer="zeros", name="feature_retrieval_bias")

    def _similarity_layer(self) -> tf.keras.layers.Layer:
        return CatalogueOneHot(self.similarity_size, self.num_oov_buckets, name="similarity")

    def _similarity_block(self, inputs: Mapping[str, tf.Tensor], index: tf.Tensor) -> tf.Tensor:
        if self._key("similarity") in inputs:  # projected: the basis row Q[i] [B, r]
            return fit_width(inputs[self._key("similarity")], self.similarity_size)
        if self.similarity_size != len(self.vocabulary):
            raise ValueError(
                f"ItemTower similarity_size ({self.similarity_size}) differs from the "
                f"catalogue size ({len(self.vocabulary)}): a projected block needs the "
                "input 'item_similarity'")
        return self.similarity(index)

    def _retrieval_column(self, index: tf.Tensor, profile: tf.Tensor | None) -> tf.Tensor:
        bias = self.retrieval_bias_table(index)
        if profile is not None:
            bias += self.feature_retrieval_bias(profile)
        return bias
