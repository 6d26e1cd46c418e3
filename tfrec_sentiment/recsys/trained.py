"""`TrainedRecommender`: a trained model + its feature tables, behind the EVAL protocol.

    predict_rating(user_ids [N], item_ids [N]) -> float [N]   (stars, clipped to 1..5)
    score_items(user_ids [U], item_ids [I])    -> float [U, I] (higher = recommend first)

Both run through `RecommenderServing`'s tf.functions, i.e. exactly the graph the
export serves. Features are the full training-period aggregates; unknown users and
items get the OOV id rows and the prior profile.

Saved layout (`save(dir)`):

    dir/recsys.json          RecsysConfig, where the feature tables are, history,
                             the learned score's weights ("blend", when fitted)
    dir/weights/             TF checkpoint of the model's variables
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

from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import jsonable
from tfrec_sentiment.recsys.blend import BlendWeights, ValidationSet, fit_blend
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import select_inputs
from tfrec_sentiment.recsys.model import RecommenderModel, build_model
from tfrec_sentiment.recsys.serving import RecommenderServing

_FORMAT_VERSION = 1


class TrainedRecommender:
    """A trained recommender and the feature tables it serves from.

    Args:
        model: the trained, built `RecommenderModel`.
        tables: the feature tables it was trained on (or grown from them).
        config: the RecsysConfig it was trained with.
        history: per-epoch training / validation metrics (Keras history).
        metrics: final validation metrics (e.g. {"val_rmse": ...}).
        blend: the learned score's fitted weights (`fit_blend`), or None.
    """

    def __init__(self, model: RecommenderModel, tables: FeatureTables, config: RecsysConfig,
                 history: dict | None = None, metrics: dict | None = None,
                 blend: BlendWeights | None = None) -> None:
        self.model = model
        self.tables = tables
        self.config = config
        self.history = history or {}
        self.metrics = metrics or {}
        self.blend = blend
        self._serving: RecommenderServing | None = None

    @property
    def serving(self) -> RecommenderServing:
        """The `RecommenderServing` tf.Module (built on first use)."""
        if self._serving is None:
            self._serving = RecommenderServing(self.model, self.tables, self.config, self.blend)
        return self._serving

    def with_tables(self, tables: FeatureTables) -> TrainedRecommender:
        """The same model (and blend weights) serving other (e.g. grown) feature tables."""
        return TrainedRecommender(self.model, tables, self.config, self.history, self.metrics,
                                  self.blend)

    def fit_blend(self, split, users_per_batch: int = 256) -> BlendWeights:
        """Fits the learned score's weights on `split.validation` (never `split.test`).

        Scores the raw components (`RecommenderServing.score_components`) of every
        validation user over the catalogue once, then `blend.fit_blend` picks each
        history bucket's weights (settings: `config.blend_*`; k and the liked
        threshold: `EvalConfig` defaults). Sets and returns `self.blend`; a split
        without validation rows keeps "retrieval only".

        Args:
            split: an object with `train` and `validation` frames (`user_id`,
                `item_id`, `rating`); only those two attributes are read.
        """
        settings, evaluation = self.config, EvalConfig()
        validation = getattr(split, "validation", None)
        if validation is None or len(validation) == 0:
            components = self.serving.components
            self.blend = BlendWeights.single("retrieval", components,
                                             settings.blend_history_bounds)
        else:
            catalogue = self.tables.ids["item"].astype(str)
            data = ValidationSet.build(split.train, validation, catalogue,
                                       evaluation.liked_min_rating)
            parts = self.components(data.users, catalogue, users_per_batch)
            parts.pop("history")  # the buckets come from `data.history` (the same counts)
            self.blend = fit_blend(parts, data, settings.blend_history_bounds,
                                   k=evaluation.k, steps=settings.blend_steps,
                                   min_users=settings.blend_min_users,
                                   rule=settings.blend_rule)
        self._serving = None  # rebuilt with the new weights
        return self.blend

    def components(self, user_ids: np.ndarray, item_ids: np.ndarray,
                   users_per_batch: int = 256) -> dict[str, np.ndarray]:
        """Raw learned-score components {name: float64 [U, I]} and "history" int [U]."""
        users, items = _as_ids(user_ids), tf.constant(_as_ids(item_ids))
        names = (*self.serving.components, "history")
        out: dict[str, list] = {name: [] for name in names}
        for s in range(0, len(users), users_per_batch):
            part = self.serving.score_components(tf.constant(users[s:s + users_per_batch]), items)
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
        out = [
            self.serving.score_items(tf.constant(users[s:s + users_per_batch]), items).numpy()
            for s in range(0, len(users), users_per_batch)
        ]
        return np.concatenate(out) if out else np.zeros([0, len(item_ids)], np.float32)

    # --- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Writes recsys.json, weights/ and, unless the tables are saved already, features/."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.tables.path is None or not (Path(self.tables.path) / "features.json").exists():
            self.tables.save(directory / "features")
        self.model.save_weights(str(directory / "weights" / "model"))
        meta = {
            "format_version": _FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "tables": os.path.relpath(Path(self.tables.path).resolve(), directory.resolve()),
            "history": jsonable(self.history),
            "metrics": jsonable(self.metrics),
            "blend": self.blend.to_dict() if self.blend is not None else None,
        }
        (directory / "recsys.json").write_text(json.dumps(meta, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, tables: FeatureTables | None = None) -> TrainedRecommender:
        """Rebuilds the model from recsys.json + the tables, then restores the weights."""
        directory = Path(directory)
        meta = json.loads((directory / "recsys.json").read_text())
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{directory / 'recsys.json'}: written by another version")
        config = RecsysConfig(**{
            k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
        tables = tables or FeatureTables.load(directory / meta["tables"])
        model = build_model(config, tables)
        build_model_variables(model, tables, config)
        model.load_weights(str(directory / "weights" / "model")).expect_partial()
        blend = BlendWeights.from_dict(meta["blend"]) if meta.get("blend") else None
        return cls(model, tables, config, meta.get("history"), meta.get("metrics"), blend)


def build_model_variables(model: RecommenderModel, tables: FeatureTables,
                          config: RecsysConfig) -> None:
    """Creates the model's variables by running it on one (known user, known item) pair."""
    pair = pd.DataFrame({"user_id": tables.ids["user"][:1], "item_id": tables.ids["item"][:1]})
    sample = select_inputs(tables.lookup_examples(pair), config)
    model({k: tf.constant(v) for k, v in sample.items()}, training=False)


def _as_ids(ids: np.ndarray) -> np.ndarray:
    return np.asarray(ids, dtype=object).astype(str)
