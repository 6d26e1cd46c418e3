"""`ServingModule`: the sentiment model and the recommender in ONE `tf.Module`.

It composes the sentiment side's `SentimentModule` (Keras 3: in-graph WordPiece +
BERT) and the recommender's `RecommenderServing` (tf-keras + TFRS: feature lookups,
towers, ranking head, catalogue scoring), plus the `CatalogueIndex` (brute-force
top-k without the user's reviewed items; for large catalogues, after a
`PartitionedIndex` has picked C candidates per user, which alone get the full score).
Only tensors cross between the two Keras worlds. Its `tf.function`s are the
SavedModel's signatures:

- `recommend` (= `serving_default`): `user_id` string [B] -> `item_ids` string [B, K],
  `scores` float32 [B, K];
- `rank`: `user_id`, `item_id` string [B] -> `predicted_rating` float32 [B] (1..5),
  `score` float32 [B];
- `score`: `user_id` string [U], `item_id` string [I] -> `scores` float32 [U, I], every
  pair by the model's score mode (with "learned": the per-bucket blend of
  `recsys.blend`, the ranking `recommend` serves), for the publishing guardrail;
- `sentiment`: `text` string [B] -> `probabilities` float32 [B, 3], `label` string [B],
  `embedding` float32 [B, D];
- `recommend_from_reviews`: `text` string [N], `user_index` int32 [N], `rating`
  float32 [N], `item_id` string [N] -> `item_ids` string [G, K], `scores` float32 [G, K];
- `explain` (only when built with aspect profiles, `export.explain`): `user_id`,
  `item_id` string [B] -> `aspects` string [B, N], `polarity` float32 [B, N],
  `mentions` int32 [B, N], `weight` float32 [B, N], `sentence` string [B].

Defined behaviour on odd input (never an error):

- user / item ids are normalised as ingestion did (`data.ids.normalize_ids`: surrounding
  whitespace removed), so `" u1"` is `"u1"`;
- unknown or empty user / item ids take the OOV path: the recommender's OOV id rows
  and the training-wide prior profile; an unknown user has no reviewed items to exclude;
- texts are cut to `sequence_length * 64` bytes before tokenising (a 100 KB review
  costs what a long one does) and invalid UTF-8 bytes become U+FFFD; emoji and star
  ratings are read as words (`text.emoji`); an empty text (no token) gets the class
  prior, a zero embedding and the label "none" (`sentiment/empty_text.py`);
- `recommend_from_reviews`: one row per review of a NEW user. `user_index` numbers
  the users 0..G-1 of this request (G = largest valid index + 1; a user with no rows
  gets the prior profile); rows whose `user_index` is negative or >= N are ignored.
  `rating` in [1, 5] is used as given; anything else (0 = "no stars", NaN) is imputed
  from the text's sentiment with the training split's calibration. `item_id` is the
  reviewed item: known items are excluded from that user's recommendations, "" or
  unknown ids exclude nothing. Reviews are dated at the end of the training period
  (`review_time`) and carry no helpful votes.
- fewer than K eligible items: the remaining slots are `""` with score
  `tfrec_sentiment.export.index.EMPTY_SCORE` (the lowest float32).

Inputs of different lengths where equal lengths are required (`rank`,
`recommend_from_reviews`) fail with an InvalidArgument error that says so.

Example:

>>> module = build_serving_module(sentiment_model, trained_recommender, top_k=10)  # doctest: +SKIP
>>> module.recommend(tf.constant(["A1B2"]))["item_ids"].shape                      # doctest: +SKIP
TensorShape([1, 10])
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import tensorflow as tf

from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.explain import SIGNATURE as EXPLAIN
from tfrec_sentiment.export.explain import AspectExplainer, explainer_from_config
from tfrec_sentiment.export.index import CatalogueIndex
from tfrec_sentiment.export.partitioned_index import PartitionedIndex, default_partitions

if TYPE_CHECKING:
    from tfrec_sentiment.aspects.profiles import AspectProfiles

VOCABULARY_FILE = "vocab.txt"
# Every export has these; `explain` joins them when the run has aspect profiles.
SIGNATURE_NAMES = ("serving_default", "recommend", "rank", "score", "sentiment",
                   "recommend_from_reviews")

_IDS = {name: tf.TensorSpec([None], tf.string, name=name) for name in ("user_id", "item_id")}
_TEXT = tf.TensorSpec([None], tf.string, name="text")
_REVIEWS = [
    _TEXT,
    tf.TensorSpec([None], tf.int32, name="user_index"),
    tf.TensorSpec([None], tf.float32, name="rating"),
    _IDS["item_id"],
]


class ServingModule(tf.Module):
    """Sentiment + recommender + catalogue index behind named signatures.

    Args:
        sentiment: the sentiment side's savable module (`SentimentModel.as_module()`):
            string [B] -> {"probabilities", "embedding", "label"}.
        recommender: a `RecommenderServing` (`TrainedRecommender.serving`).
        index: the `CatalogueIndex` over the recommender's catalogue (same column order).
        text_dim: the width of the text embedding the recommender's profile reads
            (0: none; else the sentiment embedding width D).
        review_time: Unix seconds at which fresh reviews of `recommend_from_reviews`
            are dated (the end of the training period).
        vocabulary: the tokenizer's vocabulary, saved as the asset `vocab.txt`.
        partitions: None = `recommend` scores the whole catalogue; a
            `PartitionedIndex` = two stages: its `candidates` best items by the
            retrieval dot product, the full score on those only
            (`recommender.score_columns`; call `prepare_candidate_scoring` first),
            then the exclusion and top-K (`index.top_k_among`).
        candidates: C, the candidates per user (with `partitions`; the depth searched
            is C + the most items a user of the batch reviewed, so the exclusion
            cannot starve the top K).
        explainer: the `AspectExplainer` behind the `explain` signature; None = no
            `explain` signature.
    """

    def __init__(self, sentiment: tf.Module, recommender: tf.Module, index: CatalogueIndex,
                 text_dim: int, review_time: int, vocabulary: Sequence[str] = (),
                 partitions: PartitionedIndex | None = None, candidates: int = 0,
                 explainer: AspectExplainer | None = None) -> None:
        super().__init__(name="tfrec_sentiment_serving")
        self.sentiment_model = sentiment
        self.explainer = explainer
        self.recommender = recommender
        self.index = index
        self.partitions = partitions
        self.candidates = int(candidates)
        if partitions is not None and self.candidates < index.k:
            raise ValueError(f"candidates must be >= k ({index.k}), got {candidates}")
        self.text_dim = int(text_dim)
        self.review_time = tf.constant(int(review_time), tf.int64)
        if vocabulary:
            self.vocabulary = tf.saved_model.Asset(_write_vocabulary(self, vocabulary))

    @property
    def top_k(self) -> int:
        return self.index.k

    def describe_index(self) -> dict:
        """How `recommend` ranks, for export.json: {"kind": "exact"} or "partitioned"
        with its partitions, probes, candidates and k-means fit facts."""
        if self.partitions is None:
            return {"kind": "exact"}
        return {"kind": "partitioned", **dict(self.partitions.facts),
                "candidates": self.candidates}

    def _two_stage(self, user: dict, excluded: tf.RaggedTensor, user_id: tf.Tensor | None = None,
                   history: tf.Tensor | None = None, similarity: tf.Tensor | None = None,
                   new_users: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """Partitioned index candidates -> full score on them -> exclusion + top-K."""
        most = tf.reduce_max(tf.concat([tf.cast(excluded.row_lengths(), tf.int32), [0]], 0))
        _, columns = self.partitions.search(user["embedding"], self.candidates + most)
        scores = self.recommender.score_columns(user, columns, user_id, history, similarity,
                                                new_users=new_users)
        return self.index.top_k_among(scores, columns, excluded)

    def serving_signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """Signature name -> concrete function, for `tf.saved_model.save`."""
        recommend = self.recommend.get_concrete_function()
        signatures = {
            "serving_default": recommend,
            "recommend": recommend,
            "rank": self.rank.get_concrete_function(),
            "score": self.score.get_concrete_function(),
            "sentiment": self.sentiment.get_concrete_function(),
            "recommend_from_reviews": self.recommend_from_reviews.get_concrete_function(),
        }
        if self.explainer is not None:
            signatures[EXPLAIN] = self.explainer.explain.get_concrete_function()
        return signatures

    def explain(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """The `explain` signature (`export.explain.AspectExplainer.explain`).

        Raises:
            AttributeError: the module was built without aspect profiles.
        """
        if self.explainer is None:
            raise AttributeError("this ServingModule has no explain signature: it was built "
                                 "without aspect profiles")
        return self.explainer.explain(user_id, item_id)

    @tf.function(input_signature=[_IDS["user_id"]])
    def recommend(self, user_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K items for known (or unknown) users, without their reviewed items."""
        if self.partitions is not None:
            user = self.recommender.user_outputs(user_id)
            item_ids, top = self._two_stage(user, self.index.seen(user_id), user_id)
            return {"item_ids": item_ids, "scores": top}
        scores = self.recommender.score_catalogue(user_id)
        item_ids, top = self.index.top_k(scores, self.index.seen(user_id))
        return {"item_ids": item_ids, "scores": top}

    @tf.function(input_signature=[_IDS["user_id"], _IDS["item_id"]])
    def rank(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """Predicted stars (1..5) and retrieval score of each (user, item) pair."""
        check = tf.debugging.assert_equal(
            tf.size(user_id), tf.size(item_id),
            message="rank: user_id and item_id must have the same length")
        with tf.control_dependencies([check]):
            out = self.recommender.rank(user_id, item_id)
        return {"predicted_rating": out["predicted_rating"], "score": out["score"]}

    @tf.function(input_signature=[_IDS["user_id"], _IDS["item_id"]])
    def score(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """Scores [U, I] of every user x item pair, as `recommend` ranks them."""
        return {"scores": self.recommender.score_items(user_id, item_id)}

    @tf.function(input_signature=[_TEXT])
    def sentiment(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        """Class probabilities (negative, neutral, positive), label and text embedding."""
        out = self.sentiment_model(text)
        return {"probabilities": out["probabilities"], "label": out["label"],
                "embedding": out["embedding"]}

    @tf.function(input_signature=_REVIEWS)
    def recommend_from_reviews(self, text: tf.Tensor, user_index: tf.Tensor,
                               rating: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K items for G new users, from the raw text of their reviews."""
        rows = tf.size(text)
        check = tf.debugging.assert_equal(
            tf.stack([tf.size(user_index), tf.size(rating), tf.size(item_id)]),
            tf.fill([3], rows),
            message="recommend_from_reviews: text, user_index, rating and item_id "
                    "must have the same length")
        with tf.control_dependencies([check]):
            valid = (user_index >= 0) & (user_index < rows)
        text, user_index = text[valid], user_index[valid]
        rating, item_id = rating[valid], item_id[valid]
        num_users = tf.reduce_max(tf.concat([user_index + 1, [0]], axis=0))
        excluded = self.index.columns_by_user(item_id, user_index, num_users)
        reviews = self._new_user_reviews(text, user_index, rating, item_id, num_users)
        if self.partitions is not None:
            user, given, similarity = self.recommender.new_user_outputs(*reviews)
            item_ids, top = self._two_stage(user, excluded, history=given,
                                            similarity=similarity, new_users=True)
            return {"item_ids": item_ids, "scores": top}
        scores = self.recommender.score_catalogue_from_reviews(*reviews)
        item_ids, top = self.index.top_k(scores, excluded)
        return {"item_ids": item_ids, "scores": top}

    def _score_new_users(self, text: tf.Tensor, user_index: tf.Tensor, rating: tf.Tensor,
                         item_id: tf.Tensor, num_users: tf.Tensor) -> tf.Tensor:
        """Catalogue scores [G, I] of new users from their reviews (text, stars, items)."""
        return self.recommender.score_catalogue_from_reviews(
            *self._new_user_reviews(text, user_index, rating, item_id, num_users))

    def _new_user_reviews(self, text: tf.Tensor, user_index: tf.Tensor, rating: tf.Tensor,
                          item_id: tf.Tensor, num_users: tf.Tensor) -> tuple:
        """The recommender's review inputs of new users (`score_catalogue_from_reviews`)
        from their raw reviews: sentiment, stars given or imputed, dates, items."""
        scored = self.sentiment_model(text)
        probabilities = scored["probabilities"]
        given = (rating >= 1.0) & (rating <= 5.0)
        stars = tf.where(given, rating, self.recommender.impute_ratings(probabilities))
        rows = tf.size(text)
        embedding = scored["embedding"] if self.text_dim else tf.zeros([rows, 0])
        return (probabilities, stars, tf.zeros([rows]), tf.fill([rows], self.review_time),
                embedding, user_index, num_users, item_id)


def build_serving_module(sentiment, recommender, top_k: int,
                         config: ExportConfig | None = None,
                         profiles: AspectProfiles | None = None) -> ServingModule:
    """Composes a `SentimentModel` and a `TrainedRecommender` into a `ServingModule`.

    Args:
        sentiment: `tfrec_sentiment.sentiment.model.SentimentModel`.
        recommender: `tfrec_sentiment.recsys.trained.TrainedRecommender`; its feature
            tables give the catalogue (column order of `serving.catalogue()`) and the
            training reviews whose items are excluded per user.
        top_k: K, the number of recommendations of every signature.
        config: the ExportConfig whose `index*`, `partitions`, `probes` and
            `candidates` choose the index (`ExportConfig.index_kind`); None = exact.
            The partitioned index is fitted here (k-means over the item embeddings);
            its partitions are at most the catalogue's items, its probes at most P.
            Its `explain_*` fields set up the `explain` signature.
        profiles: the run's `aspects.profiles.AspectProfiles` (with at least one
            aspect): adds the `explain` signature; None = no `explain`.

    Raises:
        ValueError: the recommender reads text embeddings of another width than the
            sentiment model's, or the catalogue differs from the tables' items.
    """
    tables = recommender.tables
    text_dim = tables.profile.text_dim
    if text_dim and text_dim != sentiment.embedding_dim:
        raise ValueError(
            f"the recommender's profiles read {text_dim}-wide text embeddings but the "
            f"sentiment model gives {sentiment.embedding_dim}: they were not trained together")
    serving = recommender.serving
    catalogue = [v.decode("utf-8") for v in serving.catalogue()["item_ids"].numpy()]
    if catalogue != [str(i) for i in tables.ids["item"]]:
        raise ValueError("the recommender's catalogue is not in the feature tables' item order")
    index = CatalogueIndex.from_interactions(
        catalogue, tables.ids["user"], tables.rows["user_index"], tables.rows["item_index"],
        k=top_k)
    review_time = int(tables.rows["timestamp"].max()) if len(tables.rows["timestamp"]) else 0
    partitions, candidates = None, 0
    if config is not None and config.index_kind(len(catalogue)) == "partitioned":
        serving.prepare_candidate_scoring(seed=config.index_seed)
        count = min(config.partitions or default_partitions(len(catalogue)), len(catalogue))
        partitions = PartitionedIndex.fit(serving.item_embeddings.numpy(), count,
                                          min(config.probes, count), config.index_sample,
                                          config.index_seed)
        candidates = config.candidate_count
    explainer = None
    if profiles is not None:
        explainer = explainer_from_config(profiles, config or ExportConfig())
    return ServingModule(sentiment.as_module(), serving, index, text_dim, review_time,
                         vocabulary=sentiment.preprocessor.tokenizer.get_vocabulary(),
                         partitions=partitions, candidates=candidates, explainer=explainer)


def _write_vocabulary(owner: object, vocabulary: Sequence[str]) -> str:
    """Writes the vocabulary, one token a line, to a folder that lives as long as `owner`.

    `tf.saved_model.save` copies it into the SavedModel's assets/.
    """
    folder = tempfile.TemporaryDirectory(prefix="tfrec-vocab-")
    weakref.finalize(owner, folder.cleanup)
    path = Path(folder.name) / VOCABULARY_FILE
    path.write_text("".join(f"{token}\n" for token in vocabulary), encoding="utf-8")
    return str(path)
