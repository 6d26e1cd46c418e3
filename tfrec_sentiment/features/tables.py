"""Feature tables of the training period: user profiles and item aggregates.

Built from the TRAIN split plus per-review arrays aligned with its rows
(sentiment probabilities [N, 3], text embeddings [N, D]). The tables hold additive
sums per user and per item (see `profile.py`), so that:

- `training_examples()` gives each training row features that never contain its
  own review. Two ways (`FeatureConfig.training_features`):
  - "past_only" (default): the user's and the item's reviews strictly before the
    row's time (point-in-time features, as a deployed model sees them);
  - "leave_one_out": all of the user's / item's training reviews except those of
    the row's (user, item) pair.
  Both keep the row's own rating out of its features. Leave-one-out has a second,
  indirect leak when the model also has id embeddings: the id can learn the sum
  over ALL of a user's (or item's) reviews, and sum - (n - 1) * loo_mean is the
  row's own value - its rating, its sentiment, its text embedding. A DCN cross
  layer forms that product easily. Past-only features have no such identity
  (the prefix differs per row), which is why they are the default.
- `lookup_examples(frame)` gives validation / test / serving rows the full
  training-period features (all of those reviews are earlier or by others).

Normalisation statistics (mean, variance per feature) are fitted on the training
examples only; the recommender's towers take them in their config, so they travel
with the model.

Example:

>>> tables = build_feature_tables(split.train, probabilities, embeddings)  # doctest: +SKIP
>>> train_features = tables.training_examples()                           # doctest: +SKIP
>>> test_features = tables.lookup_examples(split.test)                    # doctest: +SKIP
>>> tables.save(run_dir / "features")                                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.features import history as history_lib
from tfrec_sentiment.features import similarity as similarity_lib
from tfrec_sentiment.features.config import TRAINING_FEATURES, FeatureConfig
from tfrec_sentiment.features.lookup import FeatureLookup
from tfrec_sentiment.features.profile import GROUP_FEATURES, SIGNALS, ReviewProfile

SIDES: tuple[str, str] = ("user", "item")
# tables.history key -> example / lookup group name (user side).
HISTORY_GROUPS: dict[str, str] = {
    "items": "history", "rating": "history_rating", "sentiment": "history_sentiment"}
# The user-side group of the item-to-item similarity profile (features/similarity.py).
SIMILARITY_GROUP = "similarity"
_FORMAT_VERSION = 2


class FeatureError(ValueError):
    """Inputs to the feature tables are inconsistent (names the array and the problem)."""


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
        co_reviews: float32 [I, I], training users who reviewed both items (diagonal:
            reviewers per item), with `config.item_similarity`; else None.
        path: the folder the tables were last saved to or loaded from, if any.
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
    co_reviews: np.ndarray | None = None
    path: Path | None = None

    # --- what the model sees ---------------------------------------------------------

    @property
    def groups(self) -> tuple[str, ...]:
        """Feature groups present, e.g. ("rating", "helpful", "sentiment", "text")."""
        return self.profile.groups

    def feature_table(self, side: str, index: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Full training-period features of every known id, row 0 = unknown id.

        Args:
            side: "user" or "item".
            index: int [M], the row in `ids[side]` of each wanted id (-1: unknown); then
                only those M rows are returned, in that order, and the similarity
                profiles (float32 [., I] each) are formed for those users only.

        Returns:
            group -> float32 [len(ids[side]) + 1, dim]; row i + 1 is ids[side][i],
            row 0 the empty profile (the prior), used for unknown ids. With `index`:
            group -> [M, dim].
        """
        sums = {
            key: np.concatenate([np.zeros_like(value[:1]), value])
            for key, value in self.sums[side].items()
        }
        table = _to_numpy(self.profile.finalize(sums))
        if side == "user":
            for key, value in self.history.items():
                padded = np.concatenate([np.zeros_like(value[:1]), value])
                table[HISTORY_GROUPS[key]] = padded
        if index is not None:
            table = {group: values[np.asarray(index) + 1] for group, values in table.items()}
        if side == "user" and self.has_similarity:
            users = np.arange(-1, len(self.ids["user"])) if index is None else np.asarray(index)
            table[SIMILARITY_GROUP] = self._similarity_profiles(
                table[HISTORY_GROUPS["items"]], users)  # row 0 / index -1: the unknown user
        return table

    def lookup_layer(self, side: str, name: str | None = None) -> FeatureLookup:
        """A `FeatureLookup` holding this side's full feature table (for serving)."""
        table = self.feature_table(side)
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
            features = _to_numpy(self.profile.finalize(self.held_out_sums(side)))
            examples.update({f"{side}_{g}": v for g, v in features.items()})
        for key, value in self._held_out_history().items():
            examples[f"user_{HISTORY_GROUPS[key]}"] = value
        if self.has_similarity:
            examples[f"user_{SIMILARITY_GROUP}"] = self._similarity_profiles(
                examples[f"user_{HISTORY_GROUPS['items']}"], user)
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

    def _similarity_profiles(self, history: np.ndarray, users: np.ndarray) -> np.ndarray:
        """Leave-user-out similarity profiles [M, I] of history rows owned by `users` [M]."""
        co = self.co_reviews
        grown = len(self.ids["item"]) - co.shape[0]
        if grown:  # items added after training have no co-reviews yet
            co = np.pad(co, ((0, grown), (0, grown)))
        item_sets = similarity_lib.user_item_sets(
            self.rows["user_index"], self.rows["item_index"], len(self.ids["user"]))
        return similarity_lib.similarity_profiles(history, users, item_sets, co,
                                                  self.config.similarity_shrinkage)

    def _held_out_history(self) -> dict[str, np.ndarray]:
        """Per training row, the user's history without the row's own review."""
        length = self.config.history_length
        if not length:
            return {}
        user, item = self.rows["user_index"], self.rows["item_index"]
        if self.config.training_features == "past_only":
            rows = history_lib.past_rows(user, self.rows["timestamp"], length)
        else:
            pair = user * len(self.ids["item"]) + item
            rows = history_lib.other_rows(user, self.rows["timestamp"], pair, length)
        return history_lib.gather_history(rows, item, self._history_signals())

    def _history_signals(self) -> dict[str, np.ndarray]:
        signals = self.rows["signals"]
        values = {"rating": (signals[:, SIGNALS.index("rating")] - 3.0) / 2.0}
        if self.config.use_sentiment:
            values["sentiment"] = signals[:, SIGNALS.index("polarity")]
        return values

    def held_out_sums(self, side: str) -> dict[str, np.ndarray]:
        """Per training row, the sums of `side`'s reviews that row may see.

        Returns:
            {"signals": [N, S], "text": [N, D] (if text)}.
        """
        key = self.rows[f"{side}_index"]
        own = {k: self.rows[k] for k in ("signals", "text") if k in self.rows}
        mode = self.config.training_features
        if mode == "past_only":
            return {k: history_lib.past_sums(key, self.rows["timestamp"], v)
                    for k, v in own.items()}
        if mode == "leave_one_out":
            pair = self.rows["user_index"] * len(self.ids["item"]) + self.rows["item_index"]
            codes, uniques = pd.factorize(pair)
            held_out = {}
            for k, v in own.items():
                pair_sums = np.zeros((len(uniques), v.shape[1]), np.float64)
                np.add.at(pair_sums, codes, v)
                held_out[k] = (self.sums[side][k][key] - pair_sums[codes]).astype(np.float32)
            return held_out
        raise FeatureError(f"unknown training_features {mode!r}; use {TRAINING_FEATURES}")

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
        arrays = _review_arrays(frame, probabilities, embeddings, self.config, "with_reviews")
        sums = {side: {k: v.copy() for k, v in self.sums[side].items()} for side in SIDES}
        ids = dict(self.ids)
        for side in SIDES:
            column = frame[f"{side}_id"].to_numpy().astype(str)
            new = np.array(sorted(set(column) - set(ids[side])), dtype=object)
            ids[side] = np.concatenate([ids[side], new]).astype(object)
            for key, value in sums[side].items():
                sums[side][key] = np.concatenate(
                    [value, np.zeros((len(new), value.shape[1]), value.dtype)]
                )
            index = pd.Index(ids[side]).get_indexer(column)
            added = _to_numpy(self.profile.summarize(arrays, index, len(ids[side])))
            for key in sums[side]:
                sums[side][key] = sums[side][key] + added[key]
        history = _grow_history(self.history, frame, arrays, ids, self.ids["user"])
        # Popularity stays the training distribution; new items get the floor of one
        # review in N + 1, as unknown items do in `_example_ids`.
        floor = 1.0 / (len(self.rows["rating"]) + 1)
        grown = len(ids["item"]) - len(self.item_probability)
        probability = np.concatenate([self.item_probability, np.full(grown, floor, np.float32)])
        return dataclasses.replace(self, ids=ids, sums=sums, item_probability=probability,
                                   history=history, path=None)

    def save(self, directory: str | Path) -> Path:
        """Writes user_features.parquet, item_features.parquet, arrays.npz, features.json."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for side in SIDES:
            self._side_frame(side).to_parquet(directory / f"{side}_features.parquet", index=False)
        arrays = {f"rows_{k}": v for k, v in self.rows.items()}
        arrays.update({f"history_{k}": v for k, v in self.history.items()})
        if self.co_reviews is not None:
            arrays["co_reviews"] = self.co_reviews
        for side in SIDES:
            if "text" in self.sums[side]:
                arrays[f"{side}_text_sums"] = self.sums[side]["text"]
        np.savez_compressed(directory / "arrays.npz", **arrays)
        meta = {
            "format_version": _FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "profile": self.profile.get_config(),
            "signals": list(SIGNALS),
            "statistics": self.statistics,
            "rating_calibration": self.rating_calibration,
            "global_mean": self.global_mean,
        }
        (directory / "features.json").write_text(json.dumps(meta, indent=1) + "\n")
        self.path = directory
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> FeatureTables:
        """Reads tables written by `save`."""
        directory = Path(directory)
        meta = json.loads((directory / "features.json").read_text())
        if meta.get("format_version") != _FORMAT_VERSION or meta["signals"] != list(SIGNALS):
            raise FeatureError(f"{directory / 'features.json'}: written by another version")
        arrays = np.load(directory / "arrays.npz", allow_pickle=False)
        ids, sums = {}, {}
        item_probability = None
        for side in SIDES:
            frame = pd.read_parquet(directory / f"{side}_features.parquet")
            ids[side] = frame[f"{side}_id"].to_numpy().astype(str).astype(object)
            sums[side] = {
                "signals": frame[[f"sum_{s}" for s in SIGNALS]].to_numpy(np.float32)
            }
            if f"{side}_text_sums" in arrays:
                sums[side]["text"] = arrays[f"{side}_text_sums"]
            if side == "item":
                item_probability = frame["probability"].to_numpy(np.float32)
        rows = {k[len("rows_"):]: arrays[k] for k in arrays.files if k.startswith("rows_")}
        history = {k[len("history_"):]: arrays[k] for k in arrays.files
                   if k.startswith("history_")}
        return cls(
            config=FeatureConfig(**meta["config"]),
            profile=ReviewProfile.from_config(meta["profile"]),
            ids=ids, sums=sums, rows=rows, statistics=meta["statistics"],
            item_probability=item_probability,
            rating_calibration=meta["rating_calibration"],
            global_mean=float(meta["global_mean"]), history=history, path=directory,
            co_reviews=arrays["co_reviews"] if "co_reviews" in arrays.files else None,
        )

    def _side_frame(self, side: str) -> pd.DataFrame:
        columns = {f"{side}_id": self.ids[side].astype(str)}
        signals = self.sums[side]["signals"]
        columns["count"] = signals[:, SIGNALS.index("count")].astype(np.int64)
        table = self.feature_table(side)
        for group, names in GROUP_FEATURES.items():
            if group in table:
                for j, name in enumerate(names):
                    columns[f"{group}_{name}"] = table[group][1:, j]
        if side == "item":
            columns["probability"] = self.item_probability
        for j, signal in enumerate(SIGNALS):
            columns[f"sum_{signal}"] = signals[:, j]
        return pd.DataFrame(columns)


def build_feature_tables(
    train: pd.DataFrame,
    probabilities: np.ndarray | None,
    embeddings: np.ndarray | None,
    config: FeatureConfig | None = None,
    profile: ReviewProfile | None = None,
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
    arrays = _review_arrays(train, probabilities, embeddings, config, "build_feature_tables")
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
        side: _to_numpy(profile.summarize(arrays, index[side], len(ids[side])))
        for side in SIDES
    }
    own = _to_numpy(profile.summarize(arrays, np.arange(len(train)), len(train)))
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
        rating_calibration=_rating_calibration(arrays), global_mean=float(arrays["rating"].mean()),
    )
    if config.history_length:
        latest = history_lib.latest_rows(rows["user_index"], rows["timestamp"],
                                         len(ids["user"]), config.history_length)
        tables.history = history_lib.gather_history(
            latest, rows["item_index"], tables._history_signals())
    # Statistics first: the similarity profiles are not standardised, so they need not
    # be formed for them.
    tables.statistics = _fit_statistics(tables.training_examples())
    if config.item_similarity and config.history_length:
        if len(ids["item"]) > config.similarity_max_items:
            raise FeatureError(
                f"build_feature_tables: {len(ids['item'])} items exceed similarity_max_items "
                f"({config.similarity_max_items}); the co-review matrix is [I, I]: set "
                "features.item_similarity=false (or raise the limit)")
        tables.co_reviews = similarity_lib.co_reviews(rows["user_index"], rows["item_index"],
                                                      len(ids["item"]))
    return tables


def _review_arrays(frame: pd.DataFrame, probabilities: np.ndarray | None,
                   embeddings: np.ndarray | None, config: FeatureConfig,
                   caller: str) -> dict[str, np.ndarray]:
    n = len(frame)
    arrays = {
        "rating": frame["rating"].to_numpy(np.float32),
        "helpful_votes": frame["helpful_votes"].to_numpy(np.float32),
        "timestamp": frame["timestamp"].to_numpy(np.int64),
    }
    for name, needed, value, width in (
        ("probabilities", config.use_sentiment, probabilities, 3),
        ("embedding", config.use_text, embeddings, None),
    ):
        if not needed:
            continue
        if value is None:
            raise FeatureError(f"{caller}: {name} is None but the FeatureConfig uses it")
        value = np.asarray(value, dtype=np.float32)
        if value.ndim != 2 or value.shape[0] != n or (width and value.shape[1] != width):
            raise FeatureError(
                f"{caller}: {name} has shape {value.shape}, expected [{n}, {width or 'D'}] "
                "aligned with the frame's rows"
            )
        if not np.isfinite(value).all():
            bad = int(np.flatnonzero(~np.isfinite(value).all(axis=1))[0])
            raise FeatureError(f"{caller}: {name} row {bad} is not finite")
        arrays[name] = value
    for name in ("rating", "helpful_votes"):
        if not np.isfinite(arrays[name]).all():
            bad = int(np.flatnonzero(~np.isfinite(arrays[name]))[0])
            raise FeatureError(f"{caller}: column {name!r} row {bad} is not finite")
    return arrays


def _grow_history(history: dict[str, np.ndarray], frame: pd.DataFrame,
                  arrays: Mapping[str, np.ndarray], ids: dict[str, np.ndarray],
                  old_users: np.ndarray) -> dict[str, np.ndarray]:
    """Histories with `frame`'s reviews put in front (as the latest), new users appended."""
    if not history:
        return {}
    length = history["items"].shape[1]
    grown = {k: np.concatenate([v, np.zeros((len(ids["user"]) - len(old_users), length),
                                            v.dtype)]) for k, v in history.items()}
    user = pd.Index(ids["user"]).get_indexer(frame["user_id"].astype(str))
    item = pd.Index(ids["item"]).get_indexer(frame["item_id"].astype(str))
    signals = {"items": item + 1, "rating": (arrays["rating"] - 3.0) / 2.0}
    if "sentiment" in history:
        probabilities = arrays["probabilities"]
        signals["sentiment"] = probabilities[:, 2] - probabilities[:, 0]
    # Oldest first, so that each insertion at the front leaves the latest in front.
    for row in np.argsort(frame["timestamp"].to_numpy(), kind="stable"):
        for key, table in grown.items():
            table[user[row]] = np.r_[signals[key][row], table[user[row]][:-1]]
    return grown


def _rating_calibration(arrays: Mapping[str, np.ndarray]) -> list[float] | None:
    if "probabilities" not in arrays:
        return None
    weights, *_ = np.linalg.lstsq(arrays["probabilities"], arrays["rating"], rcond=None)
    return weights.astype(float).tolist()


def _fit_statistics(examples: Mapping[str, np.ndarray]) -> dict:
    statistics: dict[str, dict] = {side: {} for side in SIDES}
    for key, value in examples.items():
        side, _, group = key.partition("_")
        if (side not in SIDES or value.ndim != 2 or group.startswith("history")
                or group == SIMILARITY_GROUP):
            continue
        variance = value.astype(np.float64).var(axis=0)
        # A constant feature (e.g. no helpful votes at all) would divide by zero.
        variance = np.where(variance > 1e-12, variance, 1.0)
        statistics[side][group] = {
            "mean": value.astype(np.float64).mean(axis=0).tolist(),
            "variance": variance.tolist(),
        }
    return statistics


def _to_numpy(values: Mapping[str, tf.Tensor]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}
