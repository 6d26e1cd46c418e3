"""The ablation's report: `report.md`, the cells of its tables, the protocol texts.

Also the table cells the cold-start report shares (`metric_column`, `diff_cell`,
`detectable_row`) and `no_nan`, which writes NaN as JSON null.

Each table of paired differences ends with the smallest difference its users can show
(`detectable_row`: the median over the table's comparisons of
`BootstrapDiff.detectable`, 80% power): a goal "beyond the interval" smaller than
that is not a question these users can answer.

Example:

>>> slice_title("user_history=2-4"), slice_title("user_history=1"), metric_column("disliked@10")
('Users with 2-4 training reviews', 'Users with 1 training review', 'Disliked@10 ↓')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    ALL_USERS,
    LOWER_IS_BETTER,
    metric_label,
    metric_names,
)
from tfrec_sentiment.evaluation.stats import BootstrapDiff, MeanCI
from tfrec_sentiment.markdown import counted

if TYPE_CHECKING:
    from tfrec_sentiment.evaluation.ablation import AblationResult

RELEVANCE = ("relevant items = the user's held-out test items (any rating) that are in the "
             "catalogue of training items and not already seen in training/validation")
# {} = the bucket or bound and "training review(s)", singular for "1" (`slice_title`)
SLICE_TITLES = {"user_history": "Users with {}",
                "item_reviews<": "Held-out items with at most {}"}


def no_nan(value: object) -> object:
    """`value` with every NaN float (in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [no_nan(v) for v in value]
    return value


def interval_cell(interval: MeanCI, digits: int = 4) -> str:
    if math.isnan(interval.mean):
        return "–"
    if interval.n < 2 or math.isnan(interval.half_width):
        return f"{interval.mean:.{digits}f}"
    return f"{interval.mean:.{digits}f} ± {interval.half_width:.{digits}f}"


def protocols(config: EvalConfig) -> dict[str, str]:
    """The definitions behind each metric family, as written into metrics.json."""
    k = config.k
    return {
        "any": RELEVANCE,
        "liked": (f"liked_recall@{k} / liked_ndcg@{k}: relevant = held-out items rated >= "
                  f"{config.liked_min_rating:g}; averaged over the users with at least one "
                  "(liked_users); users with none are excluded"),
        "disliked": (f"disliked@{k}: share of all test users whose top {k} holds a held-out "
                     f"item they rated <= {config.disliked_max_rating:g} (0 for users with "
                     f"none; lower is better); disliked_cond@{k}: the same share among the "
                     "users with such an item (disliked_users)"),
        "slices": (f"user_history=<bucket>: users by training reviews, bucket lower bounds "
                   f"{list(config.history_bounds)}; item_reviews<={config.few_reviews_max}: "
                   "every metric on the held-out rows whose item has at most "
                   f"{config.few_reviews_max} training reviews (ranking still over the full "
                   "catalogue)"),
    }


def slice_title(name: str) -> str:
    """Heading of a slice: "user_history=2-4" -> "Users with 2-4 training reviews"."""
    key, _, value = name.partition("=")
    if key not in SLICE_TITLES:
        return f"{name} {value}"
    return SLICE_TITLES[key].format(f"{value} training review{'' if value == '1' else 's'}")


def ablation_markdown(result: AblationResult) -> str:
    config, counts = result.config, result.counts
    k = config.k
    metrics = metric_names(k)
    rows = result.split_rows
    lines = [f"# {result.title or 'Evaluation'}", "",
             f"- Split: {rows['train']:,} train / {rows['validation']:,} validation / "
             f"{counted(rows['test'], 'test row')}.",
             f"- Rating metrics on {counted(counts['test_rows'], 'test row')} of "
             f"{counted(counts['users'], 'user')} ({counted(counts['dropped_unknown_item'], 'row')}"
             " dropped: item not in training).",
             f"- Top-{k} over the full catalogue of {counted(counts['catalogue'], 'training item')}"
             f", excluding each user's training and validation items; "
             f"{counted(counts['topk_users'], 'user has', 'users have')} a relevant item.",
             f"- {RELEVANCE[0].upper() + RELEVANCE[1:]}; ties in scores count as a random order.",
             f"- Liked Recall@{k} / Liked NDCG@{k}: relevant = held-out items rated >= "
             f"{config.liked_min_rating:g}; over the {counted(counts['liked_users'], 'user')} "
             f"with one ({counted(counts['users'] - counts['liked_users'], 'user')} without a "
             "liked item excluded).",
             f"- Disliked@{k} (lower is better): share of all "
             f"{counted(counts['users'], 'test user')} whose top {k} holds a held-out item "
             f"they rated <= {config.disliked_max_rating:g}; Cond. Disliked@{k}: the same "
             f"among the {counted(counts['disliked_users'], 'user who has', 'users who have')}"
             " such an item."]
    before = counts.get("users_before_sample", counts["users"])
    if before > counts["users"]:
        lines.append(f"- Sampled: {counts['users']:,} of the {before:,} test users, the "
                     "same for every model (first by a fixed hash of the id; "
                     f"evaluation.max_users = {config.max_users:,}).")
    lines += ["", f"## All test users ({counts['users']:,})", ""]
    header = ["model", "seeds", *(metric_column(m) for m in metrics), "seconds"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, variant in result.variants.items():
        summary = variant.summary(config.level)
        seeds = "1 (deterministic)" if variant.deterministic else str(len(variant.seeds))
        cells = [name, seeds, *(interval_cell(summary[m]) for m in metrics),
                 f"{np.mean(variant.seconds):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    spread = any(len(v.seeds) > 1 and not v.deterministic for v in result.variants.values())
    seed_note = (f"± = half-width of the {config.level:.0%} Student-t interval over seeds"
                 if spread else "one seed per model: no spread over seeds to show (several "
                 f"seeds, evaluation.seeds, e.g. `--seeds 0,1,2`, add a {config.level:.0%} "
                 "interval)")
    lines += ["", f"{seed_note[0].upper()}{seed_note[1:]}; seconds = train + evaluate, mean "
              "per seed; ↓ = lower is better; – = no user qualifies."]
    summaries = {name: v.slice_summary(config.level) for name, v in result.variants.items()}
    if result.slice_counts:
        lines += ["", "## By slice", "",
                  "The same metrics on parts of the test users (cells as above)."]
    for part, part_counts in result.slice_counts.items():
        lines += ["", f"### {slice_title(part)}", "",
                  f"{counted(part_counts['users'], 'user')}, "
                  f"{counted(part_counts['test_rows'], 'test row')}; "
                  f"{part_counts['topk_users']:,} with a relevant item, "
                  f"{part_counts['liked_users']:,} with a liked one, "
                  f"{part_counts['disliked_users']:,} with a disliked one.", "",
                  "| " + " | ".join(["model", *(metric_column(m) for m in metrics)]) + " |",
                  "|" + "---|" * (len(metrics) + 1)]
        for name in result.variants:
            cells = [name, *(interval_cell(summaries[name][part][m]) for m in metrics)]
            lines.append("| " + " | ".join(cells) + " |")
    if result.comparisons:
        lines += ["", f"## Paired bootstrap over test users ({config.n_resamples} resamples)", "",
                  f"Candidate − reference, with the {config.level:.0%} percentile interval; "
                  "✔ = the candidate is better beyond the interval. Two-sided shares are in "
                  "metrics.json."]
        groups = {ALL_USERS: result.comparisons}
        for diff in result.slice_comparisons:
            groups.setdefault(diff.population, []).append(diff)
        for population, diffs in groups.items():
            title = (f"All test users ({counts['users']:,})" if population == ALL_USERS
                     else slice_title(population))
            lines += ["", f"### {title}", "",
                      "| " + " | ".join(["candidate − reference",
                                         *(metric_column(m) for m in metrics)]) + " |",
                      "|" + "---|" * (len(metrics) + 1)]
            by_pair: dict[tuple[str, str], dict[str, BootstrapDiff]] = {}
            for diff in diffs:
                by_pair.setdefault((diff.candidate, diff.reference), {})[diff.metric] = diff
            for (candidate, reference), cells in by_pair.items():
                row = [f"{candidate} − {reference}",
                       *(diff_cell(cells[m]) if m in cells else "" for m in metrics)]
                lines.append("| " + " | ".join(row) + " |")
            lines.append(detectable_row(by_pair.values(), metrics))
    return "\n".join(lines) + "\n"


def detectable_row(rows: Iterable[Mapping[str, BootstrapDiff]], metrics: Sequence[str],
                   power: float = 0.8) -> str:
    """The last row of a table of paired differences: per metric, the median over
    `rows` (each metric -> its `BootstrapDiff`) of the minimum detectable difference
    at `power` ("–" where no row defines it). A comparison whose difference is 0 on
    every resample (two models with the same value for every user, e.g. neither ever
    ranks a relevant item of the slice) says nothing about the spread and is left out.

    Example:

    >>> diff = BootstrapDiff("ndcg@10", "a", "b", 0.01, -0.002, 0.022, 0.1, 500, 2000,
    ...                      False, standard_error=0.006)
    >>> detectable_row([{"ndcg@10": diff}], ["ndcg@10", "rmse"])
    '| smallest difference detectable (80% power; median of the rows above) | 0.0168 | – |'
    """
    cells = []
    for metric in metrics:
        values = [row[metric].detectable(power) for row in rows if metric in row
                  and not (row[metric].standard_error == 0 and row[metric].difference == 0)]
        values = [v for v in values if not math.isnan(v)]
        cells.append(f"{float(np.median(values)):.4f}" if values else "–")
    return (f"| smallest difference detectable ({power:.0%} power; median of the rows above) | "
            + " | ".join(cells) + " |")


def metric_column(metric: str) -> str:
    return metric_label(metric) + (" ↓" if metric in LOWER_IS_BETTER else "")


def diff_cell(diff: BootstrapDiff) -> str:
    if math.isnan(diff.difference):
        return "–"
    mark = " ✔" if diff.candidate_better else ""
    return f"{diff.difference:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]{mark}"
