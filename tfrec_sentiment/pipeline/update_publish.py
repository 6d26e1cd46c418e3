"""Publishing an update: the version goes live, then the run's records follow it.

    candidate --(publish: staged export, publish lock, re-check, rename)--> <model>/<v+1>/
              --(complete_publication)--> models.config, pruning, decision.json, lineage.json

Nothing is published before the decision, and a version appears only by the export's
rename, under the model folder's publish lock; if another update published since the
guardrail ran, the guardrail runs again against that version first. The version's
`assets.extra/export.json` records the update (`RECORD_KEY`), so `find_publication`
finds the version a run (or the same feedback on the same parent) published, and
`repair_update` completes the records of an update killed after the rename: what
follows the rename is idempotent.

Example:

>>> import shutil, tempfile
>>> model_dir = Path(tempfile.mkdtemp()) / "shop"
>>> facts = model_dir / "3" / "assets.extra" / "export.json"
>>> facts.parent.mkdir(parents=True)
>>> _ = facts.write_text(json.dumps({RECORD_KEY: {
...     "run_dir": "/runs/shop-update-1", "parent_run": "/runs/shop",
...     "feedback_sha256": ["ab12"]}}))
>>> found = find_publication(model_dir, parent=Path("/runs/shop"), feedback_sha256=["ab12"])
>>> found[0].name, found[1]["run_dir"]
('3', '/runs/shop-update-1')
>>> find_publication(model_dir, parent=Path("/runs/shop"), feedback_sha256=["cd34"]) is None
True
>>> shutil.rmtree(model_dir.parent)
>>> repair_update("runs/shop-update-20260101-120000")  # doctest: +SKIP
PosixPath('saved_models/shop/3')
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.versions import (
    latest_version,
    prune_versions,
    publish_lock,
    remove_leftovers,
    version_facts,
    versions,
)
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.stages import write_json
from tfrec_sentiment.pipeline.update_guardrail import decide, guardrail_stage
from tfrec_sentiment.pipeline.update_records import (
    DECISION_FILE,
    LINEAGE_FILE,
    RECORD_KEY,
    Decision,
    check_lineage,
    complete_lineage,
    read_decision,
    version_record,
)

if TYPE_CHECKING:
    from tfrec_sentiment.pipeline.update import UpdateState

log = logging.getLogger(__name__)


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
        check_lineage(model_dir, newest, lineage["root_run"], config.replace_other_lineage)
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
        return {RECORD_KEY: version_record(run_dir, state.parent, lineage, state.decision)}

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
    write_json(run_dir / LINEAGE_FILE, complete_lineage(lineage, run_dir, model_dir, version))


def find_publication(model_dir: Path, *, run_dir: Path | None = None,
                     parent: Path | None = None,
                     feedback_sha256: Sequence[str] | None = None) -> tuple[Path, dict] | None:
    """The live version an update published, by the record in its export.json.

    Matches `run_dir` (the update's run folder), or `parent` together with
    `feedback_sha256` (the same feedback on the same run). Returns (version folder,
    record) of the newest match, or None.
    """
    for version in reversed(versions(model_dir)):
        record = version_facts(model_dir / str(version)).get(RECORD_KEY)
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
        decision = read_decision(run_dir, record)
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
