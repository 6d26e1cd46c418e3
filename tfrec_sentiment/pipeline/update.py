"""The feedback update behind `tools/update.py`: new reviews in, maybe a new version out.

    parent run --(feedback files)--> updated run --(guardrail)--> saved_models/<name>/<v+1>/

1. data: the feedback files are ingested like training data, mapped onto the run's
   products and reconciled with its history (`pipeline.feedback`); the newest share
   of the new reviews is held out as the evaluation slice.
2. sentiment: the parent's classifier (unchanged; its folder is hard-linked into the
   new run) scores every training review through the score cache, so only new texts
   cost a BERT pass.
3. features: the tables are rebuilt on the updated history with the PARENT's profile
   prior, normalisation statistics and global mean (`recsys.warm_start.refresh_tables`:
   they are constants of the model's layers).
4. recsys: warm start (`recsys.warm_start`): the parent's weights, id tables grown
   by id for new users and items, then `UpdateConfig.epochs` epochs of training.
5. guardrail: the candidate and the currently published version (the newest
   integer folder, loaded as TF Serving would) are scored on the evaluation slice
   through the same `rank` function (`pipeline.guardrail`); publish only if no
   guarded metric is worse beyond the relative tolerance (`force` overrides).
6. export: publish = `export.saved_model.export_run` (staged, audited, renamed into
   place as the next integer version), then keep the newest `keep_versions`.

The updated run folder has the run-folder layout (data/, sentiment/, features/,
recsys/, evaluation/), so `tools/export.py` and a later update can start from it,
plus its lineage:

    lineage.json     parent run, generation, feedback files (sha256, counts), growth,
                     published version; "complete": true once the update finished
    decision.json    the guardrail's checks and the outcome (status published /
                     refused / failed, with the error if it failed)
    data/feedback/<i>/  each feedback file's ingestion (reviews, report, rejected lines)
    data/update.json the reconciliation counts (new / already known / updated / repeated)

A crash at any point leaves the published versions as they were: nothing is
published before the decision, and a version appears only by the export's rename.

Example:

>>> result = run_update("runs/demo-20260101-120000", ["feedback.jsonl"])  # doctest: +SKIP
>>> result.decision.status, result.version_dir                           # doctest: +SKIP
('published', PosixPath('saved_models/tfrec_sentiment/2'))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.evaluate import EvalResult, evaluate
from tfrec_sentiment.evaluation.stats import paired_bootstrap
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData, fold_feedback
from tfrec_sentiment.pipeline.guardrail import Check, RankRecommender, judge, load_published
from tfrec_sentiment.pipeline.stages import StageTimer, write_json
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.recsys.warm_start import refresh_tables, warm_start_recommender
from tfrec_sentiment.sentiment.inference import ScoreCache
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

log = logging.getLogger(__name__)

LINEAGE_FILE = "lineage.json"
DECISION_FILE = "decision.json"


class UpdateError(RuntimeError):
    """The update cannot run (names the run folder or file and what is wrong)."""


@dataclasses.dataclass
class Decision:
    """The guardrail's verdict and what became of it.

    Attributes:
        publish: whether the candidate is (to be) published.
        reason: one line saying why.
        forced: `force` was set.
        tolerance: the relative tolerance of the checks.
        compared_version: the published version the candidate met (None: none).
        checks: one `Check` per guarded metric (empty without a comparison).
        status: "decided", then "published" / "refused"; "failed" after a crash.
        version: the version published, if any.
        pruned: versions deleted after publishing.
        error: the exception, if the update failed.
    """

    publish: bool
    reason: str
    forced: bool
    tolerance: float
    compared_version: int | None
    checks: list[Check] = dataclasses.field(default_factory=list)
    status: str = "decided"
    version: int | None = None
    pruned: list[int] = dataclasses.field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class UpdateState:
    """What the update has produced so far (given to the `hook` at each stage)."""

    run_dir: Path
    parent: Path
    feedback: FeedbackData | None = None
    sentiment: SentimentModel | None = None
    tables: FeatureTables | None = None
    candidate: TrainedRecommender | None = None
    evaluation: dict | None = None
    decision: Decision | None = None
    version_dir: Path | None = None


@dataclasses.dataclass
class UpdateResult:
    """The finished update: its run folder, decision and (if published) version folder."""

    run_dir: Path
    decision: Decision
    version_dir: Path | None
    candidate: TrainedRecommender
    evaluation: dict
    timing: dict


Hook = Callable[[str, UpdateState], None]


def run_update(parent_dir: str | Path, feedback: Sequence[str | Path],
               config: UpdateConfig | None = None, *, format: str | None = None,
               columns: Sequence[str] | None = None, export: ExportConfig | None = None,
               run_dir: str | Path | None = None,
               strategy: tf.distribute.Strategy | None = None, progress: bool = True,
               hook: Hook | None = None) -> UpdateResult:
    """Folds feedback into a finished run and publishes the result if it is not worse.

    Args:
        parent_dir: a finished run folder (`tools/train.py` or an earlier update).
        feedback: review files in any supported format.
        config: the update settings (`UpdateConfig()` by default).
        format, columns: reader name and column map of the feedback files.
        export: where to publish (default: the parent run's `export` section).
        run_dir: the updated run folder (default: beside the parent,
            `<name>-update-<YYYYmmdd-HHMMSS>`).
        strategy: distribution strategy of the warm-start training.
        progress: progress bars.
        hook: called as `hook(stage, state)` after the stages "data", "trained",
            "evaluated" and "decided" (tests inject failures and bad candidates here).

    Returns:
        `UpdateResult`. A refused candidate is a normal outcome
        (`decision.status == "refused"`), not an exception.

    Raises:
        UpdateError: the parent is not a finished run; FeedbackError: the feedback
        holds nothing new. Any failure is first recorded in decision.json.
    """
    config = config or UpdateConfig()
    parent_dir = Path(parent_dir)
    run_config = load_parent_config(parent_dir)
    export = export or run_config.export
    run_dir = _new_update_dir(parent_dir, run_config.name, run_dir)
    state = UpdateState(run_dir, parent_dir)
    lineage = _start_lineage(parent_dir, run_dir, feedback, config)
    timer = StageTimer()
    try:
        result = _run(run_config, config, export, state, timer, lineage, feedback, format,
                      columns, strategy or tf.distribute.get_strategy(), progress,
                      hook or (lambda stage, s: None))
    except BaseException as error:
        decision = state.decision or Decision(False, "the update failed before deciding",
                                              config.force, config.tolerance, None)
        decision.status, decision.error = "failed", f"{type(error).__name__}: {error}"
        write_json(run_dir / DECISION_FILE, decision.to_dict())
        raise
    return result


def _run(run_config: config_lib.RunConfig, config: UpdateConfig, export: ExportConfig,
         state: UpdateState, timer: StageTimer, lineage: dict, feedback: Sequence,
         format: str | None, columns: Sequence[str] | None,
         strategy: tf.distribute.Strategy, progress: bool, hook: Hook) -> UpdateResult:
    parent, run_dir = state.parent, state.run_dir
    with timer("data"):
        state.feedback = feedback_stage(parent, run_dir, feedback, config, run_config,
                                        format, columns)
    hook("data", state)
    split = state.feedback.split
    with timer("sentiment"):
        state.sentiment, scores = sentiment_stage(parent, run_dir, split.train, run_config,
                                                  progress)
    with timer("features"):
        parent_recommender = TrainedRecommender.load(parent / "recsys")
        state.tables = refresh_tables(parent_recommender.tables, split.train,
                                      scores.probabilities, scores.embedding)
        state.tables.save(run_dir / "features")
    with timer("recsys"):
        recsys = dataclasses.replace(
            parent_recommender.config, epochs=config.epochs,
            learning_rate=config.learning_rate or parent_recommender.config.learning_rate)
        seed = run_config.seed if config.seed is None else config.seed
        config_lib.save(dataclasses.replace(run_config, recsys=recsys, seed=seed),
                        run_dir / "config.json")
        state.candidate = warm_start_recommender(
            parent_recommender, recsys, split, state.tables, strategy, run_dir / "recsys",
            seed=seed, progress=progress)
    hook("trained", state)
    model_dir = Path(export.root) / export.model_name
    with timer("guardrail"):
        state.evaluation = guardrail_stage(state.candidate, split, model_dir, config, run_dir)
    hook("evaluated", state)
    state.decision = decide(state.evaluation, config)
    write_json(run_dir / DECISION_FILE, state.decision.to_dict())
    hook("decided", state)
    if state.decision.publish:
        with timer("export"):
            state.version_dir = publish(run_dir, export, state.sentiment, state.candidate,
                                        state.decision, config.keep_versions)
    else:
        state.decision.status = "refused"
    write_json(run_dir / DECISION_FILE, state.decision.to_dict())
    timing = timer.to_dict()
    write_json(run_dir / "timing.json", timing)
    lineage.update(complete=True, growth=state.candidate.metrics.get("growth"),
                   reconciliation=state.feedback.counts, split=split.sizes,
                   published_version=state.decision.version, decision=DECISION_FILE,
                   model_dir=str(model_dir))
    write_json(run_dir / LINEAGE_FILE, lineage)
    write_update_report(state, timing)
    return UpdateResult(run_dir, state.decision, state.version_dir, state.candidate,
                        state.evaluation, timing)


# --- stages ---------------------------------------------------------------------------


def load_parent_config(parent_dir: Path) -> config_lib.RunConfig:
    """The parent run's config, after checking that the run finished.

    Raises:
        UpdateError: a part of the run folder is missing, or the parent is an
            update that did not complete.
    """
    needed = ["config.json", "data/train.parquet", "data/validation.parquet",
              "data/test.parquet", "sentiment/model", "recsys/recsys.json"]
    missing = [name for name in needed if not (parent_dir / name).exists()]
    if missing:
        raise UpdateError(f"{parent_dir} is not a finished run folder: it lacks {missing}")
    lineage = parent_dir / LINEAGE_FILE
    if lineage.is_file() and not json.loads(lineage.read_text()).get("complete"):
        raise UpdateError(f"{parent_dir} is an update that did not complete "
                          f"(see its {DECISION_FILE}); start from its parent instead")
    return config_lib.load(parent_dir / "config.json")


def feedback_stage(parent: Path, run_dir: Path, paths: Sequence, config: UpdateConfig,
                   run_config: config_lib.RunConfig, format: str | None,
                   columns: Sequence[str] | None) -> FeedbackData:
    """Folds the feedback into the parent's history; writes `data/`."""
    history = pd.concat(list(Split.load(parent / "data").parts.values()), ignore_index=True)
    item_map = pd.read_parquet(parent / "data" / "item_map.parquet").astype(object)
    data = fold_feedback(history, item_map, paths, config, format=format, columns=columns,
                         data_config=run_config.data)
    folder = run_dir / "data"
    for index, prepared in enumerate(data.prepared):
        prepared.save(folder / "feedback" / str(index))
    data.split.save(folder)
    data.reviews.to_parquet(folder / "reviews.parquet", index=False)
    data.item_map.to_parquet(folder / "item_map.parquet", index=False)
    write_json(folder / "update.json", {"files": data.files, "counts": data.counts,
                                        "split": data.split.summary()})
    return data


def sentiment_stage(parent: Path, run_dir: Path, train: pd.DataFrame,
                    run_config: config_lib.RunConfig,
                    progress: bool) -> tuple[SentimentModel, Scores]:
    """Scores the training reviews with the parent's classifier and its score cache.

    The classifier folder and the cache are hard-linked into `run_dir/sentiment`
    (copied where links are impossible); new scores go to the new run's cache only.
    """
    settings = run_config.sentiment
    folder = run_dir / "sentiment"
    link_tree(parent / "sentiment" / "model", folder / "model")
    model = SentimentModel.load(folder / "model")
    cache_dir = settings.cache_dir
    if cache_dir is None:
        cache_dir = folder / "scores"
        if (parent / "sentiment" / "scores").is_dir():
            link_tree(parent / "sentiment" / "scores", cache_dir)
    cache = ScoreCache(cache_dir)
    scores = model.score(review_texts(train), cache=cache, progress=progress,
                         batch_size=settings.inference_batch_size,
                         jit_compile=settings.jit_compile, bfloat16=settings.inference_bfloat16)
    write_json(folder / "update.json", {"scored": len(train), "cache": dict(cache.stats),
                                        "fingerprint": model.fingerprint()})
    return model, scores


def guardrail_stage(candidate: TrainedRecommender, split: Split, model_dir: Path,
                    config: UpdateConfig, run_dir: Path) -> dict:
    """Scores the candidate and the published version on the evaluation slice.

    Returns (and writes to `evaluation/update.json`): {"slice": rows/users/items,
    "published_version": int | None, "candidate": metrics, "published": metrics,
    "difference": per guarded metric, candidate - published with a 95% paired
    bootstrap interval over users}. Metrics are None when the slice is empty.
    """
    from tfrec_sentiment.export.versions import latest_version

    version = latest_version(model_dir)
    summary = {"slice": split.summary()["test"], "published_version": version,
               "metrics": config.metric_keys(), "candidate": None, "published": None,
               "difference": {}, "counts": None}
    model = RankRecommender(candidate.serving.rank, candidate.config.score_mode,
                            candidate.config.score_blend)
    results = {"candidate": _evaluate(model, split, config)}
    if version is not None and results["candidate"] is not None:
        results["published"] = _evaluate(load_published(model_dir / str(version)), split,
                                         config)
    for name, result in results.items():
        summary[name] = result.metrics if result is not None else None
        summary["counts"] = result.counts if result is not None else summary["counts"]
    if summary["published"] is not None:
        summary["difference"] = _differences(results["candidate"], results["published"],
                                             config.metric_keys())
    write_json(run_dir / "evaluation" / "update.json", summary)
    return summary


def decide(evaluation: dict, config: UpdateConfig) -> Decision:
    """The guardrail's decision from `guardrail_stage`'s summary."""
    version = evaluation["published_version"]

    def verdict(publish: bool, reason: str, checks: list[Check] | None = None) -> Decision:
        if config.force and not publish:
            publish, reason = True, f"forced (the guardrail alone would refuse: {reason})"
        return Decision(publish, reason, config.force, config.tolerance, version,
                        checks or [])

    if evaluation["candidate"] is None:
        return verdict(False, "the evaluation slice is empty (no new review of a known "
                              "item): the candidate cannot be checked")
    if version is None:
        return verdict(True, "no published version yet: the candidate becomes version 1")
    checks = judge(evaluation["candidate"], evaluation["published"], config.metric_keys(),
                   config.tolerance)
    failed = [c.metric for c in checks if not c.passed]
    if failed:
        return verdict(False, f"worse than version {version} beyond the tolerance "
                              f"{config.tolerance:g} on {', '.join(failed)}", checks)
    return verdict(True, f"not worse than version {version} beyond the tolerance "
                         f"{config.tolerance:g} on {', '.join(c.metric for c in checks)}",
                   checks)


def publish(run_dir: Path, export: ExportConfig, sentiment: SentimentModel,
            candidate: TrainedRecommender, decision: Decision, keep: int) -> Path:
    """Exports the candidate as the next version, then keeps the newest `keep` versions."""
    from tfrec_sentiment.export.saved_model import export_run
    from tfrec_sentiment.export.versions import prune_versions

    version_dir = export_run(run_dir, export, sentiment=sentiment, recommender=candidate)
    decision.status, decision.version = "published", int(version_dir.name)
    decision.pruned = prune_versions(version_dir.parent, max(keep, export.num_versions),
                                     protect=[decision.version])
    return version_dir


# --- helpers ----------------------------------------------------------------------------


def link_tree(source: Path, target: Path) -> Path:
    """Copies a folder of immutable files by hard links (plain copies where impossible)."""
    shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _evaluate(model: RankRecommender, split: Split, config: UpdateConfig) -> EvalResult | None:
    if len(split.test) == 0:
        return None
    try:
        return evaluate(model, split.train, split.test, seen=(split.validation,), k=config.k)
    except ValueError as error:  # every slice item unknown to the catalogue
        log.warning("evaluation slice unusable: %s", error)
        return None


def _differences(candidate: EvalResult, published: EvalResult,
                 metrics: Sequence[str]) -> dict[str, dict]:
    out = {}
    for metric in metrics:
        diff = paired_bootstrap(candidate.per_user.statistic(metric),
                                published.per_user.statistic(metric),
                                len(candidate.per_user.user_ids), metric=metric,
                                names=("candidate", "published"), n_resamples=1000)
        out[metric] = {"difference": diff.difference, "low": diff.low, "high": diff.high}
    return out


def _new_update_dir(parent: Path, name: str, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        run_dir = Path(run_dir)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UpdateError(f"{run_dir} exists and is not empty: an update writes a new run")
    else:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = parent.parent / f"{name}-update-{stamp}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = parent.parent / f"{name}-update-{stamp}-{suffix}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _start_lineage(parent: Path, run_dir: Path, feedback: Sequence,
                   config: UpdateConfig) -> dict:
    previous = parent / LINEAGE_FILE
    before = json.loads(previous.read_text()) if previous.is_file() else {}
    lineage = {
        "parent_run": str(parent.resolve()),
        "root_run": before.get("root_run", str(parent.resolve())),
        "generation": int(before.get("generation", 0)) + 1,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "feedback": [str(Path(p).resolve()) for p in feedback],
        "update_config": dataclasses.asdict(config),
        "complete": False,
    }
    write_json(run_dir / LINEAGE_FILE, lineage)
    return lineage


def write_update_report(state: UpdateState, timing: dict) -> Path:
    """`report.md` of the updated run: feedback, growth, guardrail, decision, timing."""
    decision, evaluation = state.decision, state.evaluation
    lines = [f"# Update `{state.run_dir.name}` of `{state.parent.name}`", "",
             "## Feedback", "", f"Reconciliation: {state.feedback.counts}", "",
             f"Vocabulary growth: {state.candidate.metrics.get('growth')}", "",
             "## Guardrail", "",
             f"Evaluation slice: {evaluation['slice']}", ""]
    if decision.checks:
        lines += [f"| metric | candidate | published v{decision.compared_version} | limit | ok |",
                  "|---|---|---|---|---|"]
        lines += [f"| {c.metric} | {c.candidate:.4f} | {c.published:.4f} | {c.limit:.4f} | "
                  f"{'yes' if c.passed else 'NO'} |" for c in decision.checks]
        lines.append("")
    lines += [f"Decision: **{decision.status}**: {decision.reason}", ""]
    if state.version_dir is not None:
        lines += [f"Published `{state.version_dir}`; pruned versions {decision.pruned}", ""]
    lines += ["## Stage wall times", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timing["seconds"].items()]
    path = state.run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
