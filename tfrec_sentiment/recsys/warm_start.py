"""Warm start: a trained recommender grown onto new feature tables, then trained on.

A feedback update brings new reviews, and with them new users and items. Instead of
training from scratch, the update builds the same model over the refreshed tables
(whose id vocabularies hold the old ids and the new ones) and copies the parent's
weights in:

- every layer variable that does not depend on the vocabularies (fusion, text and
  profile projections, the rating head) is copied as it is;
- the id-indexed tables grow: the id embedding and the id bias tables of both towers
  (rows = OOV buckets + vocabulary), the item retrieval bias table, and the user
  tower's history item table (row 0 = padding, row j + 1 = item j). Rows are matched
  BY ID, so the order of the new vocabulary does not matter: an old id keeps its row
  values exactly; the OOV rows are copied; a NEW id's row starts as the copy of the
  OOV row the parent would have used for it, so before any training a new user or
  item is scored exactly as the parent scores an unknown one with the same features
  (its cold-start answer), and training moves it from there. A new item's history
  row keeps the fresh initialisation (the parent had no row for it).

The optimizer state is not carried over (a fresh Adam). The parent's profile prior,
normalisation statistics and global mean must be kept in the new tables, because
they are constants of the layers rather than weights: build them with
`refresh_tables`.

Example:

>>> new_tables = refresh_tables(parent.tables, train, probabilities, embeddings)  # doctest: +SKIP
>>> grown = grow_recommender(parent, new_tables)            # doctest: +SKIP
>>> trained = warm_start_recommender(parent, config, split, new_tables,
...                                  out_dir="runs/u/recsys")   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.recsys.build import build_model
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.train import train_recommender
from tfrec_sentiment.recsys.trained import TrainedRecommender, build_model_variables

SIDES = ("user", "item")
_KEEP = -1  # row map value: keep the new table's own (fresh) row


class WarmStartError(ValueError):
    """The parent's weights cannot be carried into the new model (names the variable)."""


@dataclasses.dataclass
class Growth:
    """How the vocabularies grew: per side, ids kept from the parent and ids added."""

    kept: dict[str, int]
    added: dict[str, int]

    def to_dict(self) -> dict:
        return {"kept": dict(self.kept), "added": dict(self.added)}


def refresh_tables(parent: FeatureTables, train: pd.DataFrame, probabilities: np.ndarray | None,
                   embeddings: np.ndarray | None) -> FeatureTables:
    """Feature tables of a grown training set that the parent's layers can read.

    Args:
        parent: the parent model's feature tables.
        train: the new training rows (canonical table; old and new reviews).
        probabilities: sentiment float [N, 3] aligned with `train` (None without sentiment).
        embeddings: text embeddings float [N, D] aligned with `train` (None without text).

    Returns:
        Tables whose sums, histories, popularity and rating calibration come from
        `train`, and whose profile prior, normalisation statistics and global mean
        are the parent's (the model's layers hold them as constants).
    """
    tables = build_feature_tables(train, probabilities, embeddings, parent.config,
                                  profile=parent.profile)
    return dataclasses.replace(tables, statistics=parent.statistics,
                               global_mean=parent.global_mean)


def grow_recommender(parent: TrainedRecommender, tables: FeatureTables,
                     config: RecsysConfig | None = None,
                     strategy: tf.distribute.Strategy | None = None) -> TrainedRecommender:
    """The parent's model rebuilt over `tables` with the parent's weights, untrained.

    Args:
        parent: the trained recommender to start from.
        tables: the refreshed feature tables (a superset of the parent's ids).
        config: the model config; default the parent's (architecture fields must
            match the parent's, training fields may differ).
        strategy: build the variables in this strategy's scope (default: current).

    Returns:
        A `TrainedRecommender` whose model has the grown vocabularies.
    """
    config = config or parent.config
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_model(config, tables)
        build_model_variables(model, tables, config)
        copy_parent_weights(parent, model, tables)
    return TrainedRecommender(model, tables, config)


def warm_start_recommender(parent: TrainedRecommender, config: RecsysConfig, split: Any,
                           tables: FeatureTables,
                           strategy: tf.distribute.Strategy | None = None,
                           out_dir: str | Path | None = None, seed: int = 0,
                           callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                           progress: bool = False) -> TrainedRecommender:
    """Trains the grown model on `split` (see `train_recommender` for the arguments).

    The model is built over `tables`, the parent's weights are copied in
    (`copy_parent_weights`), and `fit` continues from there with `config`'s
    epochs, learning rate and early stopping.

    Returns:
        The trained `TrainedRecommender`, with its growth in `metrics["growth"]`.
    """
    growth: list[Growth] = []

    def initialize(model: RecommenderModel) -> None:
        growth.append(copy_parent_weights(parent, model, tables))

    trained = train_recommender(config, split, tables, strategy, out_dir, seed=seed,
                                callbacks=callbacks, progress=progress, initialize=initialize,
                                fit_new_users=True)  # the candidate is what gets published
    trained.metrics["growth"] = growth[0].to_dict()
    return trained


def copy_parent_weights(parent: TrainedRecommender, model: RecommenderModel,
                        tables: FeatureTables) -> Growth:
    """Assigns the parent's weights to `model` (built over `tables`), growing id tables.

    Raises:
        WarmStartError: the two models differ in architecture (a variable's name or
            shape differs where rows are not matched by id).
    """
    old, new = parent.model, model
    row_maps: dict[Any, np.ndarray] = {}
    kept, added = {}, {}
    for side in SIDES:
        old_tower, new_tower = getattr(old, f"{side}_tower"), getattr(new, f"{side}_tower")
        rows = id_rows(old_tower, new_tower.vocabulary)
        for table in new_tower.embedding_tables() + new_tower.bias_tables():
            row_maps[table.ref()] = rows
        known = pd.Index(old_tower.vocabulary).get_indexer(new_tower.vocabulary) >= 0
        kept[side], added[side] = int(known.sum()), int((~known).sum())
        for table in new_tower.history_tables():
            row_maps[table.ref()] = history_rows(parent.tables.ids["item"], tables.ids["item"])
    for layer in ("user_tower", "item_tower", "rating_head"):
        _copy_layer(getattr(old, layer), getattr(new, layer), row_maps)
    return Growth(kept, added)


def id_rows(old_tower: tf.keras.layers.Layer, vocabulary: Sequence[str]) -> np.ndarray:
    """For each row of a grown id table, the parent table's row to copy.

    Args:
        old_tower: the parent's `UserTower` / `ItemTower` (vocabulary, StringLookup).
        vocabulary: the new tower's vocabulary [V'].

    Returns:
        int64 [oov + V']: the OOV rows map to themselves, a known id to its old row,
        a new id to the OOV row the parent's lookup gives it.
    """
    oov = old_tower.num_oov_buckets
    vocabulary = [str(v) for v in vocabulary]
    index = pd.Index(old_tower.vocabulary).get_indexer(vocabulary)
    rows = np.where(index >= 0, index + oov, 0).astype(np.int64)
    new = np.flatnonzero(index < 0)
    if len(new):
        lookup = old_tower.ids.lookup(tf.constant([vocabulary[i] for i in new]))
        rows[new] = np.asarray(lookup, np.int64)
    return np.concatenate([np.arange(oov, dtype=np.int64), rows])


def history_rows(old_items: np.ndarray, new_items: np.ndarray) -> np.ndarray:
    """Rows of a grown history item table: padding row 0, old items' rows, new = keep.

    Returns:
        int64 [len(new_items) + 1]; `_KEEP` (-1) where the new table keeps its own row.
    """
    index = pd.Index(np.asarray(old_items).astype(str)).get_indexer(
        np.asarray(new_items).astype(str))
    return np.concatenate([[0], np.where(index >= 0, index + 1, _KEEP)]).astype(np.int64)


def _copy_layer(old: tf.keras.layers.Layer, new: tf.keras.layers.Layer,
                row_maps: dict[Any, np.ndarray]) -> None:
    if len(old.variables) != len(new.variables):
        raise WarmStartError(
            f"{new.name}: the parent has {len(old.variables)} variables, the new model "
            f"{len(new.variables)}; warm start needs the same architecture")
    for source, target in zip(old.variables, new.variables):
        if _short_name(source) != _short_name(target):
            raise WarmStartError(f"variable {target.name} does not match the parent's "
                                 f"{source.name}")
        rows = row_maps.get(target.ref())
        values = source.numpy()
        if rows is not None:
            fresh = target.numpy()
            values = np.where((rows >= 0)[:, None], values[np.maximum(rows, 0)], fresh)
        elif source.shape != target.shape:
            raise WarmStartError(f"variable {target.name} has shape {target.shape}, the "
                                 f"parent's {source.shape}; only id tables may grow")
        target.assign(values.astype(target.dtype.as_numpy_dtype))


def _short_name(variable: tf.Variable) -> str:
    # Two model objects differ in Keras's uniquifying suffixes ("recommender_model_1",
    # "dense_3"), not in the layer path; compare the path without them.
    path = variable.name.split("/", 1)[-1]
    return re.sub(r"_\d+(?=/|:)", "", path)
