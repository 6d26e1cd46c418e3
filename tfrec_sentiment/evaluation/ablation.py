"""The ablation runner: every variant on the same split and seeds, one table, one chart.

Give it named trainers (`seed -> Recommender`), for example the baselines of
`baselines.baseline_variants(split)` and the TFRS variants "ids only", "+ ratings/helpful"
and "full" (+ sentiment). Each non-deterministic variant is trained and scored once per
seed; deterministic ones (the closed-form baselines) once, marked as such in the table.
It reports, per variant, the per-seed metrics, their mean and a Student-t interval over
seeds, and for chosen pairs a paired bootstrap over test users of the seed-averaged
per-user metrics (by default "full" against every other variant, "ids only" first).
Every metric of `evaluate.py` (any next item, liked items, Disliked@K) is reported for
all test users and again on each slice (users by training history, held-out items with
few training reviews), one table per slice, each with its paired bootstrap (all from
the per-user arrays the evaluation already holds: nothing is ranked twice).

`AblationResult.save(out_dir)` writes the run folder's `evaluation/` files:
`metrics.json`, `report.md` (written by `ablation_report.py`) and `ablation.png`.

Example:

>>> from tfrec_sentiment.evaluation.baselines import baseline_variants
>>> result = run_ablation(baseline_variants(split), split, seeds=(0, 1, 2))  # doctest: +SKIP
>>> result.save("runs/demo/evaluation")  # doctest: +SKIP
>>> print(result.to_markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tfrec_sentiment.evaluation.ablation_report import (
    RELEVANCE,
    SLICE_TITLES,
    ablation_markdown,
    no_nan,
    protocols,
    slice_title,
)
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    ALL_USERS,
    LOWER_IS_BETTER,
    EvalResult,
    UserMetrics,
    evaluate_split,
    metric_label,
    metric_names,
)
from tfrec_sentiment.evaluation.plots import plot_ablation
from tfrec_sentiment.evaluation.protocol import Recommender, SplitLike
from tfrec_sentiment.evaluation.stats import (
    BootstrapDiff,
    MeanCI,
    bootstrap_diff,
    mean_ci,
    paired_bootstraps,
    resample_statistics,
)

__all__ = ["CHART_FILE", "FULL", "IDS_ONLY", "METRICS_FILE", "RELEVANCE", "REPORT_FILE",
           "SLICE_TITLES", "AblationResult", "Trainer", "Variant", "VariantResult",
           "compare_variants", "load_metrics", "run_ablation", "slice_title"]

FULL = "full"
IDS_ONLY = "ids only"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
CHART_FILE = "ablation.png"
Trainer = Callable[[int], Recommender]


@dataclasses.dataclass
class Variant:
    """A named model recipe: `train(seed)` returns a fitted `Recommender`.

    `deterministic=True` (the result does not depend on the seed) runs it once.
    """

    train: Trainer
    deterministic: bool = False


@dataclasses.dataclass
class VariantResult:
    """One variant's runs (one per seed) and their summary."""

    name: str
    deterministic: bool
    seeds: list[int]
    runs: list[EvalResult]
    seconds: list[float]  # train + evaluate, per seed
    train_seconds: list[float] = dataclasses.field(default_factory=list)  # train, per seed

    @property
    def per_user(self) -> UserMetrics:
        """Per-user metrics averaged over seeds (for the paired bootstrap)."""
        return UserMetrics.average([run.per_user for run in self.runs])

    def summary(self, level: float) -> dict[str, MeanCI]:
        """metric -> mean over seeds with its interval (a zero-width one when deterministic)."""
        return {metric: self._interval([run.metrics[metric] for run in self.runs], level)
                for metric in self.runs[0].metrics}

    @property
    def slices(self) -> list[str]:
        """The slice names of the evaluation (the same for every run)."""
        return list(self.runs[0].slices)

    def slice_per_user(self, name: str) -> UserMetrics:
        """Per-user metrics of one slice averaged over seeds (for the paired bootstrap)."""
        return UserMetrics.average([run.slices[name] for run in self.runs])

    def slice_summary(self, level: float) -> dict[str, dict[str, MeanCI]]:
        """slice -> metric -> mean over seeds with its interval, as `summary`."""
        per_run = [run.slice_metrics for run in self.runs]
        return {name: {metric: self._interval([run[name][metric] for run in per_run], level)
                       for metric in per_run[0][name]}
                for name in per_run[0]}

    def _interval(self, values: list[float], level: float) -> MeanCI:
        """Seed interval; NaN throughout when the metric is undefined (no user qualifies)."""
        if any(math.isnan(v) for v in values):
            return MeanCI(math.nan, math.nan, math.nan, len(values), level)
        interval = mean_ci(values, level)
        if self.deterministic:
            interval = MeanCI(interval.mean, interval.mean, interval.mean, 1, level)
        return interval


@dataclasses.dataclass
class AblationResult:
    """All variants' results on one split, the bootstrap comparisons, and the writers."""

    variants: dict[str, VariantResult]
    comparisons: list[BootstrapDiff]  # on all test users
    config: EvalConfig
    split_rows: dict[str, int]
    title: str = ""
    slice_comparisons: list[BootstrapDiff] = dataclasses.field(default_factory=list)

    @property
    def slice_counts(self) -> dict[str, dict[str, int]]:
        """slice -> users, test rows and the users each top-K mean averages over."""
        run = next(iter(self.variants.values())).runs[0]
        return {name: part.counts() for name, part in run.slices.items()}

    @property
    def counts(self) -> dict[str, int]:
        """Row and user counts of the evaluation (the same for every variant)."""
        return next(iter(self.variants.values())).runs[0].counts

    def to_dict(self) -> dict:
        """The content of `metrics.json` (NaN written as null)."""
        variants = {}
        for name, result in self.variants.items():
            summary = result.summary(self.config.level)
            slices = result.slice_summary(self.config.level)
            variants[name] = {
                "deterministic": result.deterministic,
                "seeds": result.seeds,
                "per_seed": [run.metrics for run in result.runs],
                "mean": {m: s.mean for m, s in summary.items()},
                "ci": {m: [s.low, s.high] for m, s in summary.items()},
                "seconds": result.seconds,
                "train_seconds": result.train_seconds,
                "slices": {
                    part: {"per_seed": [run.slice_metrics[part] for run in result.runs],
                           "mean": {m: s.mean for m, s in values.items()},
                           "ci": {m: [s.low, s.high] for m, s in values.items()}}
                    for part, values in slices.items()},
            }
        config = self.config
        return no_nan({
            "title": self.title, "k": config.k, "level": config.level,
            "relevance": RELEVANCE, "protocols": protocols(config),
            "split_rows": self.split_rows, "counts": self.counts,
            "slice_counts": self.slice_counts,
            "variants": variants,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "slice_comparisons": [c.to_dict() for c in self.slice_comparisons],
        })

    def to_markdown(self) -> str:
        """The report: one metrics table and the bootstrap table."""
        return ablation_markdown(self)

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Writes metrics.json, report.md and ablation.png into `out_dir`; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"metrics": out / METRICS_FILE, "report": out / REPORT_FILE,
                 "chart": out / CHART_FILE}
        paths["metrics"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["report"].write_text(self.to_markdown())
        summaries = {name: r.summary(self.config.level) for name, r in self.variants.items()}
        k = self.config.k
        metrics = ("rmse", f"ndcg@{k}", f"recall@{k}", f"liked_ndcg@{k}", f"disliked@{k}")
        labels = {m: metric_label(m) + (" (lower is better)" if m in LOWER_IS_BETTER
                                        else " (higher is better)") for m in metrics}
        plot_ablation(summaries, metrics, paths["chart"], labels=labels,
                      title=self.title or "ablation")
        return paths


def load_metrics(out_dir: str | Path) -> dict:
    """Reads back the `metrics.json` that `AblationResult.save` wrote."""
    return json.loads((Path(out_dir) / METRICS_FILE).read_text())


def run_ablation(variants: Mapping[str, Variant | Trainer], split: SplitLike,
                 out_dir: str | Path | None = None, *, config: EvalConfig | None = None,
                 seeds: Sequence[int] | None = None,
                 compare: Sequence[tuple[str, str]] | None = None,
                 catalogue: np.ndarray | None = None, title: str = "",
                 progress: bool = True) -> AblationResult:
    """Trains and evaluates every variant on `split`; optionally writes the report files.

    Args:
        variants: name -> `Variant` (or a bare trainer `seed -> Recommender`, taken as
            non-deterministic). The table keeps this order.
        split: the time split every variant is trained and tested on.
        out_dir: where to write metrics.json, report.md and ablation.png; None = nowhere.
        config: k, level, bootstrap and memory settings; default `EvalConfig()`.
        seeds: training seeds; default `config.seeds`.
        compare: (candidate, reference) pairs for the paired bootstrap; default: "full"
            against every other variant ("ids only" first) when "full" is present, else none.
        catalogue: str [I], items to rank; default every training item.
        title: report and chart title.
        progress: show a progress bar over (variant, seed) runs.

    Returns:
        `AblationResult`.
    """
    config = config or EvalConfig()
    seeds = list(config.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("run_ablation needs at least one seed")
    recipes = {name: v if isinstance(v, Variant) else Variant(v) for name, v in variants.items()}
    pairs = _default_pairs(recipes) if compare is None else list(compare)
    for candidate, reference in pairs:
        for name in (candidate, reference):
            if name not in recipes:
                raise KeyError(f"compare names unknown variant {name!r}; have {list(recipes)}")
    jobs = [(name, seed) for name, recipe in recipes.items()
            for seed in (seeds[:1] if recipe.deterministic else seeds)]
    results: dict[str, VariantResult] = {}
    for name, seed in tqdm(jobs, desc="ablation", disable=not progress):
        result = results.setdefault(name, VariantResult(name, recipes[name].deterministic,
                                                        [], [], []))
        start = time.perf_counter()
        model = recipes[name].train(seed)
        result.train_seconds.append(time.perf_counter() - start)
        result.runs.append(evaluate_split(model, split, k=config.k, catalogue=catalogue,
                                          drop_unknown_items=config.drop_unknown_items,
                                          max_elements=config.max_elements, config=config))
        result.seeds.append(seed)
        result.seconds.append(time.perf_counter() - start)
    comparisons = _compare_pairs(results, pairs, config, ALL_USERS)
    slice_comparisons = [
        diff for part in (next(iter(results.values())).slices if config.bootstrap_slices else ())
        for diff in _compare_pairs(results, pairs, config, part)]
    ablation = AblationResult(results, comparisons, config, title=title, split_rows={
        "train": len(split.train), "validation": len(split.validation), "test": len(split.test)},
        slice_comparisons=slice_comparisons)
    if out_dir is not None:
        ablation.save(out_dir)
    return ablation


def compare_variants(candidate: VariantResult, reference: VariantResult,
                     config: EvalConfig | None = None,
                     population: str = ALL_USERS) -> list[BootstrapDiff]:
    """Paired bootstrap over test users of every metric, candidate - reference.

    Uses each variant's per-user metrics averaged over its seeds; the same users must
    have been evaluated (same split), and every metric uses the same resamples (drawn
    once). `population` is "all" (every test user) or a slice name: then users are
    resampled within that slice.
    """
    config = config or EvalConfig()
    if population == ALL_USERS:
        ours, theirs = candidate.per_user, reference.per_user
    else:
        ours, theirs = candidate.slice_per_user(population), reference.slice_per_user(population)
    if not np.array_equal(ours.user_ids, theirs.user_ids):
        raise ValueError(f"{candidate.name!r} and {reference.name!r} were evaluated on "
                         "different test users; compare runs on the same split")
    statistics = {metric: (ours.statistic(metric), theirs.statistic(metric),
                           metric in LOWER_IS_BETTER) for metric in metric_names(ours.k)}
    return paired_bootstraps(statistics, len(ours.user_ids),
                             names=(candidate.name, reference.name),
                             n_resamples=config.n_resamples, seed=config.bootstrap_seed,
                             level=config.level, population=population)


def _compare_pairs(results: Mapping[str, VariantResult], pairs: Sequence[tuple[str, str]],
                   config: EvalConfig, population: str) -> list[BootstrapDiff]:
    """`compare_variants` of every pair, with each variant resampled once, not once per pair.

    The resamples depend only on the seed and the number of users, so the answers are
    exactly those of `compare_variants`.
    """
    if not pairs:
        return []
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    per_user = {name: (results[name].per_user if population == ALL_USERS
                       else results[name].slice_per_user(population)) for name in names}
    users = per_user[names[0]].user_ids
    for name in names[1:]:
        if not np.array_equal(per_user[name].user_ids, users):
            raise ValueError(f"{names[0]!r} and {name!r} were evaluated on different test "
                             "users; compare runs on the same split")
    metrics = metric_names(config.k)
    values = resample_statistics(
        {(name, m): per_user[name].statistic(m) for name in names for m in metrics},
        len(users), n_resamples=config.n_resamples, seed=config.bootstrap_seed)
    return [bootstrap_diff(values[(candidate, m)], values[(reference, m)], len(users), metric=m,
                           names=(candidate, reference), lower_is_better=m in LOWER_IS_BETTER,
                           level=config.level, population=population)
            for candidate, reference in pairs for m in metrics]


def _default_pairs(recipes: Mapping[str, Variant]) -> list[tuple[str, str]]:
    if FULL not in recipes:
        return []
    return [(FULL, name) for name in sorted(recipes, key=lambda n: n != IDS_ONLY) if name != FULL]
