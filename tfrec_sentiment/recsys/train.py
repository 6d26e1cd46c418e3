"""Training the recommender: tf.data in, `model.fit` under a distribution strategy.

    trained = train_recommender(config, split, tables, strategy, out_dir, seed)

- Examples: leave-one-out training examples from the feature tables; validation
  rows get the full training-period features (`FeatureTables.lookup_examples`).
- Distribution: build and compile inside `strategy.scope()`; the global batch is
  `config.batch_size`, split over `strategy.num_replicas_in_sync` replicas
  (in-batch negatives are per replica: with 2 replicas each softmax sees half the
  batch).
- Checkpoints: `out_dir/checkpoints/backup` (`BackupAndRestore`: an interrupted
  run started again with the same out_dir resumes from its last finished epoch;
  `out_dir/checkpoints/history.json` keeps the finished epochs' logs, so the resumed
  run's history and curves hold every epoch, the earlier ones from the first run),
  early stopping on `config.monitor` restoring the best weights, TensorBoard logs in
  `out_dir/tensorboard`, a tqdm progress bar with `progress=True`.
- Output: `out_dir/recsys.json`, `out_dir/weights/`, `out_dir/metrics.json`.

Example:

>>> from tfrec_sentiment.distribute.strategy import make_strategy
>>> strategy = make_strategy("mirrored", replicas=2)                       # doctest: +SKIP
>>> trained = train_recommender(RecsysConfig(), split, tables, strategy,
...                             out_dir="runs/x/recsys", seed=0)            # doctest: +SKIP
>>> ratings = trained.predict_rating(split.test.user_id, split.test.item_id)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_sentiment.distribute.multi_worker import (
    is_chief,
    remove_worker_write_dir,
    worker_write_dir,
)
from tfrec_sentiment.evaluation.metrics import (
    DEFAULT_MAX_ELEMENTS,
    EXCLUDED,
    Ranking,
    batch_pairs,
)
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import atomic_write
from tfrec_sentiment.recsys.bias_init import initialize_biases
from tfrec_sentiment.recsys.build import build_model, make_optimizer
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import make_dataset, select_inputs
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.serving import score_matrix
from tfrec_sentiment.recsys.trained import TrainedRecommender, build_model_variables

# Monitors named "val_ndcg_at_<k>" are computed by `RankingMonitor`.
RANKING_MONITOR_PREFIX = "val_ndcg_at_"
# Per-epoch logs of an unfinished run, beside its backup (see `EpochHistoryBackup`).
HISTORY_FILE = "history.json"


def train_recommender(
    config: RecsysConfig,
    split: Any,
    tables: FeatureTables,
    strategy: tf.distribute.Strategy | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    callbacks: Sequence[tf.keras.callbacks.Callback] = (),
    progress: bool = False,
    *,
    initialize: Callable[[RecommenderModel], None] | None = None,
    fit_new_users: bool = False,
) -> TrainedRecommender:
    """Trains the TFRS recommender and returns it behind the EVAL protocol.

    Args:
        config: model, loss and training settings (variant = ablation switch).
        split: an object with `train` and `validation` canonical frames (e.g.
            `tfrec_sentiment.data.splits.Split`); `validation` may be None or empty
            (then no early stopping). `tables` must have been built from `train`.
        tables: `build_feature_tables(split.train, probabilities, embeddings)`.
        strategy: a `tf.distribute.Strategy` (default: the current one).
        out_dir: run folder for checkpoints, TensorBoard logs, weights and metrics;
            None keeps everything in memory (no resume).
        seed: seeds weights, dropout and the shuffle order.
        callbacks: extra Keras callbacks (appended after the built-in ones).
        progress: show a tqdm progress bar per epoch.
        initialize: called in the strategy's scope once the model's variables
            exist, INSTEAD of the closed-form bias start (`config.bias_init`); e.g.
            `recsys.warm_start` copies a parent model's weights in. A backup in
            `out_dir` (an interrupted run) still wins: it is restored by `fit`.
        fit_new_users: with score mode "learned", also fit the weights of new users
            scored from their reviews (`TrainedRecommender.fit_new_user_blend`): the
            model that is exported needs them, the ablation's others do not.

    Under a multi-worker strategy `out_dir` must be the same shared folder on every
    worker (all of them restore from its backup); the chief writes the outputs,
    the other workers write a temporary folder that is then removed.

    Returns:
        TrainedRecommender (saved to `out_dir` when given).
    """
    strategy = strategy or tf.distribute.get_strategy()
    train = getattr(split, "train", None)
    if train is not None and len(train) != len(tables.rows["rating"]):
        raise ValueError(
            f"tables were built from {len(tables.rows['rating'])} training rows but "
            f"split.train has {len(train)}: build the tables from this split")
    config = fit_batch_size(config, len(tables.rows["rating"]))
    tf.keras.utils.set_random_seed(seed)
    train_ds = make_dataset(tables.training_examples(), config, training=True, seed=seed)
    validation = getattr(split, "validation", None)
    val_ds = None
    if validation is not None and len(validation):
        val_ds = make_dataset(tables.lookup_examples(validation), config, training=False,
                              batch_size=4 * config.batch_size)
    out_dir = Path(out_dir) if out_dir is not None else None
    with strategy.scope():
        model = build_model(config, tables)
        build_model_variables(model, tables, config)
        if initialize is not None:
            initialize(model)
        elif config.bias_init:
            initialize_biases(model, tables, config.bias_l2)
        model.compile(optimizer=make_optimizer(config),
                      steps_per_execution=config.steps_per_execution)
        # Built before `fit` (zero slots, as the first step would make them): variables
        # created inside the first train step make tf.function trace it twice.
        model.optimizer.build(model.trainable_variables)
        if val_ds is not None and _topk_in_training(config):
            model.set_topk_candidates(catalogue_inputs(tables, config))
        if config.retrieval_candidates == "catalogue":
            model.set_retrieval_catalogue(catalogue_inputs(tables, config))
    all_callbacks = _callbacks(config, model, tables, out_dir, val_ds is not None, progress,
                               validation, strategy)
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
                        callbacks=[*all_callbacks, *callbacks])
    kept = next((c for c in all_callbacks if isinstance(c, EpochHistoryBackup)), None)
    epochs = kept.merged(history.history) if kept is not None else history.history
    metrics = {"train_seconds": time.perf_counter() - start,
               "epochs_run": len(epochs.get("total_loss", [])),
               "replicas": strategy.num_replicas_in_sync}
    if kept is not None and kept.first_epoch:
        metrics["resumed_from_epoch"] = kept.first_epoch
    if val_ds is not None:
        metrics.update(evaluate_model(model, val_ds, tables, config, strategy))
    trained = TrainedRecommender(model, tables, config, epochs, metrics)
    if config.score_mode == "learned" and train is not None:
        trained.fit_blend(split)  # recsys.blend: weights chosen on the validation part only
        if fit_new_users:
            trained.fit_new_user_blend(split)
    if out_dir is not None:
        # Every worker saves (reading some variables all-reduces); only the chief keeps it.
        write_dir = worker_write_dir(out_dir, strategy)
        trained.save(write_dir)
        (write_dir / "metrics.json").write_text(json.dumps(trained.metrics, indent=1) + "\n")
        remove_worker_write_dir(out_dir, strategy)
    return trained


def fit_batch_size(config: RecsysConfig, num_examples: int) -> RecsysConfig:
    """`config`, with the batch size lowered to the largest power of two that fits
    `num_examples` when the data are smaller than one batch (training drops partial
    batches, so none would be left); says so in a warning.

    Example:
        >>> fit_batch_size(RecsysConfig(batch_size=256), 98).batch_size  # doctest: +SKIP
        64
    """
    if num_examples >= config.batch_size:
        return config
    if num_examples < 2:
        raise ValueError(f"{num_examples} training example(s): too few to train on")
    batch = 2 ** int(np.log2(num_examples))
    warnings.warn(f"batch size {config.batch_size} lowered to {batch}: only {num_examples} "
                  "training examples", stacklevel=2)
    return dataclasses.replace(config, batch_size=batch)


def evaluate_model(model: RecommenderModel, dataset: tf.data.Dataset, tables: FeatureTables,
                   config: RecsysConfig, strategy: tf.distribute.Strategy,
                   topk: bool = True) -> dict[str, float]:
    """Keras evaluation (losses, RMSE/MAE, and FactorizedTopK hit rates if `topk`).

    Returns:
        metric name -> value, names prefixed "val_" (e.g. "val_rmse",
        "val_factorized_top_k/top_10_categorical_accuracy").
    """
    with strategy.scope():
        model.set_topk_candidates(catalogue_inputs(tables, config) if topk else None)
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    with strategy.scope():
        model.set_topk_candidates(None)
    return {f"val_{k}": float(v) for k, v in results.items()}


def catalogue_inputs(tables: FeatureTables, config: RecsysConfig) -> dict[str, tf.Tensor]:
    """Item tower inputs (full training-period features) of every known item."""
    items = tables.ids["item"]
    frame = pd.DataFrame({"user_id": [""] * len(items), "item_id": items})
    examples = select_inputs(tables.lookup_examples(frame, sides=("item",)), config)
    return {k: tf.constant(v) for k, v in examples.items() if k.startswith("item_")}


class TopKRefresh(tf.keras.callbacks.Callback):
    """Re-indexes the FactorizedTopK candidates before each validation pass.

    The item embeddings change while training, so the brute-force index built
    before `fit` would score stale candidates.
    """

    def __init__(self, item_inputs: dict[str, tf.Tensor]) -> None:
        super().__init__()
        self.item_inputs = item_inputs

    def on_test_begin(self, logs: dict | None = None) -> None:
        self.model.refresh_topk_candidates(self.item_inputs)


class RankingMonitor(tf.keras.callbacks.Callback):
    """Validation NDCG@k over the full catalogue, as the evaluation stage measures it.

    After every epoch it scores each validation user against every catalogue item
    with the configured score mode (`serving.score_matrix`), leaves out the user's
    training items, and writes the mean NDCG@k of the validation items into the
    epoch's logs as "val_ndcg_at_<k>" (e.g. "val_ndcg_at_10"), for early
    stopping and TensorBoard. (The FactorizedTopK hit rate ranks the training items
    too, which the evaluation never does.)

    Memory is bounded as in `evaluation.evaluate`: users are ranked `max_elements // I`
    at a time, and the relevant and excluded items are kept as sorted (user, item)
    pairs, never as dense [users, items] masks.

    Args:
        tables: the feature tables the model trains on.
        config: the RecsysConfig (input groups, score mode).
        validation: validation rows (`user_id`, `item_id`); items outside the
            catalogue are dropped.
        k: the cut-off.
        max_elements: scores held in memory at once.
    """

    def __init__(self, tables: FeatureTables, config: RecsysConfig, validation: pd.DataFrame,
                 k: int = 10, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        super().__init__()
        self.config = config
        self.k = int(k)
        self.max_elements = int(max_elements)
        self.key = f"{RANKING_MONITOR_PREFIX}{self.k}"
        n_items = len(tables.ids["item"])
        item = tables.index_of("item", validation["item_id"].to_numpy())
        users, position = np.unique(np.asarray(validation["user_id"], str)[item >= 0],
                                    return_inverse=True)
        frame = pd.DataFrame({"user_id": users, "item_id": tables.ids["item"][0]})
        inputs = select_inputs(tables.lookup_examples(frame, sides=("user",)), config)
        self.user_inputs = {k: v for k, v in inputs.items() if k.startswith("user_")}
        self.item_inputs = catalogue_inputs(tables, config)
        # Each training row's validation-user position (-1: not a validation user);
        # validation users unknown to training (a time cut-off has many) own no rows.
        seen = tables.index_of("user", users)
        position_of = np.full(len(tables.ids["user"]), -1)
        position_of[seen[seen >= 0]] = np.flatnonzero(seen >= 0)
        owner = position_of[tables.rows["user_index"]]
        rows = owner >= 0
        excluded = np.unique(owner[rows].astype(np.int64) * n_items
                             + tables.rows["item_index"][rows])
        relevant = np.unique(position.astype(np.int64) * n_items + item[item >= 0])
        relevant = relevant[~np.isin(relevant, excluded, assume_unique=True)]
        self.excluded = np.stack(np.divmod(excluded, n_items), 1)  # int [P, 2], sorted
        self.relevant = np.stack(np.divmod(relevant, n_items), 1)
        self.num_users = len(users)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs[self.key] = self.ndcg()

    def ndcg(self) -> float:
        """Mean NDCG@k of the validation users with a relevant item."""
        model = self.model
        item = model.item_tower(self.item_inputs, training=False)
        n_items = int(item["bias"].shape[0])
        batch = max(1, self.max_elements // n_items)
        ndcg = []
        for begin in range(0, self.num_users, batch):
            end = min(begin + batch, self.num_users)
            relevant = batch_pairs(self.relevant, begin, end)
            if not len(relevant):
                continue
            user = model.user_tower({k: v[begin:end] for k, v in self.user_inputs.items()},
                                    training=False)
            scores = score_matrix(model, user, item, self.config.score_mode,
                                  self.config.score_blend).numpy().astype(np.float64)
            drop = batch_pairs(self.excluded, begin, end)
            scores[drop[:, 0], drop[:, 1]] = EXCLUDED
            ndcg.append(Ranking(scores, self.k).metrics(relevant).ndcg)
        values = np.concatenate(ndcg) if ndcg else np.array([np.nan])
        return float(np.nanmean(values))


class EpochHistoryBackup(tf.keras.callbacks.Callback):
    """Keeps the finished epochs' logs in a file, so a resumed run's history is whole.

    `BackupAndRestore` restores the weights and the epoch counter of an interrupted
    run, but Keras' `History` of the resumed `fit` starts empty at the restored
    epoch. This callback writes every finished epoch's logs to `path` (a JSON list,
    one dict per epoch, replaced atomically); when `fit` starts at epoch E > 0 it
    keeps the stored epochs 0..E-1, and `merged` prepends them to the new history.
    An epoch backed up but not logged (a crash between the two writes) reads as NaN.
    The file is removed when training ends normally, like the backup.

    Place it after the callbacks that add to the logs (`RankingMonitor`).

    Args:
        path: the JSON file (e.g. `out_dir/checkpoints/history.json`); None keeps
            the logs in memory only (no resume: a worker that does not write).

    Example:
        >>> kept = EpochHistoryBackup(None)
        >>> kept.earlier, kept.first_epoch = [{"loss": 0.9}], 1
        >>> kept.merged({"loss": [0.5]})
        {'loss': [0.9, 0.5]}
    """

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else None
        self.earlier: list[dict] = []
        self.epochs: list[dict] = []
        self.first_epoch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.first_epoch = None
        self.earlier, self.epochs = [], []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.first_epoch is not None:
            return
        self.first_epoch = int(epoch)
        stored = _read_history(self.path)[:epoch] if epoch else []
        self.earlier = stored + [{}] * (epoch - len(stored))
        self.epochs = list(self.earlier)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        record = {k: float(np.mean(v)) for k, v in (logs or {}).items()}
        self.epochs[epoch:] = [record]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self.epochs) + "\n")

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def merged(self, history: dict[str, list]) -> dict[str, list]:
        """`history` (this `fit`'s, metric -> per-epoch values) with the earlier
        epochs in front; a metric an earlier epoch lacks is NaN there."""
        if not self.earlier:
            return dict(history)
        keys = dict.fromkeys([*history, *(k for epoch in self.earlier for k in epoch)])
        return {key: [epoch.get(key, math.nan) for epoch in self.earlier]
                + list(history.get(key, [])) for key in keys}


def _read_history(path: Path | None) -> list[dict]:
    if path is None or not path.is_file():
        return []
    try:
        epochs = json.loads(path.read_text())
    except (OSError, ValueError):
        warnings.warn(f"{path}: unreadable; the epochs before the resumed one read as NaN "
                      "in the history", stacklevel=2)
        return []
    return [dict(epoch) for epoch in epochs] if isinstance(epochs, list) else []


class EpochTimer(tf.keras.callbacks.Callback):
    """Records each epoch's wall time in `seconds` (the benchmarks' throughput clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)


class TqdmProgress(tf.keras.callbacks.Callback):
    """One tqdm bar per epoch over its steps, showing the running loss."""

    def __init__(self, steps: int, epochs: int) -> None:
        super().__init__()
        self.steps = steps
        self.epochs = epochs
        self.bar = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.bar = tqdm(total=self.steps, desc=f"recsys epoch {epoch + 1}/{self.epochs}",
                        unit="batch", leave=False)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)
        if logs and "total_loss" in logs:
            self.bar.set_postfix(loss=f"{float(np.mean(logs['total_loss'])):.4f}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.close()
        summary = {k.replace("factorized_top_k/top_", "hit@").replace("_categorical_accuracy", ""):
                   round(float(v), 4) for k, v in (logs or {}).items()
                   if k in ("total_loss", "rmse", "val_rmse", "val_total_loss")
                   or k.startswith(RANKING_MONITOR_PREFIX)
                   or "top_10_" in k}
        tqdm.write(f"recsys epoch {epoch + 1}: {summary}")


def _callbacks(config: RecsysConfig, model: RecommenderModel, tables: FeatureTables,
               out_dir: Path | None, has_validation: bool, progress: bool,
               validation: pd.DataFrame | None = None,
               strategy: tf.distribute.Strategy | None = None,
               ) -> list[tf.keras.callbacks.Callback]:
    callbacks: list[tf.keras.callbacks.Callback] = []
    if out_dir is not None:
        # First, so that a later callback's crash still finds the epoch backed up.
        callbacks.append(tf.keras.callbacks.BackupAndRestore(
            str(out_dir / "checkpoints" / "backup")))
    monitor = config.monitor
    if has_validation and monitor.startswith(RANKING_MONITOR_PREFIX):
        # Before TensorBoard and early stopping, which read its metric from the logs.
        k = int(monitor[len(RANKING_MONITOR_PREFIX):])
        ranking = RankingMonitor(tables, config, validation, k=k)
        if ranking.relevant.any():
            callbacks.append(ranking)
        else:  # no validation item is in the catalogue: NDCG is undefined
            warnings.warn(f"early stopping on val_rmse instead of {monitor}: no validation "
                          "user has a validation item among the training items", stacklevel=2)
            monitor = "val_rmse"
    if out_dir is not None:
        callbacks.append(tf.keras.callbacks.TensorBoard(
            str(out_dir / "tensorboard"), write_graph=False, profile_batch=0))
    if has_validation:
        if _topk_in_training(config):
            callbacks.append(TopKRefresh(catalogue_inputs(tables, config)))
        callbacks.append(tf.keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min" if _lower_is_better(monitor) else "max",
            patience=config.early_stopping_patience, restore_best_weights=True))
    if out_dir is not None:
        # After RankingMonitor, whose metric joins the logs; only the chief writes.
        writes = is_chief(strategy or tf.distribute.get_strategy())
        callbacks.append(EpochHistoryBackup(
            out_dir / "checkpoints" / HISTORY_FILE if writes else None))
    if progress:
        steps = len(tables.rows["rating"]) // config.batch_size
        callbacks.append(TqdmProgress(steps, config.epochs))
    return callbacks


def _topk_in_training(config: RecsysConfig) -> bool:
    return config.topk_metrics_in_training or "factorized_top_k" in config.monitor


def _lower_is_better(monitor: str) -> bool:
    return not any(word in monitor for word in ("accuracy", "top_", "auc", "ndcg"))
