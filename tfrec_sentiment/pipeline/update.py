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

This module runs the update (`run_update`: the stages in order, the decision, the
records, the report) and re-exports the names of the modules that do each job:
`update_stages.py` (data, sentiment with the linked score cache, features and
recsys: `feedback_stage`, `sentiment_stage`, `train_and_judge`), `update_guardrail.py`
(`evidence_stage`, `guardrail_stage`, `decide`), `update_publish.py` (`publish`,
`complete_publication`, `find_publication`, `repair_update`), `update_records.py`
(`Decision`, `UpdateError`, the run folder, lineage.json, the version's record) and
`update_report.py` (`write_update_report`).

Example:

>>> result = run_update("runs/demo-20260101-120000", ["feedback.jsonl"])  # doctest: +SKIP
>>> result.decision.status, result.version_dir                           # doctest: +SKIP
('published', PosixPath('saved_models/tfrec_sentiment/2'))
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.preflight import check_export_root, estimate_saved_run_bytes
from tfrec_sentiment.export.versions import latest_version, remove_leftovers
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData
from tfrec_sentiment.pipeline.stages import StageTimer, write_json

# The jobs of the update, each in its own module; re-exported here, where they used to live.
from tfrec_sentiment.pipeline.update_guardrail import decide, evidence_stage, guardrail_stage
from tfrec_sentiment.pipeline.update_publish import (
    complete_publication,
    find_publication,
    publish,
    repair_update,
)
from tfrec_sentiment.pipeline.update_records import (
    DECISION_FILE,
    LINEAGE_FILE,
    RECORD_KEY,
    Decision,
    OtherLineageError,
    UpdateError,
    check_lineage,
    complete_lineage,
    feedback_fingerprints,
    lineage_root,
    new_run_dir,
    read_decision,
    start_lineage,
)
from tfrec_sentiment.pipeline.update_report import write_update_report
from tfrec_sentiment.pipeline.update_stages import (
    feedback_stage,
    link_classifiers,
    link_tree,
    sentiment_stage,
    train_and_judge,
)
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.sentiment.model import SentimentModel

__all__ = ["DECISION_FILE", "LINEAGE_FILE", "RECORD_KEY", "Decision", "Hook",
           "OtherLineageError", "UpdateError",
           "UpdateResult", "UpdateState", "complete_publication", "decide", "evidence_stage",
           "check_lineage", "feedback_stage", "find_publication", "guardrail_stage",
           "lineage_root", "link_classifiers", "link_tree",
           "load_parent_config", "new_run_dir", "publish", "repair_update", "run_update",
           "sentiment_stage", "start_lineage", "train_and_judge", "write_update_report"]

log = logging.getLogger(__name__)


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
    check_lineage(model_dir, latest_version(model_dir), lineage_root(parent_dir),
                  config.replace_other_lineage)  # before any work, too
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
        write_json(run_dir / LINEAGE_FILE, complete_lineage(lineage, run_dir, model_dir, None))
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


def _earlier_publication(model_dir: Path, parent: Path,
                         feedback: Sequence) -> UpdateResult | None:
    """The earlier update that published this feedback on this parent, records repaired."""
    fingerprints = feedback_fingerprints(feedback)
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
    return UpdateResult(earlier, read_decision(earlier, record), version_dir, None,
                        evaluation, {}, already_published=True)
