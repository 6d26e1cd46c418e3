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

The callbacks are `callbacks.py` (re-exported here, as is `data.catalogue_inputs`).

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
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.data.splits import user_sample_mask
from tfrec_sentiment.distribute.multi_worker import (
    is_chief,
    remove_worker_write_dir,
    worker_write_dir,
)
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.recsys.bias_init import initialize_biases
from tfrec_sentiment.recsys.build import build_model, make_optimizer
from tfrec_sentiment.recsys.callbacks import (
    RANKING_MONITOR_PREFIX,
    EpochHistoryBackup,
    EpochTimer,
    RankingMonitor,
    TopKRefresh,
    TqdmProgress,
)
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import catalogue_inputs, make_dataset
from tfrec_sentiment.recsys.model import RecommenderModel
from tfrec_sentiment.recsys.trained import TrainedRecommender, build_model_variables
from tfrec_sentiment.recsys.weights_format import check_backup

# Per-epoch logs of an unfinished run, beside its backup (see `EpochHistoryBackup`).
HISTORY_FILE = "history.json"


__all__ = ["HISTORY_FILE", "RANKING_MONITOR_PREFIX", "EpochHistoryBackup", "EpochTimer",
           "RankingMonitor", "TopKRefresh", "TqdmProgress", "catalogue_inputs",
           "evaluate_model", "fit_batch_size", "train_recommender"]


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
        progress: show one tqdm progress bar over every epoch's batches (`TqdmProgress`).
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
    tables = tables.for_variant(config.reads_review_text)
    train = getattr(split, "train", None)
    if train is not None and len(train) != len(tables.rows["rating"]):
        raise ValueError(
            f"tables were built from {len(tables.rows['rating'])} training rows but "
            f"split.train has {len(train)}: build the tables from this split")
    config = fit_batch_size(config, len(tables.rows["rating"]))
    tf.keras.utils.set_random_seed(seed)
    train_ds = make_dataset(tables.training_examples(), config, training=True, seed=seed,
                            consume=True)
    validation = getattr(split, "validation", None)
    val_ds = None
    if validation is not None and len(validation):
        val_ds = make_dataset(tables.lookup_examples(validation), config, training=False,
                              batch_size=4 * config.batch_size, consume=True)
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
        metrics.update(_validation_metrics(model, val_ds, validation, tables, config, strategy))
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


def _validation_metrics(model: RecommenderModel, dataset: tf.data.Dataset,
                        validation: pd.DataFrame, tables: FeatureTables, config: RecsysConfig,
                        strategy: tf.distribute.Strategy) -> dict[str, float]:
    """The trained model's Keras validation metrics: losses and RMSE on every row, the
    FactorizedTopK hit rates on the rows of at most `config.monitor_max_users` users
    (the monitor's sample, `user_sample_mask`): those rank each row against the whole
    catalogue, rows x items, which grows as the square of the data (80k validation rows
    x 48,901 items at a million synthetic reviews). With every user kept, one pass."""
    keep = user_sample_mask(validation["user_id"].to_numpy(str), config.monitor_max_users)
    if keep.all():
        return evaluate_model(model, dataset, tables, config, strategy)
    metrics = evaluate_model(model, dataset, tables, config, strategy, topk=False)
    sample = make_dataset(tables.lookup_examples(validation[keep]), config, training=False,
                          batch_size=4 * config.batch_size, consume=True)
    ranked = evaluate_model(model, sample, tables, config, strategy)
    metrics.update({k: v for k, v in ranked.items() if "factorized_top_k" in k})
    metrics["topk_validation_rows"] = int(keep.sum())
    return metrics


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


def _callbacks(config: RecsysConfig, model: RecommenderModel, tables: FeatureTables,
               out_dir: Path | None, has_validation: bool, progress: bool,
               validation: pd.DataFrame | None = None,
               strategy: tf.distribute.Strategy | None = None,
               ) -> list[tf.keras.callbacks.Callback]:
    callbacks: list[tf.keras.callbacks.Callback] = []
    if out_dir is not None:
        backup = out_dir / "checkpoints" / "backup"
        check_backup(backup, write=is_chief(strategy or tf.distribute.get_strategy()))
        # First, so that a later callback's crash still finds the epoch backed up.
        callbacks.append(tf.keras.callbacks.BackupAndRestore(str(backup)))
    monitor = config.monitor
    if has_validation and monitor.startswith(RANKING_MONITOR_PREFIX):
        # Before TensorBoard and early stopping, which read its metric from the logs.
        k = int(monitor[len(RANKING_MONITOR_PREFIX):])
        ranking = RankingMonitor(tables, config, validation, k=k,
                                 max_users=config.monitor_max_users)
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
        callbacks.append(TqdmProgress(steps, config.epochs, ratings=config.rating_weight > 0))
    return callbacks


def _topk_in_training(config: RecsysConfig) -> bool:
    return config.topk_metrics_in_training or "factorized_top_k" in config.monitor


def _lower_is_better(monitor: str) -> bool:
    return not any(word in monitor for word in ("accuracy", "top_", "auc", "ndcg"))
