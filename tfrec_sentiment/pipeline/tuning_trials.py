"""One tuning trial: the finished run's inputs, the feature tables, train and score.

A trial reads the run's train and validation parts and the sentiment scores of its
training reviews (`load_run`; the test part is never opened), rebuilds the feature
tables only when a `features.*` field changed (`FeatureTableCache`), trains the
recommender and scores it on validation (`validation_metrics`).

Example:

>>> inputs = load_run("runs/musical")                                 # doctest: +SKIP
>>> validation_metrics(inputs, inputs.config)["ndcg@10"]              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.evaluate import evaluate_split, metric_names
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.pipeline.tuning_space import Objective
from tfrec_sentiment.recsys.train import train_recommender


class TuningError(ValueError):
    """A tuning request that cannot run: an existing study without `resume`, a
    resumed study with another objective, or a run folder missing a part."""


@dataclasses.dataclass
class RunInputs:
    """What a trial reads from a finished run folder.

    Attributes:
        config: the run's resolved config (`<run>/config.json`).
        split: train and validation parts; `test` is an EMPTY frame (never read).
        probabilities: float32 [N, 3] sentiment of `split.train`'s rows.
        embeddings: float32 [N, D] text embeddings of `split.train`'s rows.
    """

    config: config_lib.RunConfig
    split: Split
    probabilities: np.ndarray
    embeddings: np.ndarray


def load_run(run_dir: str | Path, *, progress: bool = False) -> RunInputs:
    """Loads a finished run's config, train / validation parts and training-row scores.

    The sentiment scores come through the run's score cache (a finished run has
    scored every training review), so no review is scored again; `test.parquet`
    is not opened.

    Raises:
        TuningError: the folder lacks `config.json`, a split part or the sentiment model.
        ConfigError: `config.json` holds a value a field does not allow.
    """
    from tfrec_sentiment.io import read_table
    from tfrec_sentiment.privacy import table_encryption
    from tfrec_sentiment.sentiment.inference import run_score_cache, score_reviews
    from tfrec_sentiment.sentiment.model import SentimentModel

    run_dir = Path(run_dir)
    needed = [run_dir / "config.json", run_dir / "data" / "train.parquet",
              run_dir / "data" / "validation.parquet", run_dir / "sentiment" / "model"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise TuningError(f"{run_dir} is not a finished run folder: missing {', '.join(missing)}")
    config = config_lib.load(run_dir / "config.json")
    encryption = table_encryption(config.privacy)
    train, validation = (to_canonical(read_table(run_dir / "data" / f"{part}.parquet",
                                                 encryption))
                         for part in ("train", "validation"))
    split = Split(train=train, validation=validation, test=train.iloc[:0])
    settings = config.sentiment
    model = SentimentModel.load(run_dir / "sentiment" / "model")
    scores = score_reviews(model, split.train, settings,
                           run_score_cache(settings, run_dir, encryption), progress)
    return RunInputs(config, split, scores.probabilities, scores.embedding)


class FeatureTableCache:
    """The feature tables of the last `FeatureConfig` asked for (rebuilt on a change)."""

    def __init__(self, inputs: RunInputs) -> None:
        self.inputs = inputs
        self._key: Any = None
        self._tables: FeatureTables | None = None

    def get(self, features: Any) -> FeatureTables:
        if self._tables is None or self._key != features:
            self._tables = build_feature_tables(self.inputs.split.train,
                                                self.inputs.probabilities,
                                                self.inputs.embeddings, features)
            self._key = features
        return self._tables


def validation_metrics(inputs: RunInputs, config: config_lib.RunConfig, *, seed: int = 0,
                       variant: str = "full", k: int = 10,
                       tables: FeatureTables | None = None,
                       callbacks: Sequence[tf.keras.callbacks.Callback] = ()) -> dict:
    """Trains one recommender (`config.recsys`, `variant`, `seed`) and scores it on
    the validation part.

    Returns:
        The `evaluate_split` metrics on validation (`metric_names(k)`: "rmse",
        "ndcg@10", "liked_ndcg@10", ...) plus "epochs" (run) and "seconds" (wall).
    """
    start = time.perf_counter()
    if tables is None:
        tables = FeatureTableCache(inputs).get(config.features)
    tf.keras.backend.clear_session()  # a fresh graph per trial keeps memory flat
    settings = dataclasses.replace(config.recsys, variant=variant)
    model = train_recommender(settings, inputs.split, tables, seed=seed, callbacks=callbacks)
    result = evaluate_split(model, inputs.split, on="validation", k=k,
                            config=config.evaluation)
    metrics = {name: float(result.metrics[name]) for name in metric_names(k)}
    metrics.update(epochs=int(model.metrics["epochs_run"]),
                   seconds=round(time.perf_counter() - start, 2))
    return metrics


def mean_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The per-key mean of several seeds' metric dicts (NaN where a seed has NaN)."""
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


class PruningCallback(tf.keras.callbacks.Callback):
    """Reports the trial's best-so-far per-epoch objective and stops a pruned trial.

    The value is read from the epoch logs under the objective's name, which holds
    it when the recommender's `monitor` computes it ("val_ndcg_at_10" through
    `RankingMonitor`; "val_rmse" always); otherwise nothing is reported and nothing
    pruned. Best-so-far, because early stopping restores the best epoch.
    """

    def __init__(self, trial: optuna.Trial, objective: Objective) -> None:
        super().__init__()
        self.trial, self.objective = trial, objective
        self.best: float | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.objective.name)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.best is None or self.objective.better(value, self.best):
            self.best = value
        self.trial.report(self.best, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch + 1}: {self.objective.name} "
                                     f"{self.best:.4f} below the median")
