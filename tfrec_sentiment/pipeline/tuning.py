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

The search space maps dotted `features.*` / `recsys.*` fields to a range or a list of
choices (`tuning_space.py`, with the objective); one trial's training and scoring is
`tuning_trials.py`, the chart `tuning_plot.py`. This module runs the study and
writes its files; it re-exports the names of those three.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import optuna
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.pipeline.tuning_plot import plot_trials
from tfrec_sentiment.pipeline.tuning_space import (
    DEFAULT_SPACE,
    TUNABLE_SECTIONS,
    Objective,
    Param,
    SearchSpace,
    format_value,
)
from tfrec_sentiment.pipeline.tuning_trials import (
    FeatureTableCache,
    PruningCallback,
    RunInputs,
    TuningError,
    load_run,
    mean_metrics,
    validation_metrics,
)

__all__ = ["DEFAULT_SPACE", "PRUNE_WARMUP_EPOCHS", "STUDY_NAME", "TUNABLE_SECTIONS",
           "TUNING_DIR", "FeatureTableCache", "Objective", "Param", "RunInputs",
           "SearchSpace", "TuningError", "TuningResult", "finish", "format_value",
           "load_run", "mean_metrics", "plot_trials", "tune", "validation_metrics"]

TUNING_DIR = "tuning"
STUDY_NAME = "tune"
PRUNE_WARMUP_EPOCHS = 4  # MedianPruner never stops a trial before its 5th epoch


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
            callbacks = [PruningCallback(trial, goal)] if prune and index == 0 else []
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
