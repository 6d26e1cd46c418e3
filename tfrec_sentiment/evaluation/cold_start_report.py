"""One k of the cold-start protocol: every model's metrics, the comparisons, the table;
the report files of every k (`save_cold_start`)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path

from tfrec_sentiment.evaluation.ablation_report import (
    detectable_row,
    diff_cell,
    metric_column,
    no_nan,
)
from tfrec_sentiment.evaluation.evaluate import EvalResult, metric_names
from tfrec_sentiment.evaluation.stats import BootstrapDiff
from tfrec_sentiment.markdown import counted

REPORT_FILES = ("cold_start.md", "cold_start.json")


@dataclasses.dataclass
class ColdStartResult:
    """Every model's metrics for one k, and the paired bootstrap comparisons."""

    k: int
    topk: int
    counts: dict[str, int]
    results: dict[str, EvalResult]
    comparisons: list[BootstrapDiff]

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return tuple(m for m in metric_names(self.topk) if m not in ("rmse", "mae"))

    def to_dict(self) -> dict:
        return no_nan({
            "k_given": self.k, "top_k": self.topk, "counts": self.counts,
            "models": {name: {"metrics": {m: r.metrics[m] for m in self.metric_keys},
                              "counts": r.counts} for name, r in self.results.items()},
            "comparisons": [d.to_dict() for d in self.comparisons]})

    def to_markdown(self) -> str:
        c = self.counts
        keys = self.metric_keys
        lines = [f"## k = {counted(self.k, 'given review')}", "",
                 f"{counted(c['users'], 'cold user')} with more than "
                 f"{counted(self.k, 'review')} "
                 f"({c['too_few_reviews']:,} with fewer left out, {c['seen_in_training']:,} "
                 f"seen in training skipped); {c['given_rows']:,} given, "
                 f"{counted(c['later_rows'], 'later review')} "
                 f"({c['dropped_unknown_item']:,} of them dropped: their item is unknown to "
                 "training); "
                 f"catalogue {counted(c['catalogue'], 'item')}.", "",
                 "| model | " + " | ".join(metric_column(m) for m in keys) + " |",
                 "|---|" + "---|" * len(keys)]
        for name, result in self.results.items():
            cells = [("–" if math.isnan(result.metrics[m]) else f"{result.metrics[m]:.4f}")
                     for m in keys]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Paired bootstrap over users (difference [95% interval]; ✔ = the "
                  "interval is on the first model's better side):", "",
                  "| comparison | " + " | ".join(metric_column(m) for m in keys) + " |",
                  "|---|" + "---|" * len(keys)]
        by_pair: dict[tuple[str, str], dict[str, BootstrapDiff]] = {}
        for diff in self.comparisons:
            by_pair.setdefault((diff.candidate, diff.reference), {})[diff.metric] = diff
        for (candidate, reference), cells in by_pair.items():
            lines.append(f"| {candidate} − {reference} | "
                         + " | ".join(diff_cell(cells[m]) for m in keys) + " |")
        lines.append(detectable_row(by_pair.values(), keys))
        return "\n".join(lines) + "\n"


def save_cold_start(results: Mapping[int, ColdStartResult], out_dir: str | Path,
                    title: str = "") -> dict[str, Path]:
    """Writes `cold_start.md` (one table per k) and `cold_start.json`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = [f"# Cold-start users{': ' + title if title else ''}", "",
            "Users held out whole from training (data.cold_user_share); each is given "
            "the first k reviews (text, stars, item) and the models rank the catalogue "
            "(training items, the given ones excluded) for the later reviews. Ranking "
            "metrics only; ↓ = lower is better.", ""]
    text += [result.to_markdown() for result in results.values()]
    paths = {"markdown": out_dir / REPORT_FILES[0], "json": out_dir / REPORT_FILES[1]}
    paths["markdown"].write_text("\n".join(text))
    paths["json"].write_text(json.dumps(
        {str(k): r.to_dict() for k, r in results.items()}, indent=1) + "\n")
    return paths
