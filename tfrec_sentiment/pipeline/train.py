"""The whole chain behind `tools/train.py`: data -> sentiment -> aspects -> features ->
recsys -> evaluation -> explanations -> export, into one run folder.

Each stage is a function of the previous stages' outputs and writes its own
sub-folder (the run-folder contract: data/, sentiment/, aspects/, features/, recsys/,
evaluation/; the aspect stages are in `pipeline/aspects.py`), so a later tool
(`tools/export.py`, `tools/update.py`) can load a finished run. Stage wall and CPU
times and peak memory go to `timing.json` (a stage that did not run, e.g. the export
with `export=False`, is listed under "skipped" with its reason, never as 0 s); a
markdown summary to `report.md`.

Example:

>>> from tfrec_sentiment import config as config_lib
>>> run = run_training(config_lib.resolve("smoke"))          # doctest: +SKIP
>>> sorted(run.metrics["evaluation"]["variants"])[:2]         # doctest: +SKIP
['+ ratings/helpful', 'MF (k=10)']
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.aspects.stage import AspectRun
from tfrec_sentiment.data.prepare import PreparedReviews, load_dataset
from tfrec_sentiment.data.splits import COLD, Split, split_reviews
from tfrec_sentiment.distribute.multi_worker import (
    cluster_size,
    remove_worker_write_dir,
    worker_write_dir,
)
from tfrec_sentiment.distribute.strategy import make_strategy
from tfrec_sentiment.evaluation.ablation import (
    FULL,
    IDS_ONLY,
    AblationResult,
    Variant,
    run_ablation,
)
from tfrec_sentiment.evaluation.baselines import baseline_variants
from tfrec_sentiment.evaluation.cold_start import cold_start_skip_reason, run_cold_start
from tfrec_sentiment.evaluation.comment_only import comment_only_skip_reason, comment_only_stage
from tfrec_sentiment.export.preflight import (
    check_export_config,
    estimate_run_export_bytes,
    export_write_errors,
)
from tfrec_sentiment.export.saved_model import export_run
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.markdown import count_table, embedded
from tfrec_sentiment.pipeline import aspects as aspects_lib
from tfrec_sentiment.pipeline.background import start_aspect_parse, start_comment_only
from tfrec_sentiment.pipeline.memory import fit_memory_budget
from tfrec_sentiment.pipeline.stages import (
    TIMING_HEADING,
    StageTimer,
    new_run_dir,
    timing_table,
    write_json,
)
from tfrec_sentiment.pipeline.train_sentiment import plot_history, sentiment_stage
from tfrec_sentiment.privacy import TableEncryption, check_privacy
from tfrec_sentiment.recsys.train import train_recommender
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.sentiment.distillation_texts import check_files
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

# Ablation rows of the recommender: report name -> RecsysConfig.variant.
RECSYS_VARIANTS = {IDS_ONLY: "ids", "+ ratings/helpful": "ratings", FULL: "full"}
# The export stage's reason in timing.json "skipped" when `run_training(export=False)`.
NO_EXPORT = "not asked (export=False, tools/train.py --no-export)"


@dataclasses.dataclass
class TrainRun:
    """What one run produced; everything is also on disk under `run_dir`."""

    run_dir: Path
    split: Split
    sentiment: SentimentModel
    tables: FeatureTables
    recommender: TrainedRecommender
    ablation: AblationResult
    timing: dict
    export_dir: Path | None = None
    aspects: AspectRun | None = None

    @property
    def metrics(self) -> dict:
        return {"evaluation": self.ablation.to_dict(), "timing": self.timing}


def run_training(config: config_lib.RunConfig, run_dir: str | Path | None = None,
                 *, progress: bool = True, export: bool = True) -> TrainRun:
    """Runs every stage of the chain and returns the trained pieces.

    Args:
        config: the resolved run config (see `tfrec_sentiment.config.resolve`).
        run_dir: the run folder; default `<run_root>/<name>-<timestamp>`.
        progress: progress bars on the long stages.
        export: end with the SavedModel export; the export folder is then checked
            first (`export.preflight.check_export_root`: creatable, writable, room
            for the estimated size), before any work.

    Raises:
        ExportRootError: the export folder cannot take the SavedModel (before
            training), or writing it failed for lack of space or permission.
        ConfigError: a student's `sentiment.student_extra_texts` file is missing
            (before any work).

    Strategy "multi_worker" (TF_CONFIG set on every worker): each worker runs this
    with the SAME `run_dir` on a shared file system and `sentiment.model_dir` set
    (Keras 3 cannot fine-tune under MultiWorkerMirroredStrategy). The chief writes
    the run folder and the export; the other workers write a temporary folder
    inside it, removed at the end, except the recommender's backup, which all share.
    """
    check_multi_worker(config, run_dir)
    if config.sentiment.student_layers:  # the student's other review files: there?
        check_files(config.sentiment.student_extra_texts)
    encryption = check_privacy(config, export)
    if export:
        check_export_config(config.export, estimate_run_export_bytes(config))
    strategy = make_strategy(config.strategy, config.replicas)  # before any other op
    run_dir = new_run_dir(config, run_dir)
    out = worker_write_dir(run_dir, strategy)  # this worker's outputs (run_dir on the chief)
    timer = StageTimer()
    with timer("data"):
        _, split = data_stage(config, out, encryption)
        config, _ = fit_memory_budget(config, split, out)  # adapts, or stops here
    # pipeline/background.py: child processes beside the chain (or None: in this one)
    parse, comment_only = start_aspect_parse(config, out, encryption), None
    try:
        with timer("sentiment"):
            sentiment, train_scores = sentiment_stage(config, split, out, strategy, progress,
                                                      encryption)
        aspects = aspects_lib.timed_aspects_stage(timer, config, split, sentiment, out,
                                                  progress, encryption, parse)
        # after the aspects stage's BERT scoring: beside the single-threaded stages
        comment_only = start_comment_only(config, out)
        with timer("features"):
            tables = feature_stage(config, split, train_scores, out, encryption, aspects)
        with timer("recsys"):
            recommender = recsys_stage(config, split, tables, run_dir, strategy, progress)
        with timer("evaluation"):
            ablation, ids_only = evaluation_stage(config, split, tables, recommender, out,
                                                  strategy, progress)
        aspects_lib.timed_explanations_stage(timer, config, split, aspects, out, progress)
        if (reason := cold_start_skip_reason(config, split)) is not None:
            timer.skip("cold_start", reason)
        else:
            with timer("cold_start"):
                run_cold_start(config, split, tables, recommender, sentiment,
                               out / "evaluation", ids_only=ids_only, strategy=strategy,
                               progress=progress)
        if (reason := comment_only_skip_reason(config)) is not None:
            timer.skip("comment_only", reason)
        elif comment_only is not None:
            with timer("comment_only"):
                usage = comment_only.join()
            timer.add_background("comment_only", usage.seconds, usage.cpu_seconds,
                                 usage.peak_rss_mib, whole_stage=True)
        else:
            with timer("comment_only"):
                comment_only_stage(config, split, sentiment, train_scores, out,
                                   strategy=strategy, progress=progress)
    finally:
        for job in (parse, comment_only):  # only a failed run leaves one running
            if job is not None:
                job.stop()
    export_dir = None
    if not export:
        timer.skip("export", NO_EXPORT)
    else:
        with timer("export"):
            export_config = config.export if out == run_dir else dataclasses.replace(
                config.export, root=str(out / "saved_models"))
            export_dir = export_stage(dataclasses.replace(config, export=export_config), out,
                                      sentiment, recommender)
    timing = timer.to_dict()
    write_json(out / "timing.json", timing)
    run = TrainRun(out, split, sentiment, tables, recommender, ablation, timing, export_dir,
                   aspects)
    write_run_report(run)
    remove_worker_write_dir(run_dir, strategy)
    return run


def check_multi_worker(config: config_lib.RunConfig, run_dir: str | Path | None) -> None:
    """Raises ValueError when a multi-worker run lacks a shared run_dir or a sentiment model.

    Reads only the config and TF_CONFIG, so tools can call it before TensorFlow starts.
    """
    if config.strategy != "multi_worker" or cluster_size() < 2:
        return
    if run_dir is None:
        raise ValueError("strategy 'multi_worker': give every worker the same run_dir "
                         "(--run-dir), on a file system all workers share")
    if not config.sentiment.model_dir:
        raise ValueError("strategy 'multi_worker': set sentiment.model_dir to a fine-tuned "
                         "model (tools/train_sentiment.py); Keras 3 cannot fine-tune under "
                         "MultiWorkerMirroredStrategy")


def data_stage(config: config_lib.RunConfig, run_dir: Path,
               encryption: TableEncryption | None = None) -> tuple[PreparedReviews, Split]:
    """Reads, cleans and splits the reviews; writes `data/` (encrypted with `encryption`)."""
    data = config.data
    prepared = load_dataset(data.dataset, format=data.format, columns=data.columns or None,
                            config=data, seed=config.seed)
    prepared.save(run_dir / "data", encryption)
    split = split_reviews(prepared.reviews, data)
    split.save(run_dir / "data", encryption)
    return prepared, split


def feature_stage(config: config_lib.RunConfig, split: Split, scores: Scores,
                  run_dir: Path, encryption: TableEncryption | None = None,
                  aspects: AspectRun | None = None) -> FeatureTables:
    """Builds the leak-free feature tables from the train split (with the "aspect"
    group when the aspects stage ran); writes `features/`."""
    tables = build_feature_tables(split.train, scores.probabilities, scores.embedding,
                                  config.features,
                                  aspects=aspects_lib.aspect_arrays(config, aspects))
    tables.save(run_dir / "features", encryption)
    return tables


def recsys_stage(config: config_lib.RunConfig, split: Split, tables: FeatureTables,
                 run_dir: Path, strategy: tf.distribute.Strategy,
                 progress: bool) -> TrainedRecommender:
    """Trains the full model with the run's seed; writes `recsys/` (the export's input)."""
    settings = dataclasses.replace(config.recsys, variant="full")
    recommender = train_recommender(settings, split, tables, strategy, run_dir / "recsys",
                                    seed=config.seed, progress=progress, fit_new_users=True)
    plot_history(recommender.history, run_dir / "recsys" / "training_curves.png",
                 "recommender (full)")
    if recommender.blend is not None:  # score_mode "learned": weights fitted on validation
        text = ("Learned score weights by user-history bucket (fitted on validation; "
                "objective: mean of NDCG@10 any / liked)\n\n" + recommender.blend.table() + "\n")
        held_out = recommender.blend.report["all"].get("cross_fit_held_out")
        if held_out:  # recsys.blend_rule "cross_fit": how each way of fitting did held out
            text += ("\nCross-fit on validation users (held-out objective): " + ", ".join(
                f"{name} {value:.4f}" for name, value in held_out.items()) + "\n")
        if recommender.new_user_blend is not None:
            text += ("\nNew users scored from their reviews (bucket = reviews given; fitted on "
                     "validation users given their first reviews; `recsys.blend`)\n\n"
                     + recommender.new_user_blend.table() + "\n")
        (run_dir / "recsys" / "blend.md").write_text(text)
    return recommender


def evaluation_stage(config: config_lib.RunConfig, split: Split, tables: FeatureTables,
                     recommender: TrainedRecommender, run_dir: Path,
                     strategy: tf.distribute.Strategy, progress: bool
                     ) -> tuple[AblationResult, TrainedRecommender | None]:
    """Baselines and the recommender's ablation, all on the same split and seeds.

    Returns:
        (the ablation, the ids-only model trained with the run's seed, or None when
        that seed is not an evaluation seed): the cold-start protocol reuses it.
    """
    kept: dict[str, TrainedRecommender] = {}

    def trainer(variant: str):
        settings = dataclasses.replace(config.recsys, variant=variant)

        def train(seed: int) -> TrainedRecommender:
            if variant == "full" and seed == config.seed:
                return recommender  # trained by the recsys stage already
            model = train_recommender(settings, split, tables, strategy, seed=seed)
            if variant == "ids" and seed == config.seed:
                kept["ids"] = model
            return model
        return train

    variants: dict[str, Variant] = dict(
        baseline_variants(split, mf_factors=config.evaluation.mf_factors))
    for name, variant in aspects_lib.recsys_variants(config, tables, RECSYS_VARIANTS).items():
        variants[name] = Variant(trainer(variant))
    # The recsys stage's model (trained with `config.seed`) is reused when that seed
    # is one of the evaluation seeds, so the exported model is one of those evaluated.
    result = run_ablation(variants, split, run_dir / "evaluation", config=config.evaluation,
                          title=config.title,
                          progress=progress)
    return result, kept.get("ids")


def export_stage(config: config_lib.RunConfig, run_dir: Path, sentiment: SentimentModel,
                 recommender: TrainedRecommender) -> Path:
    """Writes the one SavedModel; returns its version folder.

    Raises:
        ExportRootError: no space or no permission to write it (one line).
    """
    with export_write_errors(Path(config.export.root) / config.export.model_name):
        return export_run(run_dir, config.export, sentiment=sentiment,
                          recommender=recommender)


def write_run_report(run: TrainRun) -> Path:
    """`report.md` at the run root: data, sentiment, ablation, learned score, the
    cold-start and comment-only protocols and timing in one page: one `# ` title, each
    stage's own report a `## ` section (`markdown.embedded`)."""
    lines = [f"# Run `{run.run_dir.name}`", "", "## Data", "",
             count_table(("part", "rows"), run.split.sizes), ""]
    if run.split.sizes.get(COLD):
        lines += [f"{COLD}: every review of the users held out for the cold-start protocol "
                  "(in no other part).", ""]
    sentiment_md = run.run_dir / "sentiment" / "metrics.md"
    if sentiment_md.is_file():
        lines += [embedded("Sentiment", sentiment_md.read_text()), ""]
    title = getattr(run.ablation, "title", None)  # "<run name>: <data set>"
    lines += [embedded("Recommendation" + (f" — {title}" if title else ""),
                       run.ablation.to_markdown()), ""]
    sections = (("Learned score", run.run_dir / "recsys" / "blend.md"),
                ("Aspects", run.run_dir / "aspects" / "report.md"),
                ("Explanation quality", run.run_dir / "evaluation" / "explanations.md"),
                ("Cold-start users", run.run_dir / "evaluation" / "cold_start.md"),
                ("Comment-only feedback", run.run_dir / "evaluation" / "comment_only.md"))
    for section, path in sections:
        if path.is_file():  # each file's own `# ` title gives way to the section's
            lines += [embedded(section, path.read_text()), ""]
    lines += [f"## {TIMING_HEADING}", "", timing_table(run.timing)]
    if run.export_dir is not None:
        lines += ["", f"Exported SavedModel: `{run.export_dir}`"]
    path = run.run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
