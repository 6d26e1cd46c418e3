"""Feature tables of the training period: user profiles and item aggregates.

Built from the TRAIN split plus per-review arrays aligned with its rows
(sentiment probabilities [N, 3], text embeddings [N, D]). The tables hold additive
sums per user and per item (see `profile.py`), so that:

- `training_examples()` gives each training row features that never contain its
  own review: "past_only" (default, point-in-time) or "leave_one_out"
  (`FeatureConfig.training_features`; `leakage.py` says why past-only is the default).
- `lookup_examples(frame)` gives validation / test / serving rows the full
  training-period features (all of those reviews are earlier or by others).

Normalisation statistics (mean, variance per feature) are fitted on the training
examples only; the recommender's towers take them in their config, so they travel
with the model.

This module holds the tables and how they are built; each other part of their work
has its own module: the two leakage modes (`leakage.py`), growth by new reviews
(`growth.py`), save / load (`storage.py`), the fitted statistics (`table_stats.py`),
the checked per-review inputs (`review_arrays.py`), shared names (`common.py`).
Over 350 lines because `FeatureTables` is one dataclass whose methods are what the
model reads of the tables (feature tables, training and lookup examples, similarity
profiles) and `build_feature_tables` is the one place that fills its fields.

Example:

>>> tables = build_feature_tables(split.train, probabilities, embeddings)  # doctest: +SKIP
>>> train_features = tables.training_examples()                           # doctest: +SKIP
>>> test_features = tables.lookup_examples(split.test)                    # doctest: +SKIP
>>> tables.save(run_dir / "features")                                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec_sentiment.features import growth, leakage, storage
from tfrec_sentiment.features import history as history_lib
from tfrec_sentiment.features import profiles as profiles_lib
from tfrec_sentiment.features import similarity as similarity_lib
from tfrec_sentiment.features.aspects import ASPECT_GROUP, AspectArrays
from tfrec_sentiment.features.common import (
    HISTORY_GROUPS,
    SIDES,
    SIMILARITY_GROUP,
    FeatureError,
    to_numpy,
)
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.lookup import FeatureLookup
from tfrec_sentiment.features.profile import SIGNALS, ReviewProfile
from tfrec_sentiment.features.review_arrays import review_arrays
from tfrec_sentiment.features.table_stats import fit_statistics, rating_calibration
from tfrec_sentiment.features.text_similarity import TextSimilarity, fit_text_similarity

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

# Defined in common.py, public here where they always were.
__all__ = ["HISTORY_GROUPS", "SIDES", "SIMILARITY_GROUP", "FeatureError", "FeatureTables",
           "build_feature_tables"]


@dataclasses.dataclass
class FeatureTables:
    """Per-user and per-item sums of the training period, and what derives from them.

    Attributes:
        config: the FeatureConfig the tables were built with.
        profile: the `ReviewProfile` layer (training-wide prior) that turns sums into
            features; the export runs the same layer for a new user's reviews.
        ids: side -> known ids [U] / [I] (object array of str), sorted.
        sums: side -> {"signals": [U, S], "text": [U, D] (if text)}.
        rows: the training rows: "user_index" [N], "item_index" [N], "rating" [N],
            "timestamp" [N], and each review's own "signals" [N, S] and "text" [N, D]
            (to form the held-out sums of `training_examples`).
        statistics: side -> group -> {"mean": [dim], "variance": [dim]}, fitted on the
            training examples.
        item_probability: share of training reviews per item [I] (popularity, for
            the retrieval loss's sampling correction).
        rating_calibration: least-squares weights [3] mapping (p_neg, p_neu, p_pos) to
            stars on the training split, to impute ratings of reviews given without
            stars; None without sentiment.
        global_mean: mean training rating.
        history: each user's latest `config.history_length` training reviews, latest
            first: "items" int64 [U, L] (item index + 1, 0 = padding), "rating"
            float32 [U, L] ((stars - 3) / 2) and "sentiment" float32 [U, L]
            (p_pos - p_neg; with sentiment only). Empty dict when L = 0.
        co_reviews: sparse float32 [I, I] (`scipy.sparse.csr_array`), training users
            who reviewed both items (diagonal: reviewers per item), with
            `config.item_similarity`; else None.
        similarity_basis: float32 [I, r], the top eigenvectors of the item
            similarity (`similarity.similarity_basis`) that project the
            item-to-item block when the catalogue has more than
            `config.similarity_max_items` items; None = the exact block (profiles
            of width I, the item's one-hot).
        text_similarity: the review-text term of the item-to-item similarity
            (`text_similarity.TextSimilarity`), with `config.text_similarity_weight`
            > 0 and an exact block; None otherwise, and in the view of a variant
            that does not read text (`for_variant`).
        path: the folder the tables were last saved to or loaded from, if any.
        aspects: per training row, its aspect mentions and their polarity (the
            "aspect" group, `features/aspects.py`); None without the aspects stage.
    """

    config: FeatureConfig
    profile: ReviewProfile
    ids: dict[str, np.ndarray]
    sums: dict[str, dict[str, np.ndarray]]
    rows: dict[str, np.ndarray]
    statistics: dict[str, dict[str, dict[str, list[float]]]]
    item_probability: np.ndarray
    rating_calibration: list[float] | None
    global_mean: float
    history: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    co_reviews: sp.csr_array | None = None
    similarity_basis: np.ndarray | None = None
    text_similarity: TextSimilarity | None = None
    path: Path | None = None
    aspects: AspectArrays | None = None

    # --- what the model sees ---------------------------------------------------------

    @property
    def groups(self) -> tuple[str, ...]:
        """Feature groups present, e.g. ("rating", "helpful", "sentiment", "text")."""
        return self.profile.groups + ((ASPECT_GROUP,) if self.aspects is not None else ())

    def feature_table(self, side: str, index: np.ndarray | None = None,
                      profiles: bool = True) -> dict[str, np.ndarray]:
        """Full training-period features of every known id, row 0 = unknown id.

        Args:
            side: "user" or "item".
            index: int [M], the row in `ids[side]` of each wanted id (-1: unknown); then
                only those M rows are returned, in that order, and the similarity
                profiles (float32 [., I] each, [., r] projected) are formed for
                those users only.
            profiles: False leaves the users' similarity profiles out (their cost
                grows with each history item's co-reviews; e.g. the saved tables,
                which hold the other groups only).

        Returns:
            group -> float32 [len(ids[side]) + 1, dim]; row i + 1 is ids[side][i],
            row 0 the empty profile (the prior), used for unknown ids. With `index`:
            group -> [M, dim]. A projected item-to-item block adds the items'
            "similarity" rows Q[i] [., r] (zeros: unknown or grown items).
        """
        sums = {
            key: np.concatenate([np.zeros_like(value[:1]), value])
            for key, value in self.sums[side].items()
        }
        table = to_numpy(self.profile.finalize(sums))
        if self.aspects is not None:
            table[ASPECT_GROUP] = self.aspects.table(side, self.rows, len(self.ids[side]))
        if side == "user":
            for key, value in self.history.items():
                padded = np.concatenate([np.zeros_like(value[:1]), value])
                table[HISTORY_GROUPS[key]] = padded
        if side == "item" and self.similarity_basis is not None and self.has_similarity:
            table[SIMILARITY_GROUP] = self.basis_rows()
        if index is not None:
            table = {group: values[np.asarray(index) + 1] for group, values in table.items()}
        if side == "user" and self.has_similarity and profiles:
            users = np.arange(-1, len(self.ids["user"])) if index is None else np.asarray(index)
            table[SIMILARITY_GROUP] = self._similarity_profiles(
                table[HISTORY_GROUPS["items"]], users)  # row 0 / index -1: the unknown user
        return table

    def lookup_layer(self, side: str, name: str | None = None,
                     drop: Sequence[str] = ()) -> FeatureLookup:
        """A `FeatureLookup` holding this side's full feature table (for serving),
        without the groups in `drop` (e.g. the "aspect" group a model does not read)."""
        table = {g: t for g, t in self.feature_table(side).items() if g not in drop}
        layer = FeatureLookup(
            vocabulary=self.ids[side].tolist(),
            group_dims={g: t.shape[1] for g, t in table.items()},
            integer_groups=[g for g, t in table.items() if t.dtype.kind == "i"],
            name=name or f"{side}_features",
        )
        layer.set_tables(table)
        return layer

    def training_examples(self) -> dict[str, np.ndarray]:
        """One example per training row; features never contain the row's own review.

        Uses `config.training_features` ("past_only" or "leave_one_out", see the
        module docstring).

        Returns:
            "user_id", "item_id" (str [N]), "rating" (float32 [N]),
            "item_probability" (float32 [N]), "{side}_{group}" float32 [N, dim]
            (held out), the user's history "user_history*" [N, L], and
            "candidate_item_{group}" [N, dim]: the item's full training-period
            features, for the retrieval loss only (the same for every row of an item).
        """
        user, item = self.rows["user_index"], self.rows["item_index"]
        examples = self._example_ids(user, item)
        examples["rating"] = self.rows["rating"].astype(np.float32)
        for side in SIDES:
            features = to_numpy(self.profile.finalize(self.held_out_sums(side)))
            examples.update({f"{side}_{g}": v for g, v in features.items()})
            if self.aspects is not None:
                examples[f"{side}_{ASPECT_GROUP}"] = self.aspects.training_features(
                    side, self.rows, len(self.ids["item"]), self.config.training_features)
        for key, value in self._held_out_history().items():
            examples[f"user_{HISTORY_GROUPS[key]}"] = value
        if self.has_similarity:
            examples[f"user_{SIMILARITY_GROUP}"] = self._similarity_profiles(
                examples[f"user_{HISTORY_GROUPS['items']}"], user)
            if self.similarity_basis is not None:
                examples[f"item_{SIMILARITY_GROUP}"] = self.basis_rows()[item + 1]
        # The item as a retrieval candidate: one representation per item, see
        # RecommenderModel._candidate_outputs.
        for group, table in self.feature_table("item").items():
            examples[f"candidate_item_{group}"] = table[item + 1]
        return examples

    @property
    def history_groups(self) -> tuple[str, ...]:
        """History inputs present, e.g. ("history", "history_rating", "history_sentiment")."""
        return tuple(HISTORY_GROUPS[k] for k in self.history)

    @property
    def has_similarity(self) -> bool:
        """Whether the user tables carry the similarity profile (co-reviews + history)."""
        return self.co_reviews is not None and "items" in self.history

    @property
    def similarity_width(self) -> int:
        """Width of the item-to-item block: r projected, else I (0 without profiles)."""
        if not self.has_similarity:
            return 0
        if self.similarity_basis is not None:
            return int(self.similarity_basis.shape[1])
        return len(self.ids["item"])

    def for_variant(self, reads_text: bool) -> FeatureTables:
        """These tables as a variant sees them: without the text term unless it reads text."""
        if reads_text or self.text_similarity is None:
            return self
        return dataclasses.replace(self, text_similarity=None)

    def item_similarity(self) -> sp.csr_array:
        """float32 [I, I]: the training period's item-to-item similarity, shrunk co-review
        cosine + w * text (no user left out: a new user's reviews are in no co-review
        nor document); items added after training have no neighbours."""
        co = sp.csr_array(self.co_reviews)
        co.resize((len(self.ids["item"]),) * 2)
        cosine = similarity_lib.cosine_similarity(co, self.config.similarity_shrinkage)
        text = self.text_similarity
        if text is None or text.weight == 0:
            return cosine
        extra = sp.csr_array(text.matrix, dtype=np.float32)
        extra.resize(cosine.shape)  # items added after training: no text neighbours
        return sp.csr_array(cosine + np.float32(text.weight) * extra, dtype=np.float32)

    def basis_rows(self) -> np.ndarray:
        """float32 [I + 1, r]: row 0 (unknown item) and grown items zero, row i + 1 Q[i]."""
        basis = self.similarity_basis
        rows = np.zeros((len(self.ids["item"]) + 1, basis.shape[1]), np.float32)
        rows[1:len(basis) + 1] = basis
        return rows

    def _similarity_profiles(self, history: np.ndarray, users: np.ndarray) -> np.ndarray:
        """Leave-user-out similarity profiles [M, I] of history rows owned by `users` [M]
        ([M, r]: projected on `similarity_basis`)."""
        co = sp.csr_array(self.co_reviews)
        grown = len(self.ids["item"]) - co.shape[0]
        if grown and self.similarity_basis is None:
            co.resize((len(self.ids["item"]),) * 2)  # items added after training: no co-reviews
        item_sets = profiles_lib.user_item_sets(
            self.rows["user_index"], self.rows["item_index"], len(self.ids["user"]))
        return profiles_lib.similarity_profiles(history, users, item_sets, co,
                                                self.config.similarity_shrinkage,
                                                basis=self.similarity_basis,
                                                text=self.text_similarity)

    def _held_out_history(self) -> dict[str, np.ndarray]:
        """Per training row, the user's history without the row's own review."""
        return leakage.held_out_history(self.rows, len(self.ids["item"]),
                                        self.config.history_length,
                                        self.config.training_features, self._history_signals())

    def _history_signals(self) -> dict[str, np.ndarray]:
        signals = self.rows["signals"]
        values = {"rating": (signals[:, SIGNALS.index("rating")] - 3.0) / 2.0}
        if self.config.use_sentiment:
            values["sentiment"] = signals[:, SIGNALS.index("polarity")]
        return values

    def held_out_sums(self, side: str) -> dict[str, np.ndarray]:
        """Per training row, the sums of `side`'s reviews that row may see (`leakage.py`).

        Returns:
            {"signals": [N, S], "text": [N, D] (if text)}.
        """
        return leakage.held_out_sums(self.rows, self.sums[side], side, len(self.ids["item"]),
                                     self.config.training_features)

    def lookup_examples(self, frame: pd.DataFrame,
                        sides: Sequence[str] = SIDES) -> dict[str, np.ndarray]:
        """Examples for rows of a later split (or any pairs), with full features.

        Args:
            frame: with `user_id`, `item_id`, and `rating` if labels are wanted.
            sides: the sides whose features are looked up (e.g. ("item",) for the
                catalogue's item tower inputs: no user profile is formed).

        Returns:
            the same keys as `training_examples` ("rating" only if `frame` has it;
            "{side}_*" features only for `sides`). Unknown users / items get the
            empty profile (the prior). Features are formed once per distinct id.
        """
        user = self.index_of("user", frame["user_id"].to_numpy())
        item = self.index_of("item", frame["item_id"].to_numpy())
        examples = self._example_ids(user, item, frame)
        if "rating" in frame:
            examples["rating"] = frame["rating"].to_numpy(np.float32)
        for side, index in (("user", user), ("item", item)):
            if side in sides:
                unique, inverse = np.unique(index, return_inverse=True)
                table = self.feature_table(side, unique)
                examples.update({f"{side}_{g}": t[inverse.reshape(-1)]
                                 for g, t in table.items()})
        return examples

    def index_of(self, side: str, ids: np.ndarray) -> np.ndarray:
        """Row index of each id in `ids[side]`, -1 for unknown ids. int64 [N]."""
        known = pd.Index(self.ids[side])
        return known.get_indexer(pd.Index(np.asarray(ids, dtype=object).astype(str)))

    def _example_ids(self, user: np.ndarray, item: np.ndarray,
                     frame: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        if frame is None:
            user_ids, item_ids = self.ids["user"][user], self.ids["item"][item]
        else:
            user_ids = frame["user_id"].to_numpy().astype(str).astype(object)
            item_ids = frame["item_id"].to_numpy().astype(str).astype(object)
        probability = np.where(
            item >= 0, self.item_probability[np.maximum(item, 0)],
            1.0 / (len(self.rows["rating"]) + 1),
        ).astype(np.float32)
        return {"user_id": user_ids, "item_id": item_ids, "item_probability": probability}

    # --- growth and persistence ------------------------------------------------------

    def with_reviews(self, frame: pd.DataFrame, probabilities: np.ndarray | None,
                     embeddings: np.ndarray | None) -> FeatureTables:
        """New tables whose sums also include `frame`'s reviews (new ids appended).

        For cold start and feedback: an item unknown at training time gets
        aggregates from its new reviews, while the model's id vocabulary and the
        normalisation statistics stay as trained. Training rows are unchanged.
        """
        return growth.with_reviews(self, frame, probabilities, embeddings)

    def save(self, directory: str | Path, encryption: TableEncryption | None = None) -> Path:
        """Writes user_features.parquet, item_features.parquet, arrays.npz, features.json
        (`storage.py`); the two tables, which hold the ids, encrypted with `encryption`
        (`tfrec_sentiment.privacy`)."""
        return storage.save_tables(self, directory, encryption)

    @classmethod
    def load(cls, directory: str | Path,
             encryption: TableEncryption | None = None) -> FeatureTables:
        """Reads tables written by `save` (encrypted ones with `encryption`).

        Raises:
            FeatureError: the folder was written by another format version.
            EncryptedTableError: the tables are encrypted and `encryption` cannot open them.
        """
        return cls(**storage.load_fields(directory, encryption))


def build_feature_tables(
    train: pd.DataFrame,
    probabilities: np.ndarray | None,
    embeddings: np.ndarray | None,
    config: FeatureConfig | None = None,
    profile: ReviewProfile | None = None,
    aspects: AspectArrays | None = None,
) -> FeatureTables:
    """Builds the feature tables from the training split.

    Args:
        train: canonical review frame of the TRAIN split (user_id, item_id, rating,
            helpful_votes; other columns ignored).
        probabilities: float [N, 3] sentiment (negative, neutral, positive) aligned
            with `train`'s rows; may be None only if `config.use_sentiment` is False.
        embeddings: float [N, D] text embeddings aligned with `train`'s rows; may be
            None only if `config.use_text` is False.
        config: FeatureConfig (defaults: sentiment and text on, prior strength 2).
        profile: reuse this `ReviewProfile` (its training-wide prior) instead of
            fitting one on `train`, e.g. to refresh tables without moving the prior.
        aspects: the aspect mentions of `train`'s rows (`features/aspects.py`): adds
            the "aspect" group; None: no such group.

    The prior (training-wide mean of each signal) is a global parameter like the
    global mean rating: each training review moves it by 1/N, and through it a
    row's features by about k / ((n + k) N). That is the only way a row's own
    review reaches its features.

    Returns:
        FeatureTables.

    Raises:
        FeatureError: empty split, misaligned or non-finite arrays.
    """
    config = config or FeatureConfig()
    if len(train) == 0:
        raise FeatureError("build_feature_tables: the training split is empty")
    if aspects is not None and len(aspects.counts) != len(train):
        raise FeatureError(f"build_feature_tables: aspect arrays have {len(aspects.counts)} "
                           f"rows, the training split {len(train)}")
    arrays = review_arrays(train, probabilities, embeddings, config, "build_feature_tables")
    if profile is None:
        text_prior = arrays["embedding"].mean(axis=0).tolist() if config.use_text else None
        profile = ReviewProfile(
            signal_prior=ReviewProfile.fit_prior(arrays), text_prior=text_prior,
            prior_strength=config.prior_strength, use_sentiment=config.use_sentiment,
            name="review_profile",
        )
    ids, index = {}, {}
    for side in SIDES:
        codes, uniques = pd.factorize(train[f"{side}_id"].astype(str), sort=True)
        ids[side], index[side] = np.asarray(uniques, dtype=object), codes
    sums = {
        side: to_numpy(profile.summarize(arrays, index[side], len(ids[side])))
        for side in SIDES
    }
    own = to_numpy(profile.summarize(arrays, np.arange(len(train)), len(train)))
    rows = {
        "user_index": index["user"].astype(np.int64),
        "item_index": index["item"].astype(np.int64),
        "rating": arrays["rating"],
        "timestamp": train["timestamp"].to_numpy(np.int64),
        **own,
    }
    counts = np.bincount(index["item"], minlength=len(ids["item"]))
    tables = FeatureTables(
        config=config, profile=profile, ids=ids, sums=sums, rows=rows, statistics={},
        item_probability=(counts / counts.sum()).astype(np.float32),
        rating_calibration=rating_calibration(arrays), global_mean=float(arrays["rating"].mean()),
        aspects=aspects,
    )
    if config.history_length:
        latest = history_lib.latest_rows(rows["user_index"], rows["timestamp"],
                                         len(ids["user"]), config.history_length)
        tables.history = history_lib.gather_history(
            latest, rows["item_index"], tables._history_signals())
    # Statistics first: the similarity profiles are not standardised, so they need not
    # be formed for them.
    tables.statistics = fit_statistics(tables.training_examples())
    if config.item_similarity and config.history_length:
        tables.co_reviews = similarity_lib.co_review_matrix(
            rows["user_index"], rows["item_index"], len(ids["item"]))
        if len(ids["item"]) > config.similarity_max_items:  # project: no [., I] profiles
            tables.similarity_basis = similarity_lib.similarity_basis(
                similarity_lib.cosine_similarity(tables.co_reviews,
                                                 config.similarity_shrinkage),
                config.similarity_rank)
        elif config.text_similarity_weight > 0 and "text" in train.columns:
            texts = train["text"].fillna("").astype(str)
            if "title" in train.columns:
                texts = train["title"].fillna("").astype(str) + " " + texts
            tables.text_similarity = fit_text_similarity(
                texts.to_numpy(), rows["user_index"], rows["item_index"], len(ids["item"]),
                config.text_similarity_neighbours, config.text_similarity_weight)
    return tables

