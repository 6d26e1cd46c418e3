"""The ablation runner: every variant on the same split and seeds, one table, one chart.

Give it named trainers (`seed -> Recommender`), for example the baselines of
`baselines.baseline_variants(split)` and the TFRS variants "ids only", "+ ratings/helpful"
and "full" (+ sentiment). Each non-deterministic variant is trained and scored once per
seed; deterministic ones (the closed-form baselines) once, marked as such in the table.
It reports, per variant, the per-seed metrics, their mean and a Student-t interval over
seeds, and for chosen pairs a paired bootstrap over test users of the seed-averaged
per-user metrics (by default "full" against every other variant, "ids only" first).

`AblationResult.save(out_dir)` writes the run folder's `evaluation/` files:
`metrics.json`, `report.md` and `ablation.png`.

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

from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    LOWER_IS_BETTER,
    EvalResult,
    UserMetrics,
    evaluate_split,
    metric_label,
    metric_names,
)
from tfrec_sentiment.evaluation.plots import plot_ablation
from tfrec_sentiment.evaluation.protocol import Recommender, SplitLike
from tfrec_sentiment.evaluation.stats import BootstrapDiff, MeanCI, mean_ci, paired_bootstrap

FULL = "full"
IDS_ONLY = "ids only"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
CHART_FILE = "ablation.png"
RELEVANCE = ("relevant items = the user's held-out test items (any rating) that are in the "
             "catalogue of training items and not already seen in training/validation")

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

    @property
    def per_user(self) -> UserMetrics:
        """Per-user metrics averaged over seeds (for the paired bootstrap)."""
        return UserMetrics.average([run.per_user for run in self.runs])

    def summary(self, level: float) -> dict[str, MeanCI]:
        """metric -> mean over seeds with its interval (a zero-width one when deterministic)."""
        out = {}
        for metric in self.runs[0].metrics:
            interval = mean_ci([run.metrics[metric] for run in self.runs], level)
            if self.deterministic:
                interval = MeanCI(interval.mean, interval.mean, interval.mean, 1, level)
            out[metric] = interval
        return out


@dataclasses.dataclass
class AblationResult:
    """All variants' results on one split, the bootstrap comparisons, and the writers."""

    variants: dict[str, VariantResult]
    comparisons: list[BootstrapDiff]
    config: EvalConfig
    split_rows: dict[str, int]
    title: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Row and user counts of the evaluation (the same for every variant)."""
        return next(iter(self.variants.values())).runs[0].counts

    def to_dict(self) -> dict:
        """The content of `metrics.json` (NaN written as null)."""
        variants = {}
        for name, result in self.variants.items():
            summary = result.summary(self.config.level)
            variants[name] = {
                "deterministic": result.deterministic,
                "seeds": result.seeds,
                "per_seed": [run.metrics for run in result.runs],
                "mean": {m: s.mean for m, s in summary.items()},
                "ci": {m: [s.low, s.high] for m, s in summary.items()},
                "seconds": result.seconds,
            }
        return _no_nan({
            "title": self.title, "k": self.config.k, "level": self.config.level,
            "relevance": RELEVANCE, "split_rows": self.split_rows, "counts": self.counts,
            "variants": variants,
            "comparisons": [c.to_dict() for c in self.comparisons],
        })

    def to_markdown(self) -> str:
        """The report: one metrics table and the bootstrap table."""
        return _markdown(self)

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Writes metrics.json, report.md and ablation.png into `out_dir`; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"metrics": out / METRICS_FILE, "report": out / REPORT_FILE,
                 "chart": out / CHART_FILE}
        paths["metrics"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["report"].write_text(self.to_markdown())
        summaries = {name: r.summary(self.config.level) for name, r in self.variants.items()}
        metrics = ("rmse", f"ndcg@{self.config.k}", f"recall@{self.config.k}")
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
        result.runs.append(evaluate_split(model, split, k=config.k, catalogue=catalogue,
                                          drop_unknown_items=config.drop_unknown_items,
                                          max_elements=config.max_elements))
        result.seeds.append(seed)
        result.seconds.append(time.perf_counter() - start)
    comparisons = [diff for candidate, reference in pairs
                   for diff in compare_variants(results[candidate], results[reference], config)]
    ablation = AblationResult(results, comparisons, config, title=title, split_rows={
        "train": len(split.train), "validation": len(split.validation), "test": len(split.test)})
    if out_dir is not None:
        ablation.save(out_dir)
    return ablation


def compare_variants(candidate: VariantResult, reference: VariantResult,
                     config: EvalConfig | None = None) -> list[BootstrapDiff]:
    """Paired bootstrap over test users of every metric, candidate - reference.

    Uses each variant's per-user metrics averaged over its seeds; the same users must
    have been evaluated (same split), and every metric uses the same resamples.
    """
    config = config or EvalConfig()
    ours, theirs = candidate.per_user, reference.per_user
    if not np.array_equal(ours.user_ids, theirs.user_ids):
        raise ValueError(f"{candidate.name!r} and {reference.name!r} were evaluated on "
                         "different test users; compare runs on the same split")
    return [paired_bootstrap(ours.statistic(metric), theirs.statistic(metric),
                             len(ours.user_ids), metric=metric,
                             names=(candidate.name, reference.name),
                             lower_is_better=metric in LOWER_IS_BETTER,
                             n_resamples=config.n_resamples, seed=config.bootstrap_seed,
                             level=config.level)
            for metric in metric_names(ours.k)]


def _default_pairs(recipes: Mapping[str, Variant]) -> list[tuple[str, str]]:
    if FULL not in recipes:
        return []
    return [(FULL, name) for name in sorted(recipes, key=lambda n: n != IDS_ONLY) if name != FULL]


def _no_nan(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    return value


def _cell(interval: MeanCI, digits: int = 4) -> str:
    if interval.n < 2 or math.isnan(interval.half_width):
        return f"{interval.mean:.{digits}f}"
    return f"{interval.mean:.{digits}f} ± {interval.half_width:.{digits}f}"


def _markdown(result: AblationResult) -> str:
    config, counts = result.config, result.counts
    metrics = metric_names(config.k)
    header = ["model", "seeds", *(metric_label(m) for m in metrics), "seconds"]
    rows = result.split_rows
    lines = [f"# {result.title or 'Evaluation'}", "",
             f"- Split: {rows['train']:,} train / {rows['validation']:,} validation / "
             f"{rows['test']:,} test rows.",
             f"- Rating metrics on {counts['test_rows']:,} test rows of {counts['users']:,} "
             f"users ({counts['dropped_unknown_item']:,} rows dropped: item not in training).",
             f"- Top-{config.k} over the full catalogue of {counts['catalogue']:,} training "
             f"items, excluding each user's training and validation items; "
             f"{counts['topk_users']:,} users have a relevant item.",
             f"- {RELEVANCE[0].upper() + RELEVANCE[1:]}; ties in scores count as a random order.",
             "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, variant in result.variants.items():
        summary = variant.summary(config.level)
        seeds = "1 (deterministic)" if variant.deterministic else str(len(variant.seeds))
        cells = [name, seeds, *(_cell(summary[m]) for m in metrics),
                 f"{np.mean(variant.seconds):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"± = half-width of the {config.level:.0%} Student-t interval over seeds; "
              "seconds = train + evaluate, mean per seed."]
    if result.comparisons:
        lines += ["", f"## Paired bootstrap over test users ({config.n_resamples} resamples)", "",
                  "| candidate − reference | metric | difference | "
                  f"{config.level:.0%} interval | share | candidate better |",
                  "|---|---|---|---|---|---|"]
        for diff in result.comparisons:
            lines.append(f"| {diff.candidate} − {diff.reference} | {metric_label(diff.metric)} | "
                         f"{diff.difference:+.4f} | [{diff.low:+.4f}, {diff.high:+.4f}] | "
                         f"{diff.share:.3f} | {'yes' if diff.candidate_better else 'no'} |")
        lines += ["", "share = two-sided bootstrap share of resampled differences across zero "
                  "(p-value-like); better = the whole interval is on the better side."]
    return "\n".join(lines) + "\n"
