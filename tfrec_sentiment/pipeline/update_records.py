"""The records of an update run: its folder, lineage.json, decision.json, the version's record.

    <run>/lineage.json    parent run, generation, feedback files (sha256), the update
                          settings; "complete": true (with growth, reconciliation
                          counts, published version) once the update finished
    <run>/decision.json   the guardrail's `Decision` and what became of it
    <version>/assets.extra/export.json["update"]   the run and decision that published it

The feedback update (`pipeline.update`) and the erasure (`pipeline.forget`) both
write them; `pipeline.update_publish` completes and repairs them after the rename.

Example:

>>> decision = Decision(True, "no published version yet", forced=False, tolerance=0.02,
...                     compared_version=None, evidence={"rows": 30, "users": 6})
>>> Decision.from_dict(decision.to_dict() | {"unknown": 1}) == decision
True
>>> lineage = start_lineage(parent, run_dir, [], UpdateConfig())  # doctest: +SKIP
>>> lineage["generation"], lineage["complete"]                     # doctest: +SKIP
(1, False)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from tfrec_sentiment.export.versions import version_facts
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import _sha256
from tfrec_sentiment.pipeline.guardrail import Check
from tfrec_sentiment.pipeline.stages import write_json

LINEAGE_FILE = "lineage.json"
DECISION_FILE = "decision.json"
RECORD_KEY = "update"  # the section of a version's export.json naming the update


class UpdateError(RuntimeError):
    """The update cannot run (names the run folder or file and what is wrong)."""


class OtherLineageError(UpdateError):
    """The newest version under the model name comes from another lineage."""


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


def feedback_fingerprints(paths: Sequence) -> list[str | None]:
    """sha256 of each feedback file (None for one that does not exist)."""
    return [_sha256(Path(p)) if Path(p).is_file() else None for p in paths]


def start_lineage(parent: Path, run_dir: Path, feedback: Sequence,
                  config: UpdateConfig) -> dict:
    """lineage.json of a new run made from `parent` (updated later; "complete": false)."""
    previous = parent / LINEAGE_FILE
    before = json.loads(previous.read_text()) if previous.is_file() else {}
    lineage = {
        "parent_run": str(parent.resolve()),
        "root_run": lineage_root(parent, before),
        "generation": int(before.get("generation", 0)) + 1,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "feedback": [str(Path(p).resolve()) for p in feedback],
        "feedback_sha256": feedback_fingerprints(feedback),
        "update_config": dataclasses.asdict(config),
        "complete": False,
    }
    write_json(run_dir / LINEAGE_FILE, lineage)
    return lineage


def lineage_root(run_dir: Path, lineage: dict | None = None) -> str:
    """The training run a run descends from: lineage.json's "root_run", else the run itself.

    `lineage`: the run's lineage.json when the caller has read it already.
    """
    if lineage is None:
        path = Path(run_dir) / LINEAGE_FILE
        lineage = json.loads(path.read_text()) if path.is_file() else {}
    return lineage.get("root_run", str(Path(run_dir).resolve()))


def version_root(version_dir: Path) -> str | None:
    """The lineage root of a published version, from its export.json; None if unknown.

    An update's or erasure's version records its root (`version_record`); a version
    exported by an older release, by the record's run folder; a training run's own
    export, by its `source_run`. None when the export.json is unreadable or names no
    run, or the run folder an older record names is gone.
    """
    facts = version_facts(version_dir)
    record = facts.get(RECORD_KEY)
    if isinstance(record, dict):
        if record.get("root_run"):
            return record["root_run"]
        run = Path(record.get("run_dir", ""))
        return lineage_root(run) if (run / LINEAGE_FILE).is_file() else None
    return lineage_root(Path(facts["source_run"])) if facts.get("source_run") else None


def check_lineage(model_dir: Path, version: int | None, root: str, allow: bool) -> None:
    """Refuses to publish over a version of another lineage under the same model name.

    Two training runs exported under one `export.model_name` (a smoke run and the
    demo, two data sets) are two lineages: an update or erasure of one must not
    become the next live version of the other, which it never met on its own data.

    Args:
        model_dir: `<export.root>/<model_name>`.
        version: the newest published version there (None: nothing published).
        root: this run's lineage root (`lineage_root` of its parent).
        allow: `replace_other_lineage`: log a warning and go on instead.

    Raises:
        OtherLineageError: the version's root differs from `root`, or is unknown.
    """
    if version is None:
        return
    found = version_root(model_dir / str(version))
    if found == root:
        return
    origin = (f"was exported from the lineage of {found}" if found is not None
              else "does not record the run it came from")
    message = (f"{model_dir / str(version)} {origin}, not from this run's lineage "
               f"({root}): publishing here would replace another model. Publish under "
               f"another name (--set export.model_name=...), or set "
               f"replace_other_lineage=true to replace it on purpose")
    if not allow:
        raise OtherLineageError(message)
    logging.getLogger(__name__).warning("%s; replacing it (replace_other_lineage)", message)


def version_record(run_dir: Path, parent: Path, lineage: dict, decision: Decision) -> dict:
    """The "update" section of the version's export.json: which run and decision made it."""
    return {"run_dir": str(run_dir.resolve()), "parent_run": str(parent.resolve()),
            "root_run": lineage["root_run"],
            "feedback_sha256": lineage["feedback_sha256"], "decision_file": DECISION_FILE,
            "decision": {k: v for k, v in decision.to_dict().items()
                         if k in ("publish", "reason", "forced", "tolerance",
                                  "compared_version", "checks", "evidence", "rechecked")}}


def read_decision(run_dir: Path, record: dict) -> Decision:
    """decision.json of a run, else (unreadable: killed while writing) the version's record."""
    try:
        return Decision.from_dict(json.loads((run_dir / DECISION_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return Decision.from_dict(record["decision"])


def complete_lineage(lineage: dict, run_dir: Path, model_dir: Path,
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
