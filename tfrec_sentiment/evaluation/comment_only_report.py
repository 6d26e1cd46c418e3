"""The comment-only protocol's result and report (`comment_only.md`, `comment_only.json`)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from tfrec_sentiment.evaluation.ablation import AblationResult
from tfrec_sentiment.evaluation.ablation_report import no_nan
from tfrec_sentiment.evaluation.evaluate import metric_label
from tfrec_sentiment.markdown import demoted

IMPLICIT = "implicit ids only"
REPORT_FILES = ("comment_only.md", "comment_only.json")
GOAL = 0.10  # the goal: sentiment-graded >= 10% relative over implicit ids only


@dataclasses.dataclass
class CommentOnlyResult:
    """The comment-only table (an `AblationResult`), the validation choice and a
    star-free summary of the pseudo-ratings."""

    ablation: AblationResult
    chosen: str  # the candidate named "the sentiment-graded model"
    selection: dict[str, dict[str, float]]  # candidate -> validation metrics (pseudo)
    pseudo: dict[str, float]  # training rows: mean pseudo-rating, shares read per class
    class_stars: tuple[float, ...]
    sentiment_source: str = "classifier"

    @property
    def headline(self) -> dict[str, float]:
        """Liked NDCG@k and Disliked@k of the chosen candidate vs implicit ids only."""
        k = self.ablation.config.k
        out: dict[str, float] = {}
        for metric in (f"liked_ndcg@{k}", f"disliked@{k}"):
            level = self.ablation.config.level
            graded = self.ablation.variants[self.chosen].summary(level)[metric].mean
            implicit = self.ablation.variants[IMPLICIT].summary(level)[metric].mean
            out[f"{metric} graded"] = graded
            out[f"{metric} implicit"] = implicit
            out[f"{metric} relative"] = (graded / implicit - 1.0 if implicit
                                         else math.nan)
            diff = next((d for d in self.ablation.comparisons if d.metric == metric
                         and (d.candidate, d.reference) == (self.chosen, IMPLICIT)), None)
            if diff is not None:
                out[f"{metric} difference"] = diff.difference
                out[f"{metric} low"], out[f"{metric} high"] = diff.low, diff.high
                out[f"{metric} detectable"] = diff.detectable()
        return out

    def to_dict(self) -> dict:
        """The content of `comment_only.json` (NaN written as null)."""
        return no_nan({"protocol": "comment-only (issue 10): train / validation stars "
                                    "hidden, sentiment pseudo-ratings; test stars for "
                                    "evaluation only",
                        "class_stars": list(self.class_stars), "chosen": self.chosen,
                        "sentiment_source": self.sentiment_source,
                        "goal_relative_liked_ndcg": GOAL, "headline": self.headline,
                        "selection": self.selection, "pseudo_ratings": self.pseudo,
                        "ablation": self.ablation.to_dict()})

    def to_markdown(self) -> str:
        """The report: protocol, headline, validation choice, then the ablation tables."""
        config = self.ablation.config
        k = config.k
        liked, disliked = f"liked_ndcg@{k}", f"disliked@{k}"
        head = self.headline
        lines = ["# Comment-only feedback (stars hidden in training)", "",
                 "- Every model below trained on train / validation with the stars replaced "
                 "by a sentiment pseudo-rating (expected stars under the classifier's "
                 f"probabilities, class stars {tuple(self.class_stars)}) and no helpful "
                 "votes; the test part keeps its stars for the evaluation only. RMSE / "
                 "MAE compare predictions on the pseudo-rating scale with those stars.",
                 f"- Sentiment source: {_SOURCE_TEXT[self.sentiment_source]}.",
                 f"- Training rows: mean pseudo-rating {self.pseudo['mean']:.3f}; read "
                 f"negative {self.pseudo['negative']:.1%}, neutral "
                 f"{self.pseudo['neutral']:.1%}, positive {self.pseudo['positive']:.1%} "
                 "(arg-max class).",
                 f"- Sentiment-graded model = **{self.chosen}**, chosen on validation "
                 f"{metric_label(liked)} where liked = validation comments with a "
                 f"pseudo-rating >= {config.liked_min_rating:g} (no star read).", "",
                 "## Headline", ""]
        for metric in (liked, disliked):
            cell = f"{head[metric + ' graded']:.4f} vs {head[metric + ' implicit']:.4f}"
            relative = head[metric + " relative"]
            if not math.isnan(relative):
                cell += f" ({relative:+.1%} relative)"
            if metric + " difference" in head:
                cell += (f"; paired bootstrap difference {head[metric + ' difference']:+.4f} "
                         f"[{head[metric + ' low']:+.4f}, {head[metric + ' high']:+.4f}]")
                if not math.isnan(head[metric + " detectable"]):
                    cell += (f", smallest difference these users can show "
                             f"{head[metric + ' detectable']:.4f} (80% power)")
            lines.append(f"- {metric_label(metric)}, sentiment-graded vs implicit ids only: "
                         f"{cell}.")
        relative = head[liked + " relative"]
        met = "met" if not math.isnan(relative) and relative >= GOAL else "not met"
        goal = f"- Goal (>= {GOAL:.0%} relative on {metric_label(liked)}): **{met}**"
        detectable = head.get(liked + " detectable", math.nan)
        if not math.isnan(detectable):
            goal += (f"; {GOAL:.0%} is {GOAL * head[liked + ' implicit']:+.4f} here, against "
                     f"{detectable:.4f} detectable at 80% power")
        lines += [goal + ".", "", "## Validation choice (star-free)", "",
                  f"| candidate | validation {metric_label(liked)} (pseudo) | "
                  f"validation NDCG@{k} | chosen |", "|---|---|---|---|"]
        for name, values in self.selection.items():
            lines.append(f"| {name} | {values[liked]:.4f} | {values[f'ndcg@{k}']:.4f} | "
                         f"{'✔' if name == self.chosen else ''} |")
        # The ablation's headings one level down, under this page's title.
        lines += ["", demoted(self.ablation.to_markdown())]
        return "\n".join(lines) + "\n"

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Writes `comment_only.md` and `comment_only.json` into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / REPORT_FILES[0], "json": out / REPORT_FILES[1]}
        paths["markdown"].write_text(self.to_markdown())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return paths


_SOURCE_TEXT = {
    "classifier": "the run's classifier (fine-tuned on training-period stars; it never saw "
                  "a test star)",
    "vader": "the VADER lexicon (it never saw a star; no text embedding)"}
