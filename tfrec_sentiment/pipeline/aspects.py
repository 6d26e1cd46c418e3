"""The training run's two aspect stages: `aspects` (after sentiment) and `explanations`
(after the evaluation), and the `aspects` ablation variant's name.

- `aspects_stage`: the training reviews' vocabulary, scored mentions and profiles
  (`aspects.stage.run_aspects`), written to `<run>/aspects/` with a one-page
  `report.md` (the spaCy step's counts, the top aspects); its per-review arrays feed
  the feature tables' "aspect" group (`features/aspects.py`).
- `explanations_stage`: explanation quality on the test split
  (`evaluation/explanations.py`) and the aspect polarity plot, in `<run>/evaluation/`.

Example:

>>> run = aspects_stage(config, split, sentiment, run_dir, progress=False)  # doctest: +SKIP
>>> explanations_stage(config, split, run, run_dir)                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.aspects.profiles import POLARITY_COLUMNS
from tfrec_sentiment.aspects.stage import (
    PARSED_IN_BACKGROUND,
    RESULT_FILES,
    AspectRun,
    explanation_mentions,
    run_aspects,
)
from tfrec_sentiment.evaluation.explanations import evaluate_explanations, save_explanations
from tfrec_sentiment.evaluation.plots import plot_aspect_polarity
from tfrec_sentiment.features.aspects import AspectArrays
from tfrec_sentiment.markdown import counted
from tfrec_sentiment.pipeline.background import (
    BackgroundJob,
    join_aspect_parse,
    note_parse_removed,
)
from tfrec_sentiment.pipeline.stages import StageTimer
from tfrec_sentiment.sentiment.inference import run_score_cache, scoring_options

if TYPE_CHECKING:
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.features.tables import FeatureTables
    from tfrec_sentiment.privacy import TableEncryption
    from tfrec_sentiment.sentiment.model import SentimentModel

# The ablation row of the recommender with the aspect group (RecsysConfig.variant).
ASPECTS_VARIANT = ("+ aspects", "aspects")
PLOT_FILE = "aspects.png"
# The spaCy step's counts, as the report names them (`LinguisticPipeline.counts`).
SPACY_COUNTS = {"reviews": "reviews parsed", "sentences": "sentences", "tokens": "tokens",
                "stop_words": "stop-word tokens (left out of the vocabulary)",
                "truncated": "texts cut at linguistic.max_chars"}


def aspects_skip_reason(config: config_lib.RunConfig) -> str | None:
    """Why the aspects stages do not run, or None when they do."""
    return None if config.aspects.enabled else "aspects.enabled is off"


def aspects_stage(config: config_lib.RunConfig, split: Split, sentiment: SentimentModel,
                  run_dir: Path, progress: bool = False,
                  encryption: TableEncryption | None = None,
                  parsed: Path | None = None) -> AspectRun:
    """Runs `run_aspects` on the train split; writes `<run>/aspects/` and its report.

    `parsed`: the file of the background parse (`pipeline.background.join_aspect_parse`);
    None parses here.
    """
    cache = run_score_cache(config.sentiment, run_dir, encryption)
    run = run_aspects(config.aspects, split.train, sentiment, run_dir / "aspects",
                      cache=cache, score_options=scoring_options(config.sentiment),
                      progress=progress, encryption=encryption, parsed=parsed)
    (run_dir / "aspects" / "report.md").write_text(aspects_markdown(run))
    return run


def timed_aspects_stage(timer: StageTimer, config: config_lib.RunConfig, split: Split,
                        sentiment: SentimentModel, run_dir: Path, progress: bool = False,
                        encryption: TableEncryption | None = None,
                        parse_job: BackgroundJob | None = None) -> AspectRun | None:
    """`aspects_stage` timed as "aspects", or recorded as skipped (then None).

    `parse_job`: the background parse (`pipeline.background.start_aspect_parse`),
    joined here; its child's usage is recorded with `StageTimer.add_background`, and
    its log says that its file, read by the stage, is removed.
    """
    if (reason := aspects_skip_reason(config)) is not None:
        timer.skip("aspects", reason)
        return None
    usage = None
    with timer("aspects"):
        parsed = None
        if parse_job is not None:
            parsed, usage = join_aspect_parse(parse_job, run_dir)
        run = aspects_stage(config, split, sentiment, run_dir, progress, encryption, parsed)
    if parse_job is not None:
        note_parse_removed(parse_job, parsed, RESULT_FILES)
    if usage is not None:
        timer.add_background("aspects", usage.seconds, usage.cpu_seconds, usage.peak_rss_mib)
    return run


def timed_explanations_stage(timer: StageTimer, config: config_lib.RunConfig, split: Split,
                             run: AspectRun | None, run_dir: Path,
                             progress: bool = False) -> dict | None:
    """`explanations_stage` timed as "explanations", or skipped when `run` is None."""
    if run is None:
        timer.skip("explanations", aspects_skip_reason(config) or "no aspects stage")
        return None
    with timer("explanations"):
        return explanations_stage(config, split, run, run_dir, progress)


def recsys_variants(config: config_lib.RunConfig, tables: FeatureTables,
                    variants: Mapping[str, str]) -> dict[str, str]:
    """The ablation's recommender rows (name -> `RecsysConfig.variant`): `variants`,
    and `ASPECTS_VARIANT` when the tables have the aspect group and
    `aspects.ablation` is on."""
    out = dict(variants)
    if tables.aspects is not None and config.aspects.ablation:
        out[ASPECTS_VARIANT[0]] = ASPECTS_VARIANT[1]
    return out


def aspect_arrays(config: config_lib.RunConfig, run: AspectRun | None) -> AspectArrays | None:
    """The feature tables' aspect input of a stage's run (None without one)."""
    if run is None:
        return None
    return AspectArrays(run.vocabulary.terms, run.counts, run.polarity,
                        prior_strength=config.aspects.prior_strength,
                        attention_strength=config.aspects.attention_strength)


def _parse_place(summary: dict) -> str:
    """Where spaCy's parse ran: in a background process its seconds above are only the
    reading of its results (the process's own time is in timing.json)."""
    if summary.get("spacy_parse") != PARSED_IN_BACKGROUND:
        return ""
    return (" spaCy parsed in a background process: the spacy seconds are the reading of "
            "its results; its own wall and CPU time are under \"background\" in timing.json.")


def aspects_markdown(run: AspectRun, top: int = 10) -> str:
    """`aspects/report.md`: the spaCy step's counts, mentions, and the top aspects."""
    summary = run.summary
    lines = ["# Aspects", "",
             f"Training reviews parsed: {summary['parsed_reviews']:,} of "
             f"{summary['training_reviews']:,}; {counted(summary['aspects'], 'aspect')}; "
             f"{counted(summary['mentions'], 'mention')} in "
             f"{counted(summary['reviews_with_mentions'], 'review')}; "
             f"polarity: {summary['polarity']}. Seconds: "
             + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()) + "."
             + _parse_place(summary), "",
             "| spaCy step | count |", "|---|---|"]
    lines += [f"| {label} | {summary['spacy'].get(key, 0)} |"
              for key, label in SPACY_COUNTS.items()]
    profiles = run.profiles
    mentions = profiles.item_mentions.sum(axis=0)
    order = np.argsort(-mentions, kind="stable")[:top]
    lines += ["", f"| aspect (top {len(order)} by mentions) | mentions | items | "
              "mean item polarity | population attention |", "|---|---|---|---|---|"]
    for j in order:
        items = profiles.item_mentions[:, j] > 0
        mean = float(profiles.item_polarity[items, j].mean()) if items.any() else 0.0
        lines.append(f"| {profiles.aspects[j]} | {int(mentions[j])} | {int(items.sum())} | "
                     f"{mean:+.3f} | {profiles.population_attention[j]:.3f} |")
    return "\n".join(lines) + "\n"


def explanations_stage(config: config_lib.RunConfig, split: Split, run: AspectRun,
                       run_dir: Path, progress: bool = False) -> dict:
    """Explanation quality on the test split and the aspect polarity plot.

    The test reviews are parsed here (their aspects are the relevance labels); they
    never reach the profiles, which the aspects stage built from the train split.
    """
    settings = config.aspects
    out = run_dir / "evaluation"
    mentioned = explanation_mentions(run, split.test, progress)
    result = evaluate_explanations(run.profiles, split.test, mentioned,
                                   k=settings.explanation_k, seed=settings.explanation_seed)
    save_explanations(result, out, title=f"Explanation quality ({config.name}, test split)")
    column = POLARITY_COLUMNS[settings.polarity]
    if len(run.mentions):
        grouped = run.mentions.groupby("aspect")[column]
        plot_aspect_polarity({a: v.to_numpy() for a, v in grouped}, out / PLOT_FILE,
                             title=f"{config.name}: training mentions by aspect "
                                   f"({settings.polarity} polarity)")
    return result
