"""The feedback update behind `tools/update.py`: new reviews in, maybe a new version out.

    parent run --(feedback files)--> updated run --(guardrail)--> saved_models/<name>/<v+1>/

1. data: the feedback files are ingested like training data, mapped onto the run's
   products and reconciled with its history (`pipeline.feedback`); the newest share
   of the new reviews is held out as the evaluation slice.
   Where the slice alone refuses (no evaluated row, or fewer than
   `min_eval_rows` rows / `min_eval_users` users while a version is published,
   and no `force`), the update stops after this stage (`evidence_stage`): nothing
   is trained, and the refused run folder holds data/ and evaluation/ only.
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
   through the same `rank` function (`pipeline.guardrail`); publish only if the
   slice holds at least `min_eval_rows` rows and `min_eval_users` users and no
   guarded metric is worse beyond the relative tolerance (`force` overrides both).
6. export: publish = `export.saved_model.export_run` (staged, audited, renamed into
   place as the next integer version), then keep the newest `keep_versions`. The
   claim and rename happen under the model folder's publish lock; under it the
   update first checks that the newest version is still the one it compared
   against (if another update published meanwhile, the guardrail runs again
   against that one), so two updates never judge against a stale version.

The updated run folder has the run-folder layout (data/, sentiment/, features/,
recsys/, evaluation/), so `tools/export.py` and a later update can start from it,
plus its lineage:

    lineage.json     parent run, generation, feedback files (sha256, counts), growth,
                     published version; "complete": true once the update finished
    decision.json    the guardrail's checks and the outcome (status published /
                     refused / failed, with the error if it failed)
    data/feedback/<i>/  each feedback file's ingestion (reviews, report, rejected lines)
    data/update.json the reconciliation counts (new / already known / updated / repeated)

A crash before the rename leaves the published versions as they were: nothing is
published before the decision, and a version appears only by the export's rename.
The version folder is the record of its publication: `assets.extra/export.json`
holds an "update" section (run folder, parent run, feedback sha256, decision).
What follows the rename (models.config, pruning, decision.json, lineage.json) is
idempotent: if the update is killed there, the next update from that run, or
re-running the same update, finds the version by that record, completes the run's
records (`repair_update`) and publishes nothing twice.

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
from tfrec_sentiment.evaluation.evaluate import EvalResult, evaluate, evaluated_counts
from tfrec_sentiment.evaluation.stats import paired_bootstrap
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.preflight import check_export_root, estimate_saved_run_bytes
from tfrec_sentiment.export.versions import (
    latest_version,
    prune_versions,
    publish_lock,
    remove_leftovers,
    versions,
)
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.io import read_table, write_table
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData, _sha256, fold_feedback
from tfrec_sentiment.pipeline.guardrail import Check, RankRecommender, judge, load_published
from tfrec_sentiment.pipeline.stages import StageTimer, write_json
from tfrec_sentiment.privacy import table_encryption
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.recsys.warm_start import refresh_tables, warm_start_recommender
from tfrec_sentiment.sentiment.inference import ScoreCache, score_reviews
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

log = logging.getLogger(__name__)

LINEAGE_FILE = "lineage.json"
DECISION_FILE = "decision.json"
RECORD_KEY = "update"  # the section of a version's export.json naming the update


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
        status: "decided", then "publishing" (under the publish lock, just before
            the rename), then "published" / "refused"; "failed" after a crash.
        version: the version published, if any.
        pruned: versions deleted after publishing.
        error: the exception, if the update failed.
        evidence: the evaluation slice as evaluated, {"rows", "users"}, against the
            minimum {"min_rows", "min_users"}, and "enough" (bool).
        rechecked: versions compared against before the final one (another
            update published in between and the guardrail ran again).
        repaired: set when the records were completed after the update stopped
            past the rename (when, by which process, the error seen).
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
    evidence: dict | None = None
    rechecked: list[int] = dataclasses.field(default_factory=list)
    repaired: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Decision:
        """The inverse of `to_dict` (unknown keys ignored, missing ones defaulted)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["checks"] = [Check(**c) for c in values.get("checks", [])]
        return cls(**values)


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
    """The finished update: its run folder, decision and (if published) version folder.

    `already_published`: the same feedback on the same parent had been published
    by an earlier update (`run_dir` is that run, its records completed if it had
    stopped after the rename); nothing new was trained or published, and
    `candidate` is None.
    """

    run_dir: Path
    decision: Decision
    version_dir: Path | None
    candidate: TrainedRecommender | None
    evaluation: dict
    timing: dict
    already_published: bool = False


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
        (`decision.status == "refused"`), not an exception. Re-running an update
        whose version is already published (e.g. after it was killed past the
        rename) returns that run with `already_published` set.

    Raises:
        UpdateError: the parent is not a finished run; FeedbackError: the feedback
        holds nothing new. Any failure is first recorded in decision.json.
    """
    config = config or UpdateConfig()
    parent_dir = Path(parent_dir)
    run_config = load_parent_config(parent_dir)
    export = export or run_config.export
    model_dir = Path(export.root) / export.model_name
    check_export_root(model_dir, estimate_saved_run_bytes(parent_dir))  # before any work
    remove_leftovers(model_dir)
    earlier = _earlier_publication(model_dir, parent_dir, feedback)
    if earlier is not None:
        return earlier
    run_dir = new_run_dir(parent_dir, run_config.name, run_dir)
    state = UpdateState(run_dir, parent_dir)
    lineage = start_lineage(parent_dir, run_dir, feedback, config)
    timer = StageTimer()
    try:
        result = _run(run_config, config, export, state, timer, lineage, feedback, format,
                      columns, strategy or tf.distribute.get_strategy(), progress,
                      hook or (lambda stage, s: None))
    except BaseException as error:
        decision = state.decision or Decision(False, "the update failed before deciding",
                                              config.force, config.tolerance, None)
        if decision.status != "published":  # a crash after the records were complete
            decision.status = "failed"
        decision.error = f"{type(error).__name__}: {error}"
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
    model_dir = Path(export.root) / export.model_name
    state.evaluation = evidence_stage(split, model_dir, config, run_dir)
    if state.evaluation is None:  # enough evidence (or forced): train and judge
        _train_and_judge(run_config, config, export, state, timer, strategy, progress, hook)
    state.decision = decide(state.evaluation, config)
    write_json(run_dir / DECISION_FILE, state.decision.to_dict())
    hook("decided", state)
    if state.decision.publish:
        with timer("export"):
            state.version_dir = publish(state, export, config, lineage)
    if state.version_dir is None:
        state.decision.status = "refused"
        write_json(run_dir / DECISION_FILE, state.decision.to_dict())
        write_json(run_dir / LINEAGE_FILE, _complete_lineage(lineage, run_dir, model_dir,
                                                             None))
    timing = timer.to_dict()
    write_json(run_dir / "timing.json", timing)
    write_update_report(state, timing)
    return UpdateResult(run_dir, state.decision, state.version_dir, state.candidate,
                        state.evaluation, timing)


def _train_and_judge(run_config: config_lib.RunConfig, config: UpdateConfig,
                     export: ExportConfig, state: UpdateState, timer: StageTimer,
                     strategy: tf.distribute.Strategy, progress: bool, hook: Hook) -> None:
    """Stages 2-5 (sentiment, features, recsys, guardrail): sets `state.evaluation`."""
    with timer("sentiment"):
        state.sentiment, scores = sentiment_stage(state.parent, state.run_dir,
                                                  state.feedback.split.train, run_config,
                                                  progress)
    train_and_judge(run_config, config, export, state, scores, timer, strategy, progress, hook)


def train_and_judge(run_config: config_lib.RunConfig, config: UpdateConfig,
                    export: ExportConfig, state: UpdateState, scores: Scores,
                    timer: StageTimer, strategy: tf.distribute.Strategy, progress: bool,
                    hook: Hook) -> None:
    """Stages 3-5 (features, recsys, guardrail) on `state.feedback.split`.

    `scores` are the sentiment scores of the split's training rows. Writes
    `features/`, `config.json` (the parent's, with the warm-start recsys settings,
    seed and `export`) and `recsys/`; sets `state.tables`, `state.candidate` and
    `state.evaluation`. Shared by the feedback update and the erasure
    (`pipeline.forget`), which prepare the data and the scores each their way.
    """
    parent, run_dir, split = state.parent, state.run_dir, state.feedback.split
    with timer("features"):
        encryption = table_encryption(run_config.privacy)
        parent_recommender = TrainedRecommender.load(parent / "recsys", encryption=encryption)
        state.tables = refresh_tables(parent_recommender.tables, split.train,
                                      scores.probabilities, scores.embedding)
        state.tables.save(run_dir / "features", encryption)
    with timer("recsys"):
        recsys = dataclasses.replace(
            parent_recommender.config, epochs=config.epochs,
            learning_rate=config.learning_rate or parent_recommender.config.learning_rate)
        seed = run_config.seed if config.seed is None else config.seed
        config_lib.save(dataclasses.replace(run_config, recsys=recsys, seed=seed,
                                            export=export), run_dir / "config.json")
        state.candidate = warm_start_recommender(
            parent_recommender, recsys, split, state.tables, strategy, run_dir / "recsys",
            seed=seed, progress=progress)
    hook("trained", state)
    model_dir = Path(export.root) / export.model_name
    with timer("guardrail"):
        state.evaluation = guardrail_stage(state.candidate, split, model_dir, config, run_dir)
    hook("evaluated", state)


# --- stages ---------------------------------------------------------------------------


def load_parent_config(parent_dir: Path) -> config_lib.RunConfig:
    """The parent run's config, after checking that the run finished.

    An update that stopped after its version went live (killed while writing its
    records) is repaired first (`repair_update`) and then counts as finished.

    Raises:
        UpdateError: a part of the run folder is missing, or the parent is an
            update that did not complete (and published nothing).
    """
    needed = ["config.json", "data/train.parquet", "data/validation.parquet",
              "data/test.parquet", "sentiment/model", "recsys/recsys.json"]
    missing = [name for name in needed if not (parent_dir / name).exists()]
    if missing:
        raise UpdateError(f"{parent_dir} is not a finished run folder: it lacks {missing}")
    lineage = parent_dir / LINEAGE_FILE
    if (lineage.is_file() and not json.loads(lineage.read_text()).get("complete")
            and repair_update(parent_dir) is None):
        raise UpdateError(f"{parent_dir} is an update that did not complete "
                          f"(see its {DECISION_FILE}); start from its parent instead")
    return config_lib.load(parent_dir / "config.json")


def feedback_stage(parent: Path, run_dir: Path, paths: Sequence, config: UpdateConfig,
                   run_config: config_lib.RunConfig, format: str | None,
                   columns: Sequence[str] | None) -> FeedbackData:
    """Folds the feedback into the parent's history; writes `data/` (encrypted as the
    parent's config says, `privacy`)."""
    encryption = table_encryption(run_config.privacy)
    parent_split = Split.load(parent / "data", encryption)
    history = pd.concat(list(parent_split.parts.values()), ignore_index=True)
    item_map = read_table(parent / "data" / "item_map.parquet", encryption).astype(object)
    data = fold_feedback(history, item_map, paths, config, format=format, columns=columns,
                         data_config=run_config.data)
    data.split.cold = parent_split.cold  # the parent's cold-start users stay held out
    folder = run_dir / "data"
    for index, prepared in enumerate(data.prepared):
        prepared.save(folder / "feedback" / str(index), encryption)
    data.split.save(folder, encryption)
    write_table(data.reviews, folder / "reviews.parquet", encryption)
    write_table(data.item_map, folder / "item_map.parquet", encryption)
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
    cache = ScoreCache(cache_dir, table_encryption(run_config.privacy))
    scores = score_reviews(model, train, settings, cache, progress)
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
                            candidate.config.score_blend, score=candidate.serving.score_items)
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


def evidence_stage(split: Split, model_dir: Path, config: UpdateConfig,
                   run_dir: Path) -> dict | None:
    """Refuses before training when the evaluation slice alone decides it.

    The slice is fixed by the data stage, so the rows and users the guardrail would
    evaluate (test rows whose item is in the training catalogue, and their users:
    `evaluation.evaluated_counts`, the selection `evaluate` makes) are known before
    any candidate exists. Without `force`, a slice with no such row, or one below
    `min_eval_rows` / `min_eval_users` while a published version exists, is
    refused whatever the candidate would score; training it would only cost time.

    Returns:
        None: train and judge (enough evidence, no published version, or `force`).
        Else the guardrail summary `decide` reads, as `guardrail_stage`'s with
        "candidate" / "published" None and "counts" the evaluated counts, also
        written to `evaluation/update.json`.
    """
    from tfrec_sentiment.export.versions import latest_version

    if config.force:
        return None
    try:
        counts = (evaluated_counts(split.train, split.test) if len(split.test)
                  else {"test_rows": 0, "users": 0})
    except ValueError:  # no training item at all: the full path reports it
        return None
    version = latest_version(model_dir)
    enough = (counts["test_rows"] >= config.min_eval_rows
              and counts["users"] >= config.min_eval_users)
    if counts["test_rows"] > 0 and (enough or version is None):
        return None
    summary = {"slice": split.summary()["test"], "published_version": version,
               "metrics": config.metric_keys(), "candidate": None, "published": None,
               "difference": {}, "counts": counts}
    write_json(run_dir / "evaluation" / "update.json", summary)
    log.info("refusing before training: the evaluation slice holds %s evaluated rows and %s "
             "users", counts["test_rows"], counts["users"])
    return summary


def decide(evaluation: dict, config: UpdateConfig) -> Decision:
    """The guardrail's decision from `guardrail_stage`'s summary.

    Refuses (unless `config.force`) an empty slice, a slice below the minimum of
    evidence (`min_eval_rows` rows, `min_eval_users` users, counted as evaluated:
    `evaluation["counts"]`), and a candidate worse beyond the tolerance. With no
    published version there is nothing to guard: the candidate is published.
    `evaluation` may also be `evidence_stage`'s summary (no candidate metrics: the
    too-little-evidence refusal then has no checks).
    """
    version = evaluation["published_version"]
    counts = evaluation.get("counts") or {}
    rows, users = int(counts.get("test_rows", 0)), int(counts.get("users", 0))
    evidence = {"rows": rows, "users": users, "min_rows": config.min_eval_rows,
                "min_users": config.min_eval_users,
                "enough": rows >= config.min_eval_rows and users >= config.min_eval_users}

    def verdict(publish: bool, reason: str, checks: list[Check] | None = None) -> Decision:
        if config.force and not publish:
            publish, reason = True, f"forced (the guardrail alone would refuse: {reason})"
        return Decision(publish, reason, config.force, config.tolerance, version,
                        checks or [], evidence=evidence)

    evaluated = evaluation["candidate"] is not None
    if not evaluated and (rows == 0 or version is None or evidence["enough"]):
        return verdict(False, "the evaluation slice is empty (no new review of a known "
                              "item): the candidate cannot be checked")
    if version is None:
        return verdict(True, "no published version yet: the candidate becomes version 1")
    # Not evaluated here: `evidence_stage` refused on the slice's counts before training.
    checks = judge(evaluation["candidate"], evaluation["published"], config.metric_keys(),
                   config.tolerance) if evaluated else []
    if not evidence["enough"]:
        return verdict(False, f"too little evidence: the evaluation slice has "
                              f"{_count(evidence['rows'], 'row')} and "
                              f"{_count(evidence['users'], 'user')}, the guardrail needs at "
                              f"least {evidence['min_rows']} rows and {evidence['min_users']} "
                              f"users (min_eval_rows, min_eval_users) to compare with version "
                              f"{version}; --force publishes anyway", checks)
    failed = [c.metric for c in checks if not c.passed]
    if failed:
        return verdict(False, f"worse than version {version} beyond the tolerance "
                              f"{config.tolerance:g} on {', '.join(failed)}", checks)
    return verdict(True, f"not worse than version {version} beyond the tolerance "
                         f"{config.tolerance:g} on {', '.join(c.metric for c in checks)}",
                   checks)


def publish(state: UpdateState, export: ExportConfig, config: UpdateConfig,
            lineage: dict) -> Path | None:
    """Exports the candidate as the next version and completes the run's records.

    The SavedModel is staged and audited without the lock; then, under the model
    folder's `publish_lock`: if the newest version is no longer the one the
    guardrail compared against, the guardrail runs again against it (a refusal
    then abandons the export and returns None); the decision is written with status
    "publishing", the version is renamed into place with the update's record in
    `assets.extra/export.json`, and `complete_publication` writes models.config,
    prunes to the newest `keep_versions` and completes decision.json / lineage.json.

    Returns:
        The version folder, or None when the re-check refused.
    """
    from tfrec_sentiment.export.saved_model import export_run

    run_dir, split = state.run_dir, state.feedback.split
    model_dir = Path(export.root) / export.model_name

    def recheck(model_dir: Path) -> dict:
        newest = latest_version(model_dir)
        if newest != state.decision.compared_version:
            log.warning("version %s was published while this update was judged against "
                        "version %s: running the guardrail again", newest,
                        state.decision.compared_version)
            earlier = state.decision.rechecked + [state.decision.compared_version]
            state.evaluation = guardrail_stage(state.candidate, split, model_dir, config,
                                               run_dir)
            state.decision = decide(state.evaluation, config)
            state.decision.rechecked = earlier
            if not state.decision.publish:
                raise _RecheckRefusedError()
        state.decision.status = "publishing"
        write_json(run_dir / DECISION_FILE, state.decision.to_dict())
        return {RECORD_KEY: _record(run_dir, state.parent, lineage, state.decision)}

    def finish(version_dir: Path) -> None:
        state.decision.version = int(version_dir.name)
        complete_publication(run_dir, version_dir, export, config.keep_versions,
                             state.decision, lineage)

    try:
        return export_run(run_dir, export, sentiment=state.sentiment,
                          recommender=state.candidate, before_publish=recheck,
                          after_publish=finish)
    except _RecheckRefusedError:
        return None
    finally:
        remove_leftovers(model_dir)


def complete_publication(run_dir: Path, version_dir: Path, export: ExportConfig, keep: int,
                         decision: Decision, lineage: dict) -> None:
    """Everything after the rename, safe to run again: the run's records follow the version.

    (Re)writes models.config, deletes leftovers of killed exports and prunes, keeps
    the newest `max(keep, export.num_versions)` versions (never `version_dir`), then
    writes decision.json (status "published", the version, every version pruned so
    far) and lineage.json ("complete": true). Call it under the publish lock.
    """
    from tfrec_sentiment.export.saved_model import write_models_config

    model_dir, version = version_dir.parent, int(version_dir.name)
    write_models_config(export)
    remove_leftovers(model_dir)
    pruned = prune_versions(model_dir, max(keep, export.num_versions), protect=[version])
    decision.status, decision.version, decision.error = "published", version, None
    decision.pruned = sorted(set(decision.pruned) | set(pruned))
    write_json(run_dir / DECISION_FILE, decision.to_dict())
    write_json(run_dir / LINEAGE_FILE, _complete_lineage(lineage, run_dir, model_dir, version))


def find_publication(model_dir: Path, *, run_dir: Path | None = None,
                     parent: Path | None = None,
                     feedback_sha256: Sequence[str] | None = None) -> tuple[Path, dict] | None:
    """The live version an update published, by the record in its export.json.

    Matches `run_dir` (the update's run folder), or `parent` together with
    `feedback_sha256` (the same feedback on the same run). Returns (version folder,
    record) of the newest match, or None.
    """
    for version in reversed(versions(model_dir)):
        facts = model_dir / str(version) / "assets.extra" / "export.json"
        try:
            record = json.loads(facts.read_text()).get(RECORD_KEY)
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        if run_dir is not None and record.get("run_dir") == str(Path(run_dir).resolve()):
            return model_dir / str(version), record
        if (parent is not None and record.get("parent_run") == str(Path(parent).resolve())
                and record.get("feedback_sha256") == list(feedback_sha256 or [])):
            return model_dir / str(version), record
    return None


def repair_update(run_dir: str | Path) -> Path | None:
    """Completes the records of an update that stopped after its version went live.

    Looks for a version whose export.json record names `run_dir`; if there is one,
    runs `complete_publication` again under the publish lock and notes the repair in
    decision.json ("repaired") and lineage.json. Safe to call on any run folder.

    Returns:
        The version folder of the run (also when already complete), or None when the
        run published nothing (it stopped before the rename, or was refused).
    """
    run_dir = Path(run_dir)
    lineage_path, config_path = run_dir / LINEAGE_FILE, run_dir / "config.json"
    if not lineage_path.is_file() or not config_path.is_file():
        return None
    lineage = json.loads(lineage_path.read_text())
    export = config_lib.load(config_path).export
    model_dir = Path(export.root) / export.model_name
    found = find_publication(model_dir, run_dir=run_dir)
    if found is None:
        return None
    version_dir, record = found
    if lineage.get("complete"):
        return version_dir
    with publish_lock(model_dir):
        decision = _read_decision(run_dir, record)
        stopped = decision.error or "the update stopped (killed) after the rename"
        decision.repaired = (f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}: "
                             f"records completed by process {os.getpid()}; {stopped}")
        keep = int(lineage.get("update_config", {}).get("keep_versions", 1))
        lineage["repaired"] = decision.repaired
        complete_publication(run_dir, version_dir, export, keep, decision, lineage)
    log.warning("%s: version %s was live but the run's records were incomplete; repaired",
                run_dir, version_dir.name)
    return version_dir


class _RecheckRefusedError(Exception):
    """The re-run guardrail refused under the lock: abandon the staged export."""


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


def new_run_dir(parent: Path, name: str, run_dir: str | Path | None,
                kind: str = "update") -> Path:
    """`run_dir` (must be new or empty), else `<name>-<kind>-<YYYYmmdd-HHMMSS>` beside
    `parent`; created."""
    if run_dir is not None:
        run_dir = Path(run_dir)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UpdateError(f"{run_dir} exists and is not empty: each {kind} writes a new run")
    else:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = parent.parent / f"{name}-{kind}-{stamp}"
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = parent.parent / f"{name}-{kind}-{stamp}-{suffix}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _fingerprints(paths: Sequence) -> list[str | None]:
    """sha256 of each feedback file (None for one that does not exist)."""
    return [_sha256(Path(p)) if Path(p).is_file() else None for p in paths]


def _earlier_publication(model_dir: Path, parent: Path,
                         feedback: Sequence) -> UpdateResult | None:
    """The earlier update that published this feedback on this parent, records repaired."""
    fingerprints = _fingerprints(feedback)
    if not fingerprints or None in fingerprints:
        return None
    found = find_publication(model_dir, parent=parent, feedback_sha256=fingerprints)
    if found is None:
        return None
    version_dir, record = found
    earlier = Path(record["run_dir"])
    if not (earlier / LINEAGE_FILE).is_file():
        raise UpdateError(f"this feedback on {parent} is already published as {version_dir} "
                          f"by the update run {earlier}, whose folder is gone; nothing "
                          f"published twice")
    repair_update(earlier)
    log.warning("this feedback on %s was already published as %s by %s: nothing new "
                "published", parent, version_dir, earlier)
    evaluation_path = earlier / "evaluation" / "update.json"
    evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.is_file() else {}
    return UpdateResult(earlier, _read_decision(earlier, record), version_dir, None,
                        evaluation, {}, already_published=True)


def _record(run_dir: Path, parent: Path, lineage: dict, decision: Decision) -> dict:
    """The "update" section of the version's export.json: which run and decision made it."""
    return {"run_dir": str(run_dir.resolve()), "parent_run": str(parent.resolve()),
            "feedback_sha256": lineage["feedback_sha256"], "decision_file": DECISION_FILE,
            "decision": {k: v for k, v in decision.to_dict().items()
                         if k in ("publish", "reason", "forced", "tolerance",
                                  "compared_version", "checks", "evidence", "rechecked")}}


def _read_decision(run_dir: Path, record: dict) -> Decision:
    """decision.json of a run, else (unreadable: killed while writing) the version's record."""
    try:
        return Decision.from_dict(json.loads((run_dir / DECISION_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return Decision.from_dict(record["decision"])


def _complete_lineage(lineage: dict, run_dir: Path, model_dir: Path,
                      version: int | None) -> dict:
    """`lineage` marked complete, with the facts the run folder holds (growth, counts)."""
    def read(name: str) -> dict:
        path = run_dir / name
        return json.loads(path.read_text()) if path.is_file() else {}

    data = read("data/update.json")
    lineage.update(complete=True,
                   growth=read("recsys/recsys.json").get("metrics", {}).get("growth"),
                   reconciliation=data.get("counts"),
                   split={k: v["rows"] for k, v in data.get("split", {}).items()},
                   published_version=version, decision=DECISION_FILE,
                   model_dir=str(model_dir))
    return lineage


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def start_lineage(parent: Path, run_dir: Path, feedback: Sequence,
                  config: UpdateConfig) -> dict:
    """lineage.json of a new run made from `parent` (updated later; "complete": false)."""
    previous = parent / LINEAGE_FILE
    before = json.loads(previous.read_text()) if previous.is_file() else {}
    lineage = {
        "parent_run": str(parent.resolve()),
        "root_run": before.get("root_run", str(parent.resolve())),
        "generation": int(before.get("generation", 0)) + 1,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "feedback": [str(Path(p).resolve()) for p in feedback],
        "feedback_sha256": _fingerprints(feedback),
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
             "Vocabulary growth: " + (str(state.candidate.metrics.get("growth"))
                                      if state.candidate is not None
                                      else "none (refused before training)"), "",
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
