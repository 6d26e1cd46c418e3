"""The Keras callbacks of the recommender's training loop (`train.py` assembles them).

- `RankingMonitor`: validation NDCG@k over the full catalogue, as the evaluation
  measures it, into the epoch logs (for early stopping);
- `TopKRefresh`: re-indexes the FactorizedTopK candidates before validation;
- `EpochHistoryBackup`: the finished epochs' logs beside `BackupAndRestore`'s backup,
  so a resumed run's history is whole;
- `EpochTimer`, `TqdmProgress`: seconds per epoch, a progress bar.

Example:

>>> monitor = RankingMonitor(tables, config, split.validation)  # doctest: +SKIP
>>> model.fit(dataset, callbacks=[monitor])                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_sentiment.data.splits import user_sample_mask
from tfrec_sentiment.evaluation.metrics import (
    DEFAULT_MAX_ELEMENTS,
    EXCLUDED,
    Ranking,
    batch_pairs,
)
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import atomic_write
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.data import catalogue_inputs, select_inputs
from tfrec_sentiment.recsys.scoring import score_matrix, users_per_call

# Monitors named "val_ndcg_at_<k>" are computed by `RankingMonitor`.
RANKING_MONITOR_PREFIX = "val_ndcg_at_"


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
    at a time (fewer where the score mode runs the rating head on every pair:
    `scoring.users_per_call`), and the relevant and excluded items are kept as sorted (user, item)
    pairs, never as dense [users, items] masks.

    Args:
        tables: the feature tables the model trains on.
        config: the RecsysConfig (input groups, score mode).
        validation: validation rows (`user_id`, `item_id`); items outside the
            catalogue are dropped.
        k: the cut-off.
        max_elements: scores held in memory at once.
        max_users: rank at most this many validation users, the same ones every epoch
            (`data.splits.user_sample_mask`), so the monitor's cost grows with the
            catalogue only; None = all.
    """

    def __init__(self, tables: FeatureTables, config: RecsysConfig, validation: pd.DataFrame,
                 k: int = 10, max_elements: int = DEFAULT_MAX_ELEMENTS,
                 max_users: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.k = int(k)
        self.max_elements = int(max_elements)
        self.max_users = max_users
        self.key = f"{RANKING_MONITOR_PREFIX}{self.k}"
        n_items = len(tables.ids["item"])
        item = tables.index_of("item", validation["item_id"].to_numpy())
        user_ids = np.asarray(validation["user_id"], str)
        inside = item >= 0
        inside[inside] = user_sample_mask(user_ids[inside], max_users)
        item = np.where(inside, item, -1)
        users, position = np.unique(user_ids[inside], return_inverse=True)
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
        if self.config.score_mode in ("rating", "blend"):  # the rating head on every pair
            batch = users_per_call(n_items, batch)
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


POSTFIX_SECONDS = 0.5  # `TqdmProgress` shows the batch loss at most this often


class TqdmProgress(tf.keras.callbacks.Callback):
    """One tqdm bar per fit over every epoch's steps; the last epoch's summary as its
    postfix, and one line when training ends (not a line per epoch: a run fits many
    models). Without a rating loss (`ratings=False`) RMSE is not shown (it reads 0)."""

    def __init__(self, steps: int, epochs: int, ratings: bool = True) -> None:
        super().__init__()
        self.steps = steps
        self.epochs = epochs
        self.ratings = ratings
        self.bar = None
        self.summary: dict[str, float] = {}
        self.epoch = 0
        self.shown = -math.inf  # when the postfix last read the loss (time.monotonic)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.bar = tqdm(total=self.steps * self.epochs, desc="recsys", unit="batch",
                        leave=False)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch + 1
        self.bar.set_description(f"recsys epoch {self.epoch}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)
        # Reading the loss waits for the step's result: at most every POSTFIX_SECONDS,
        # else tf-keras warns that this callback is slower than the batch.
        now = time.monotonic()
        if logs and "total_loss" in logs and now - self.shown >= POSTFIX_SECONDS:
            self.shown = now
            self.bar.set_postfix(loss=f"{float(np.mean(logs['total_loss'])):.4f}",
                                 **self.summary)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.summary = epoch_summary(logs or {}, self.ratings)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.bar.close()
        tqdm.write(f"recsys: {self.epoch} epoch(s), last {self.summary}")


def epoch_summary(logs: dict, ratings: bool = True) -> dict[str, float]:
    """The logs a person reads after an epoch: losses, RMSE (with a rating loss), the
    ranking monitor's metric and top-10 metrics, with short names.

    >>> epoch_summary({"total_loss": 1.23456, "rmse": 0.0, "val_rmse": 0.0, "lr": 0.1},
    ...               ratings=False)
    {'total_loss': 1.2346}
    """
    keep = ("total_loss", "val_total_loss") + (("rmse", "val_rmse") if ratings else ())
    return {k.replace("factorized_top_k/top_", "hit@").replace("_categorical_accuracy", ""):
            round(float(v), 4) for k, v in logs.items()
            if k in keep or k.startswith(RANKING_MONITOR_PREFIX) or "top_10_" in k}
