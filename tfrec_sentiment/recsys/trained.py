"""`TrainedRecommender`: a trained model + its feature tables, behind the EVAL protocol.

    predict_rating(user_ids [N], item_ids [N]) -> float [N]   (stars, clipped to 1..5)
    score_items(user_ids [U], item_ids [I])    -> float [U, I] (higher = recommend first)

Both run through `RecommenderServing`'s tf.functions, i.e. exactly the graph the
export serves. Features are the full training-period aggregates; unknown users and
items get the OOV id rows and the prior profile.

Saved layout (`save(dir)`):

    dir/recsys.json          RecsysConfig, where the feature tables are, history,
                             the learned score's weights ("blend" and
                             "new_user_blend", when fitted)
    dir/weights/             TF checkpoint of the model's variables (its layout:
                             "format_version" in recsys.json, recsys/weights_format.py)
    dir/features/            the feature tables (unless they were saved elsewhere)

Example:

>>> trained = TrainedRecommender.load("runs/demo-.../recsys")       # doctest: +SKIP
>>> trained.predict_rating(np.array(["u1"]), np.array(["i3"]))      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.data.splits import tie_break_keys
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import history_buckets
from tfrec_sentiment.features.profile import SIGNALS
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import jsonable
from tfrec_sentiment.privacy.encryption import TableEncryption
from tfrec_sentiment.recsys.blend import BlendWeights, ValidationSet, fit_blend, fit_pooled
from tfrec_sentiment.recsys.build import build_model, build_model_variables
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.scoring import users_per_call
from tfrec_sentiment.recsys.serving import RecommenderServing
from tfrec_sentiment.recsys.weights_format import FORMAT, RETRAIN, restore_format_1


class TrainedRecommender:
    """A trained recommender and the feature tables it serves from.

    Args:
        model: the trained, built `RecommenderModel`.
        tables: the feature tables it was trained on (or grown from them).
        config: the RecsysConfig it was trained with.
        history: per-epoch training / validation metrics (Keras history).
        metrics: final validation metrics (e.g. {"val_rmse": ...}).
        blend: the learned score's fitted weights (`fit_blend`), or None.
        new_user_blend: its weights for new users scored from their reviews (fitted
            by `fit_new_user_blend`), or None (new users take `blend`).
    """

    def __init__(self, model: RecommenderModel, tables: FeatureTables, config: RecsysConfig,
                 history: dict | None = None, metrics: dict | None = None,
                 blend: BlendWeights | None = None,
                 new_user_blend: BlendWeights | None = None) -> None:
        self.model = model
        # A variant that reads no text does not get the text term of the similarity.
        self.tables = tables.for_variant(config.reads_review_text)
        self.config = config
        self.history = history or {}
        self.metrics = metrics or {}
        self.blend = blend
        self.new_user_blend = new_user_blend
        self._serving: RecommenderServing | None = None
        self._from_reviews = None  # the traced `components_from_reviews`

    @property
    def serving(self) -> RecommenderServing:
        """The `RecommenderServing` tf.Module (built on first use)."""
        if self._serving is None:
            self._serving = RecommenderServing(self.model, self.tables, self.config, self.blend,
                                               self.new_user_blend)
            self._from_reviews = None
        return self._serving

    def with_tables(self, tables: FeatureTables) -> TrainedRecommender:
        """The same model (and blend weights) serving other (e.g. grown) feature tables."""
        return TrainedRecommender(self.model, tables, self.config, self.history, self.metrics,
                                  self.blend, self.new_user_blend)

    def fit_blend(self, split, users_per_batch: int = 256) -> BlendWeights:
        """Fits the learned score's weights on `split.validation` (never `split.test`).

        Scores the raw components (`RecommenderServing.score_components`) of every
        validation user over the catalogue once, then `blend.fit_blend` picks each
        history bucket's weights (settings: `config.blend_*`; k and the liked
        threshold: `EvalConfig` defaults). Sets and returns `self.blend`; a split
        without validation rows keeps "retrieval only". The new users' weights are
        reset (they start from these): `fit_new_user_blend` fits them.

        Args:
            split: an object with `train` and `validation` frames (`user_id`,
                `item_id`, `rating`); only those two attributes are read.
        """
        settings, evaluation = self.config, EvalConfig()
        validation = getattr(split, "validation", None)
        self.new_user_blend = None
        if validation is None or len(validation) == 0:
            components = self.serving.components
            self.blend = BlendWeights.single("retrieval", components,
                                             settings.blend_history_bounds)
        else:
            catalogue = self.tables.ids["item"].astype(str)
            everyone = ValidationSet.build(split.train, validation, catalogue,
                                           evaluation.liked_min_rating)
            data = everyone.sample(self.blend_max_users())
            parts = self.components(data.users, catalogue, users_per_batch)
            parts.pop("history")  # the buckets come from `data.history` (the same counts)
            self.blend = fit_blend(parts, data, settings.blend_history_bounds,
                                   k=evaluation.k, steps=settings.blend_steps,
                                   min_users=settings.blend_min_users,
                                   rule=settings.blend_rule)
            if len(data.users) < len(everyone.users):
                self.blend.report["all"]["sampled_from"] = len(everyone.users)
        self._serving = None  # rebuilt with the new weights
        return self.blend

    def blend_max_users(self) -> int:
        """Validation users a weight fit ranks: `config.blend_max_scores` // catalogue
        items (at least `config.blend_min_users`), so that its time and memory grow with
        the catalogue, not with the users."""
        items = max(1, len(self.tables.ids["item"]))
        return max(self.config.blend_min_users, self.config.blend_max_scores // items)

    def fit_new_user_blend(self, split, users_per_batch: int = 256) -> BlendWeights:
        """Fits the weights of new users scored from their reviews (after `fit_blend`).

        Bucket b (lower bound n_b >= 1) is fitted with `blend.fit_pooled` on the
        validation users with at least n_b training reviews, each given n_b of them (by
        time, ties by `tie_break_keys`; the first n_b, or the latest with
        `config.new_user_given="latest"`) through the served new-user path
        (`components_from_reviews`), by `config.blend_rule`; a bucket with fewer than
        `config.blend_min_users` such users (but at least 2) by the one-SE rule (few
        users: the simplest point within one SE of the best); bucket "0" and a bucket
        with fewer than 2 keep `self.blend`'s row (`recsys.blend`). Only the export
        needs it (`train_recommender(fit_new_users=True)`); sets `self.new_user_blend`.

        Args:
            split: `train` (the rows the tables were built from, in their order:
                `user_id`, `item_id`, `rating`, `timestamp`) and `validation`; only
                those two attributes are read.

        Raises:
            ValueError: `fit_blend` has not run (`self.blend` is None).
        """
        if self.blend is None:
            raise ValueError("fit_new_user_blend: fit the known users' blend first (fit_blend)")
        settings, evaluation = self.config, EvalConfig()
        blend = self.blend
        fitted = BlendWeights(blend.components, blend.bounds, blend.weights.copy())
        validation = getattr(split, "validation", None)
        if validation is None or len(validation) == 0:
            fitted.report = {label: {"users": 0, "source": "as known users"}
                             for label in fitted.labels}
            self.new_user_blend, self._serving = fitted, None
            return fitted
        train = split.train
        data = ValidationSet.build(train, validation, self.tables.ids["item"].astype(str),
                                   evaluation.liked_min_rating).sample(self.blend_max_users())
        user = pd.Index(data.users).get_indexer(train["user_id"].astype(str).to_numpy())
        own = np.flatnonzero(user >= 0)  # validation users' rows: by user, then time
        order = own[np.lexsort((tie_break_keys(train.iloc[own]),
                                train["timestamp"].to_numpy(np.int64)[own], user[own]))]
        position = pd.Series(user[order]).groupby(user[order]).cumcount().to_numpy()
        if settings.new_user_given == "latest":  # counted from each user's last review
            position = np.bincount(user[order])[user[order]] - 1 - position
        for b, (label, low, _) in enumerate(history_buckets(blend.bounds)):
            eligible = data.history >= max(low, 1)
            count = int(eligible.sum()) if low >= 1 else 0
            if low < 1 or count < 2:
                fitted.report[label] = {"users": count, "given": low,
                                        "source": "as known users"}
                continue
            few = count < settings.blend_min_users
            rule = "one_se" if few else settings.blend_rule
            rows = order[(position < low) & eligible[user[order]]]
            subset = data.subset(eligible)
            parts = self.components_from_reviews(
                rows, np.cumsum(eligible)[user[rows]] - 1, count, users_per_batch)
            # fit_pooled returns weights in its mapping's order: the blend's, by name (the
            # served path builds its dict in another order).
            parts = {name: parts[name] for name in blend.components}
            fitted.weights[b], info = fit_pooled(parts, subset, k=evaluation.k,
                                                 steps=settings.blend_steps, rule=rule)
            source = f"fitted ({settings.new_user_given} reviews{', few users' if few else ''})"
            fitted.report[label] = {**info, "given": low, "rule": rule, "source": source}
        self.new_user_blend, self._serving = fitted, None  # served with the new weights
        return fitted

    def components_from_reviews(self, rows: np.ndarray, segment: np.ndarray, num_users: int,
                                users_per_batch: int = 256) -> dict[str, np.ndarray]:
        """Components {name: float64 [G, I]} (and "history" int [G]) of G new users given
        training reviews `rows` (int [N], time order within a user; segment int [N]: the
        user 0..G-1 of each), through the served new-user path, dated at the end of
        training and without helpful votes (as `recommend_from_reviews` dates them).

        The reviews' sentiment and text come from the tables' own rows (`rows` index the
        training rows the tables were built from).
        """
        serving, own, text_dim = self.serving, self.tables.rows, self.tables.profile.text_dim
        if self._from_reviews is None:
            specs = [tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None], tf.float32),
                     tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int64),
                     tf.TensorSpec([None, text_dim], tf.float32),
                     tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32),
                     tf.TensorSpec([None], tf.string)]
            self._from_reviews = tf.function(serving.components_from_reviews,
                                             input_signature=specs)
        columns = [SIGNALS.index(name) for name in ("p_negative", "p_neutral", "p_positive")]
        signals = own["signals"]
        items = self.tables.ids["item"].astype(str)[own["item_index"]]
        end = int(own["timestamp"].max()) if len(own["timestamp"]) else 0
        rows, segment = np.asarray(rows, np.int64), np.asarray(segment, np.int64)
        out: dict[str, list] = {}
        users_per_batch = users_per_call(len(self.tables.ids["item"]), users_per_batch)
        for first in range(0, num_users, users_per_batch):
            inside = (segment >= first) & (segment < first + users_per_batch)
            picked, users = rows[inside], min(users_per_batch, num_users - first)
            n = len(picked)
            text = (own["text"][picked] if "text" in own and text_dim
                    else np.zeros([n, text_dim], np.float32))
            part = self._from_reviews(
                tf.constant(signals[picked][:, columns], tf.float32),
                tf.constant(own["rating"][picked], tf.float32), tf.zeros([n]),
                tf.fill([n], tf.constant(end, tf.int64)), tf.constant(text, tf.float32),
                tf.constant(segment[inside] - first, tf.int32),
                tf.constant(users, tf.int32), tf.constant(items[picked]))
            for name, value in part.items():
                out.setdefault(name, []).append(value.numpy())
        return {name: np.concatenate(v).astype(np.int64 if name == "history" else np.float64)
                for name, v in out.items()}

    def components(self, user_ids: np.ndarray, item_ids: np.ndarray,
                   users_per_batch: int = 256) -> dict[str, np.ndarray]:
        """Raw learned-score components {name: float64 [U, I]} and "history" int [U]."""
        users, items = _as_ids(user_ids), tf.constant(_as_ids(item_ids))
        names = (*self.serving.components, "history")
        step = users_per_call(len(item_ids), users_per_batch)  # bounded pairs per call
        out: dict[str, list] = {name: [] for name in names}
        for s in range(0, len(users), step):
            part = self.serving.score_components(tf.constant(users[s:s + step]), items)
            for name in names:
                out[name].append(part[name].numpy())
        return {name: (np.concatenate(v) if v else np.zeros([0, len(item_ids)])).astype(
            np.float64 if name != "history" else np.int64) for name, v in out.items()}

    # --- the EVAL protocol -----------------------------------------------------------------

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray,
                       batch_size: int = 8192) -> np.ndarray:
        """Predicted stars for each (user, item) pair.

        Args:
            user_ids: str [N]; item_ids: str [N].

        Returns:
            float32 [N] in [1, 5].
        """
        users, items = _as_ids(user_ids), _as_ids(item_ids)
        if len(users) != len(items):
            raise ValueError(f"{len(users)} user ids but {len(items)} item ids")
        out = [
            self.serving.rank(tf.constant(users[s:s + batch_size]),
                              tf.constant(items[s:s + batch_size]))["predicted_rating"].numpy()
            for s in range(0, len(users), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros([0], np.float32)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray,
                    users_per_batch: int = 256) -> np.ndarray:
        """Scores of every user x item pair, by `config.score_mode`.

        Args:
            user_ids: str [U]; item_ids: str [I] (any items, known or not).

        Returns:
            float32 [U, I]; higher = recommend first.
        """
        users, items = _as_ids(user_ids), tf.constant(_as_ids(item_ids))
        step = users_per_call(len(item_ids), users_per_batch)
        out = [self.serving.score_items(tf.constant(users[s:s + step]), items).numpy()
               for s in range(0, len(users), step)]
        return np.concatenate(out) if out else np.zeros([0, len(item_ids)], np.float32)

    # --- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path, encryption: TableEncryption | None = None) -> Path:
        """Writes recsys.json, weights/ and, unless saved already, features/ (`encryption`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.tables.path is None or not (Path(self.tables.path) / "features.json").exists():
            self.tables.save(directory / "features", encryption)
        self.model.save_weights(str(directory / "weights" / "model"))
        meta = {
            "format_version": FORMAT,
            "config": dataclasses.asdict(self.config),
            "tables": os.path.relpath(Path(self.tables.path).resolve(), directory.resolve()),
            "history": jsonable(self.history),
            "metrics": jsonable(self.metrics),
            "blend": self.blend.to_dict() if self.blend is not None else None,
            "new_user_blend": (self.new_user_blend.to_dict()
                               if self.new_user_blend is not None else None),
        }
        (directory / "recsys.json").write_text(json.dumps(meta, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, tables: FeatureTables | None = None,
             encryption: TableEncryption | None = None) -> TrainedRecommender:
        """Rebuilds the model from recsys.json + the tables (encrypted ones read with
        `encryption`, `tfrec_sentiment.privacy`), then restores the weights."""
        directory = Path(directory)
        meta = json.loads((directory / "recsys.json").read_text())
        version = meta.get("format_version")
        if version not in (1, FORMAT):
            raise ValueError(f"{directory / 'recsys.json'}: format_version {version!r}, but "
                             f"this version reads 1 and {FORMAT}: {RETRAIN}")
        config = RecsysConfig(**{
            k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
        tables = tables or FeatureTables.load(directory / meta["tables"], encryption)
        model = build_model(config, tables)
        build_model_variables(model, tables, config)
        prefix = str(directory / "weights" / "model")
        if version == 1:  # the towers' earlier layout
            restore_format_1(model, prefix)
        else:
            model.load_weights(prefix).expect_partial()
        blend = BlendWeights.from_dict(meta["blend"]) if meta.get("blend") else None
        new_user_blend = (BlendWeights.from_dict(meta["new_user_blend"])
                          if meta.get("new_user_blend") else None)
        return cls(model, tables, config, meta.get("history"), meta.get("metrics"), blend,
                   new_user_blend)


def _as_ids(ids: np.ndarray) -> np.ndarray:
    return np.asarray(ids, dtype=object).astype(str)
