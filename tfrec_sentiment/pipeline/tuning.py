"""Hyper-parameter search on a finished run's VALIDATION part, behind `tools/tune.py`.

A finished run folder (`tools/train.py`) already holds the split and the sentiment
scores of its training reviews (the score cache), so a trial only rebuilds the
feature tables (when a `features.*` field changes) and trains the recommender:
nothing is fine-tuned again. Each trial trains the "full" recommender, as the
recsys stage does, and scores it on the validation part (`evaluate_split(...,
on="validation")`, the evaluation's own protocol); the objective is one of those
validation metrics. The test part is never opened: `load_run` reads only
`train.parquet` and `validation.parquet`. It is read once, at the end, by
`tools/train.py --config <best config>`.

Why Optuna rather than KerasTuner: the objective is a ranking metric computed
outside `model.fit` (full-catalogue NDCG@10 with the user's training items left
out) over settings that also rebuild the feature tables, i.e. an arbitrary Python
function; Optuna optimises exactly that (TPE sampler, median pruning on any
reported value, SQLite storage for resuming), while KerasTuner ties a trial to a
Keras model build and fit.

Outputs in `<run>/tuning/`:

- `study.db`: the Optuna study (SQLite), so `resume=True` continues it.
- `trials.jsonl`: one JSON line per finished trial (state, objective, overrides,
  every validation metric, epochs, seconds).
- `best_config.json`: the run's config with the best trial's overrides, a full
  resolved `RunConfig` that `config.load` (and `tools/train.py --config`) reads.
- `best.json`: the best value, its trial, its overrides, the baseline (trial 0 is
  the run's own config where it lies inside the search space) and the parameter
  importances.
- `trials.png`: the objective per trial with the running best, and the importances.

The search space maps dotted `features.*` / `recsys.*` fields to a range
(`{"low": a, "high": b, "log": true, "step": s}`, int or float fields) or a list
of `{"choices": [...]}` (any field; a list value for a tuple field such as
`recsys.hidden_units`); every bound and choice is checked by the field's own
constraints before any work (`SearchSpace.check`).

Example:

>>> space = SearchSpace.from_dict({"recsys.learning_rate": {"low": 0.001, "high": 0.01,
...                                                          "log": True}})
>>> space.params[0].kind, Objective.parse("val_liked_ndcg_at_10").metric
('float', 'liked_ndcg@10')
>>> result = tune("runs/musical", trials=20)                   # doctest: +SKIP
>>> result.best_value, result.best_config_path                 # doctest: +SKIP
(0.0851, PosixPath('runs/musical/tuning/best_config.json'))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import tensorflow as tf
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ConfigError, type_hints
from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.evaluate import LOWER_IS_BETTER, evaluate_split, metric_names
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.recsys.train import train_recommender

# Sections a trial may change: the run's data and sentiment scores are reused as they are.
TUNABLE_SECTIONS = ("features", "recsys")
TUNING_DIR = "tuning"
STUDY_NAME = "tune"
PRUNE_WARMUP_EPOCHS = 4  # MedianPruner never stops a trial before its 5th epoch
# Metric bases of `evaluate_split` that take an "@k" (see evaluation/evaluate.py).
_TOPK_BASES = ("recall", "ndcg", "hitrate", "liked_recall", "liked_ndcg", "disliked",
               "disliked_cond")
_RATING_METRICS = ("rmse", "mae")
_SPEC_KEYS = ("low", "high", "log", "step", "choices")

# The default search space: the recommender's regularisation, size, optimiser and
# retrieval settings, and the item-similarity shrinkage; ranges bracket the defaults
# chosen by hand on Musical Instruments (README, "How the defaults were chosen").
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "recsys.embedding_dim": {"choices": [8, 16, 32]},
    "recsys.id_l2": {"low": 20.0, "high": 2000.0, "log": True},
    "recsys.bias_l2": {"low": 1.0, "high": 50.0, "log": True},
    "recsys.history_l2": {"low": 20.0, "high": 2000.0, "log": True},
    "recsys.learning_rate": {"low": 0.001, "high": 0.03, "log": True},
    "recsys.temperature": {"low": 0.03, "high": 1.0, "log": True},
    "recsys.similarity_weight": {"low": 0.5, "high": 20.0, "log": True},
    "recsys.dropout": {"low": 0.0, "high": 0.4},
    "recsys.epochs": {"low": 10, "high": 40, "step": 10},
    "features.similarity_shrinkage": {"low": 0.0, "high": 20.0},
}


class TuningError(ValueError):
    """A tuning request that cannot run: an existing study without `resume`, a
    resumed study with another objective, or a run folder missing a part."""


# === Run inputs ===


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
    from tfrec_sentiment.sentiment.inference import ScoreCache, scoring_options
    from tfrec_sentiment.sentiment.labels import review_texts
    from tfrec_sentiment.sentiment.model import SentimentModel

    run_dir = Path(run_dir)
    needed = [run_dir / "config.json", run_dir / "data" / "train.parquet",
              run_dir / "data" / "validation.parquet", run_dir / "sentiment" / "model"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise TuningError(f"{run_dir} is not a finished run folder: missing {', '.join(missing)}")
    config = config_lib.load(run_dir / "config.json")
    train, validation = (to_canonical(pd.read_parquet(run_dir / "data" / f"{part}.parquet"))
                         for part in ("train", "validation"))
    split = Split(train=train, validation=validation, test=train.iloc[:0])
    settings = config.sentiment
    model = SentimentModel.load(run_dir / "sentiment" / "model")
    scores = model.score(review_texts(split.train),
                         cache=ScoreCache(settings.cache_dir or run_dir / "sentiment" / "scores"),
                         progress=progress, **scoring_options(settings))
    return RunInputs(config, split, scores.probabilities, scores.embedding)


# === Objective and search space ===


@dataclasses.dataclass(frozen=True)
class Objective:
    """A validation metric to optimise, named as the recommender's monitors are.

    Attributes:
        name: "val_<metric>" ("val_rmse") or "val_<metric>_at_<k>" ("val_ndcg_at_10").
        metric: the `evaluate_split` key ("rmse", "ndcg@10").
        k: the top-K cut-off the evaluation uses (10 for rating metrics).
        direction: "maximize" or "minimize" (`evaluation.evaluate.LOWER_IS_BETTER`).
    """

    name: str
    metric: str
    k: int
    direction: str

    @classmethod
    def parse(cls, name: str) -> Objective:
        """Raises ConfigError naming the objective and the allowed forms."""
        allowed = ("val_rmse, val_mae, or val_<metric>_at_<k> with <metric> one of "
                   + ", ".join(_TOPK_BASES))
        body = name.removeprefix("val_")
        if name.startswith("val_") and body in _RATING_METRICS:
            return cls(name, body, 10, "minimize")
        match = re.fullmatch(r"val_(\w+?)_at_(\d+)", name)
        if not match or match[1] not in _TOPK_BASES or int(match[2]) < 1:
            raise ConfigError(f"choose {allowed}", "objective", name)
        metric = f"{match[1]}@{int(match[2])}"
        direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
        return cls(name, metric, int(match[2]), direction)

    def better(self, a: float, b: float) -> bool:
        """Whether value `a` beats `b` in this objective's direction."""
        return a < b if self.direction == "minimize" else a > b


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched field.

    Attributes:
        name: dotted config field, e.g. "recsys.learning_rate".
        kind: "int", "float" (a range) or "categorical" (`choices`).
        low, high: inclusive range bounds; log: sample on a log scale; step: grid step.
        choices: the categorical values, as Optuna stores them (a list value for a
            tuple field is kept as its override string, "32,16").
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step,
                                       log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether `value` (a config value) is one this parameter can take."""
        if self.kind == "categorical":
            return _choice(value) in self.choices
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.step:
            steps = (value - self.low) / self.step
            return math.isclose(steps, round(steps), abs_tol=1e-9)
        return True

    def override(self, value: Any) -> str:
        """The `section.field=value` override of a sampled value."""
        return f"{self.name}={format_value(value)}"


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The searched fields, in the order given."""

    params: tuple[Param, ...]
    source: str | None = None

    @classmethod
    def default(cls) -> SearchSpace:
        return cls.from_dict(DEFAULT_SPACE, source="default search space")

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Reads a space file: JSON, or YAML for `.yaml` / `.yml`.

        Raises:
            ConfigError: unreadable file, or a field / spec the space does not allow;
                one line naming the file, the field and what is allowed.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigError(f"cannot read the search space ({error.strerror})",
                              source=str(path)) from None
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                values = yaml.safe_load(text)
            else:
                values = json.loads(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise ConfigError(f"not valid {'YAML' if path.suffix != '.json' else 'JSON'}: "
                              f"{' '.join(str(error).split())}", source=str(path)) from None
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: Any, source: str | None = None) -> SearchSpace:
        """Builds and checks a space from `{field: spec}`; see the module docstring.

        Raises:
            ConfigError: naming `source`, the field and what is allowed.
        """
        if not isinstance(values, Mapping) or not values:
            raise ConfigError("expected a non-empty mapping of section.field -> "
                              "{low, high[, log, step]} or {choices}", source=source)
        params = tuple(_param(str(name), spec, source) for name, spec in values.items())
        space = cls(params, source)
        space.check(config_lib.RunConfig())
        return space

    def check(self, config: config_lib.RunConfig) -> None:
        """Checks every bound and choice by the field's own constraints in `config`.

        Raises:
            ConfigError: naming the space's source, the field and the refused value.
        """
        for param in self.params:
            values = param.choices if param.kind == "categorical" else (param.low, param.high)
            for value in values:
                try:
                    config_lib.apply_overrides(config, [param.override(value)])
                except ConfigError as error:
                    raise error.within(source=self.source) from None

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """Overrides of a trial's sampled values (`trial.params`), in space order."""
        return [p.override(params[p.name]) for p in self.params if p.name in params]

    def defaults(self, config: config_lib.RunConfig) -> dict[str, Any]:
        """The values `config` has for the searched fields, where inside the space."""
        found = {}
        for param in self.params:
            value = _field_value(config, param.name)
            if param.contains(value):
                found[param.name] = _choice(value) if param.kind == "categorical" else value
        return found


def format_value(value: Any) -> str:
    """A config value as `apply_overrides` parses it back (lists comma-joined).

    >>> format_value((32, 16)), format_value(True), format_value(None), format_value(0.005)
    ('32,16', 'true', 'none', '0.005')
    """
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _choice(value: Any) -> Any:
    # Optuna keeps categorical choices as None/bool/int/float/str: a list becomes its
    # override string.
    return format_value(value) if isinstance(value, (list, tuple)) else value


def _field_value(config: Any, name: str) -> Any:
    for part in name.split("."):
        config = getattr(config, part)
    return config


def _param(name: str, spec: Any, source: str | None) -> Param:
    def error(reason: str, *value: Any) -> ConfigError:  # value: the refused one, if any
        return ConfigError(reason, name, *value, source=source)

    section, _, field = name.partition(".")
    if section not in TUNABLE_SECTIONS or not field or "." in field:
        raise error("tune only features.<field> or recsys.<field> (the run's data and "
                    "sentiment scores are reused as they are)")
    section_type = type_hints(config_lib.RunConfig)[section]
    hints = type_hints(section_type)
    if field not in hints:
        raise error(f"unknown config field; have {', '.join(sorted(hints))}")
    if not isinstance(spec, Mapping):
        raise error("expected {low, high[, log, step]} or {choices: [...]}", spec)
    unknown = sorted(set(spec) - set(_SPEC_KEYS))
    if unknown:
        raise error(f"unknown key {unknown[0]!r}; use {', '.join(_SPEC_KEYS)}")
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise error("give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise error("choices must be a non-empty list", choices)
        return Param(name, "categorical", choices=tuple(_choice(c) for c in choices))
    if "low" not in spec or "high" not in spec:
        raise error("a range needs both low and high (or give choices)")
    kind = _range_kind(hints[field])
    if kind is None:
        raise error(f"a {hints[field]} field takes choices, not a range")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    numbers = [v for v in (low, high, step) if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
        raise error("low, high and step must be numbers", spec)
    if kind == "int" and any(not isinstance(v, int) for v in numbers):
        raise error("an int field needs int low, high and step", spec)
    if not isinstance(log, bool):
        raise error("log must be true or false", log)
    if low > high:
        raise error(f"low ({low}) is above high ({high})")
    if log and low <= 0:
        raise error(f"a log range needs low > 0, got {low}")
    if step is not None and (step <= 0 or log):
        raise error("step must be > 0 and cannot go with log", step)
    return Param(name, kind, low, high, log, step)


def _range_kind(hint: Any) -> str | None:
    args = [a for a in getattr(hint, "__args__", (hint,)) if a is not type(None)]
    if len(args) != 1:
        return None
    return {int: "int", float: "float"}.get(args[0])


# === Trials ===


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


class _PruningCallback(tf.keras.callbacks.Callback):
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


# === The study ===


@dataclasses.dataclass
class TuningResult:
    """What `tune` found; everything is also in `folder`."""

    folder: Path
    objective: Objective
    best_value: float | None
    best_trial: int | None
    best_overrides: list[str]
    best_config_path: Path | None
    baseline_value: float | None
    trials: list[dict]
    importances: dict[str, float]

    def to_dict(self) -> dict:
        return {"objective": self.objective.name, "direction": self.objective.direction,
                "best_value": self.best_value, "best_trial": self.best_trial,
                "best_overrides": self.best_overrides,
                "best_config": str(self.best_config_path) if self.best_config_path else None,
                "baseline_value": self.baseline_value,
                "trials": _state_counts(self.trials), "importances": self.importances}


def tune(run_dir: str | Path, *, trials: int = 20, objective: str = "val_ndcg_at_10",
         space: SearchSpace | None = None, seed: int = 0, timeout: float | None = None,
         out: str | Path | None = None, resume: bool = False,
         train_seeds: Sequence[int] | None = None, prune: bool = True,
         baseline: bool = True, inputs: RunInputs | None = None,
         log: Callable[[str], None] = print) -> TuningResult:
    """Searches the space with Optuna's seeded TPE sampler on the run's validation part.

    Args:
        run_dir: a finished `tools/train.py` run folder.
        trials: trials to run in this call (a resumed study adds these to its own).
        objective: the validation metric, e.g. "val_ndcg_at_10", "val_liked_ndcg_at_10",
            "val_rmse" (`Objective.parse`).
        space: the search space (default `DEFAULT_SPACE`).
        seed: the sampler's seed (same seed, space and run: the same trials).
        timeout: stop starting trials after this many seconds.
        out: where to write the best config (default `<run>/tuning/best_config.json`).
        resume: continue `<run>/tuning/study.db`; without it an existing study is
            an error (nothing is overwritten).
        train_seeds: recommender seeds per trial, the objective is their mean
            (default: the run's `seed`).
        prune: `MedianPruner` on the per-epoch objective (best so far), when the
            epoch logs hold it, from the 5th epoch on.
        baseline: the first trial of a new study is the run's own config (its values
            that lie inside the space), so the best can be read against it.
        inputs: already loaded run inputs (`load_run`), e.g. to tune twice in tests.
        log: where the one line per trial goes.

    Raises:
        ConfigError: a bad objective or a space the run's config refuses.
        TuningError: an existing study without `resume`, or resumed with another objective.
    """
    run_dir = Path(run_dir)
    goal = Objective.parse(objective)
    space = space or SearchSpace.default()
    folder = run_dir / TUNING_DIR
    database = folder / "study.db"
    if database.exists() and not resume:
        raise TuningError(f"{database} exists: pass resume (--resume) to continue it, or "
                          "remove the folder to start again")
    inputs = inputs or load_run(run_dir)
    base = inputs.config
    space.check(base)
    seeds = tuple(train_seeds) if train_seeds else (base.seed,)
    folder.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=f"sqlite:///{database}", study_name=STUDY_NAME, load_if_exists=True,
        direction=goal.direction,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=_startup(trials)),
        # From the 5th epoch, once as many trials finished as were sampled at random:
        # earlier, a faster learning rate alone decides (seen on Musical Instruments).
        pruner=optuna.pruners.MedianPruner(n_startup_trials=_startup(trials),
                                           n_warmup_steps=PRUNE_WARMUP_EPOCHS)
        if prune else optuna.pruners.NopPruner())
    previous = study.user_attrs.get("objective")
    if previous is not None and previous != goal.name:
        raise TuningError(f"{database} optimises {previous}, not {goal.name}: resume it with "
                          f"--objective {previous}")
    study.set_user_attr("objective", goal.name)
    if baseline and not study.trials:
        study.enqueue_trial(space.defaults(base), user_attrs={"baseline": True})
    tables = FeatureTableCache(inputs)

    def run_trial(trial: optuna.Trial) -> float:
        overrides = space.overrides({p.name: p.suggest(trial) for p in space.params})
        trial.set_user_attr("overrides", overrides)
        config = config_lib.apply_overrides(base, overrides)
        rows = []
        for index, train_seed in enumerate(seeds):
            # Only the first seed reports per-epoch values: steps must not repeat.
            callbacks = [_PruningCallback(trial, goal)] if prune and index == 0 else []
            rows.append(validation_metrics(inputs, config, seed=train_seed, k=goal.k,
                                           tables=tables.get(config.features),
                                           callbacks=callbacks))
        metrics = mean_metrics(rows)
        trial.set_user_attr("metrics", metrics)
        return metrics[goal.metric]  # NaN (no user qualifies): Optuna marks it failed

    trials_file = folder / "trials.jsonl"

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        line = _trial_line(trial, goal)
        with trials_file.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
        best = _best(study)
        shown = "-" if line["value"] is None else f"{line['value']:.4f}"
        best_text = "-" if best is None else f"{best.value:.4f} (#{best.number})"
        log(f"trial {trial.number} {line['state']}: {goal.name}={shown} best={best_text} "
            f"{line['seconds']:.0f}s {' '.join(line['overrides'])}")
        plot_trials(_read_trials(trials_file), goal, folder / "trials.png")

    study.optimize(run_trial, n_trials=trials, timeout=timeout, callbacks=[after_trial],
                   catch=(tf.errors.ResourceExhaustedError,), gc_after_trial=True)
    return finish(study, space, base, goal, folder, out, trials_file)


def finish(study: optuna.Study, space: SearchSpace, base: config_lib.RunConfig,
           goal: Objective, folder: Path, out: str | Path | None,
           trials_file: Path) -> TuningResult:
    """Writes `best_config.json`, `best.json` and `trials.png` from the study."""
    best = _best(study)
    importances = _importances(study)
    best_path = None
    overrides: list[str] = []
    if best is not None:
        overrides = list(best.user_attrs.get("overrides", space.overrides(best.params)))
        best_path = config_lib.save(config_lib.apply_overrides(base, overrides),
                                    Path(out) if out else folder / "best_config.json")
    baseline = next((t for t in study.trials if t.user_attrs.get("baseline")), None)
    trials = _read_trials(trials_file)
    result = TuningResult(
        folder, goal, best.value if best else None, best.number if best else None,
        overrides, best_path,
        baseline.value if baseline is not None and baseline.value is not None else None,
        trials, importances)
    summary = {**result.to_dict(),
               "best_metrics": best.user_attrs.get("metrics") if best else None,
               "baseline_overrides": baseline.user_attrs.get("overrides") if baseline else None}
    (folder / "best.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot_trials(trials, goal, folder / "trials.png", importances)
    return result


def _startup(trials: int) -> int:
    # Random trials before TPE models the results: a third of the budget, 3 to 10.
    return min(10, max(3, trials // 3))


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return study.best_trial if done else None


def _importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's fANOVA importances; empty with under 5 finished trials (too few to
    say) or when every parameter stayed constant."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 5:
        return {}
    try:
        return {k: round(float(v), 4)
                for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}  # e.g. every parameter constant across the finished trials


def _trial_line(trial: optuna.trial.FrozenTrial, goal: Objective) -> dict:
    finished = trial.datetime_complete or dt.datetime.now()
    started = trial.datetime_start or finished
    value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
    return {"trial": trial.number, "state": trial.state.name.lower(),
            "objective": goal.name, "value": value,
            "baseline": bool(trial.user_attrs.get("baseline", False)),
            "overrides": trial.user_attrs.get("overrides", []),
            "metrics": trial.user_attrs.get("metrics"),
            "seconds": round((finished - started).total_seconds(), 2),
            "finished": finished.isoformat(timespec="seconds")}


def _read_trials(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _state_counts(trials: Sequence[Mapping]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["state"]] = counts.get(trial["state"], 0) + 1
    return counts


def plot_trials(trials: Sequence[Mapping], goal: Objective, path: str | Path,
                importances: Mapping[str, float] | None = None) -> Path:
    """PNG: the objective per trial with the running best; the importances beside it.

    Args:
        trials: `trials.jsonl` lines (`trial`, `state`, `value`).
        goal: the objective (its name labels the axis; its direction the running best).
        path: the PNG to write.
        importances: parameter -> importance (a second panel when given and non-empty).
    """
    done = [(t["trial"], t["value"]) for t in trials
            if t["state"] == "complete" and t["value"] is not None]
    pruned = [t["trial"] for t in trials if t["state"] == "pruned"]
    panels = 2 if importances else 1
    figure = Figure(figsize=(5.5 * panels, 3.6))
    axes = figure.add_subplot(1, panels, 1)
    if done:
        numbers, values = zip(*done)
        pick = np.minimum if goal.direction == "minimize" else np.maximum
        axes.plot(numbers, values, "o", markersize=4, label="trial")
        axes.step(numbers, pick.accumulate(np.asarray(values)), where="post",
                  label="running best")
    if pruned:
        axes.plot(pruned, [axes.get_ylim()[0]] * len(pruned), "x", color="grey",
                  label="pruned")
    axes.set_xlabel("trial")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(goal.name)
    axes.grid(alpha=0.3)
    if done or pruned:
        axes.legend(fontsize=8)
    if importances:
        side = figure.add_subplot(1, panels, 2)
        names = list(importances)[::-1]
        side.barh(names, [importances[n] for n in names])
        side.set_xlabel("importance (fANOVA)")
        side.tick_params(axis="y", labelsize=8)
    figure.suptitle(f"tuning: {goal.name} ({goal.direction})")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path
