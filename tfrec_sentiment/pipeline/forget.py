"""Erasure of users behind `tools/forget.py`: their reviews out, a new version in, old copies gone.

    parent run --(user ids)--> erased run --(always published)--> saved_models/<name>/<v+1>/
                                    then: older versions and run folders holding them,
                                          deleted (cleanup "delete") or listed ("list")

A user's request to be forgotten (e.g. GDPR art. 17) reaches every place the package
keeps their data. The erasure reuses the feedback update's stages (`pipeline.update`):

1. ids: each requested id is looked up among the run's user ids (every part, the
   cold-start users included) as given, and, when the pseudonymisation key is
   available (argument, or the environment variable `data.pseudonymize_key_env`
   names), as its HMAC pseudonym (`data.pseudonymize`), so raw ids and pseudonyms
   are both accepted. An id found neither way is unknown: `unknown_ids="error"`
   (default) stops before any work, naming the ids' positions in the request (never
   the ids); "count" erases the known ones and records how many were unknown.
2. data: every row of those users leaves every part (train, validation, test,
   cold). The new `data/` holds the remaining parts, the item map and the counts
   (`forget.json`); the parent's ingestion records (rejected lines, duplicates,
   feedback files) are not carried over.
3. sentiment: the parent's classifier (hard-linked) and a NEW score cache holding
   only the entries of the remaining reviews' texts, copied from the parent's cache
   (`ScoreCache.copy_to`): nothing is re-scored, and no entry of an erased text is
   carried. A cache shared by several runs (`sentiment.cache_dir`) is cleaned up
   with the rest (step 7); the new run uses its own.
4. features, recsys, guardrail: `update.train_and_judge`. The feature tables are
   rebuilt from the remaining rows, so the users' reviews leave the item
   aggregates, popularity, other users' histories and the co-review similarity;
   the warm start copies rows BY ID into vocabularies that no longer hold the users,
   so their embedding and bias rows are dropped; then `epochs` epochs of training.
5. decision: an erasure is ALWAYS published. A legal erasure must not be refusable
   by a quality check, and refusing would leave the users in the served model. The
   guardrail still runs (candidate against the published version on the remaining
   evaluation part) and its checks are recorded in decision.json; if they fail, the
   reason says so ("erasure: published although ...") and the tool warns.
6. publish: `update.publish` (staged export, op audit, publish lock, rename,
   models.config, pruning to `keep_versions`, records).
7. cleanup, only once the new version is live: the versions older than it whose
   files hold any of the ids (the user vocabulary and exclusion table are graph
   constants and assets of a SavedModel), the run folders that hold them (the
   parent and its ancestors, the runs that made the older versions, update runs
   beside them started from one of those) and the entries of their texts in a
   shared score cache are deleted, or with `cleanup="list"` listed in
   `erasure.json` for the operator. A version or run folder is checked by its
   content: Parquet tables are read (compressed pages hide bytes), `.npz` arrays
   loaded, other files searched byte for byte; an id that is also a substring of
   unrelated data (a very short id) can only make one more old version or run
   folder count as holding it.

Records: the run folder and its lineage say THAT an erasure happened, when and how
many users and rows, never who: no id (raw or pseudonymised), no file name of the
request, no text is written to a config, a record, a log line or an error message.

    lineage.json   "erasure": {"created", "users", "unknown_ids", "rows_removed",
                   "cleanup": {mode, versions, runs, score_cache entries}}
    erasure.json   the same counts and the cleanup (what was deleted / is to delete)
    decision.json  the guardrail's checks and the outcome (always published)

What the erasure does not undo (README, "Forgetting a user"): the sentiment
classifier's weights, fine-tuned on the training reviews, theirs included; the
learned weights of the other users and items, which the warm start continues
from; the parent's global constants (profile prior, normalisation statistics,
global mean: the layers hold them, and the warm start needs them unchanged). None
of these holds an id or a text; a full retraining without the users removes them too.

Example:

>>> result = run_forget("runs/demo-20260101-120000", ["A2IBPI20UZIR0U"])  # doctest: +SKIP
>>> result.version_dir, result.erasure["users"], result.cleanup.mode  # doctest: +SKIP
(PosixPath('saved_models/tfrec_sentiment/3'), 1, 'delete')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import mmap
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.pseudonymize import key_available, pseudonymize_ids
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.preflight import check_export_root, estimate_saved_run_bytes
from tfrec_sentiment.export.versions import (
    delete_versions,
    publish_lock,
    remove_leftovers,
    versions,
)
from tfrec_sentiment.pipeline.config import ForgetConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData
from tfrec_sentiment.pipeline.stages import StageTimer, write_json
from tfrec_sentiment.pipeline.update import (
    DECISION_FILE,
    LINEAGE_FILE,
    RECORD_KEY,
    Decision,
    Hook,
    UpdateError,
    UpdateState,
    decide,
    link_tree,
    load_parent_config,
    new_run_dir,
    publish,
    start_lineage,
    train_and_judge,
)
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.sentiment.inference import ScoreCache, scoring_options, text_keys
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

log = logging.getLogger(__name__)

ERASURE_FILE = "erasure.json"
DATA_FILE = "forget.json"  # data/forget.json: rows removed and kept per part


class ForgetError(UpdateError):
    """The erasure cannot run (names the run folder or what is wrong, never an id)."""


class UnknownUsersError(ForgetError):
    """Requested ids the run does not know (`unknown_ids="error"`), by position."""


@dataclasses.dataclass
class Matched:
    """The requested ids resolved against a run.

    Attributes:
        stored: the users' ids as the run stores them (raw or pseudonymised), sorted.
        needles: every form of their ids to search old artefacts for (as stored, and
            as given when given raw), sorted.
        unknown: 1-based positions in the request of the ids found neither way.
        requested: how many ids were requested (after removing repeats).
    """

    stored: list[str]
    needles: list[str]
    unknown: list[int]
    requested: int


@dataclasses.dataclass
class Cleanup:
    """What held the users after the new version went live, and what became of it.

    Attributes:
        mode: "delete" or "list".
        versions: older version numbers that held them (deleted, or to delete).
        runs: run folders that held them (deleted, or to delete).
        score_cache: a shared score cache outside the run folders, or None.
        cache_entries: entries of their texts in that cache (deleted, or to delete).
        done: whether the cleanup deleted them (mode "delete").
    """

    mode: str
    versions: list[int] = dataclasses.field(default_factory=list)
    runs: list[str] = dataclasses.field(default_factory=list)
    score_cache: str | None = None
    cache_entries: int = 0
    done: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ForgetResult:
    """The finished erasure: the new run, its decision, version and cleanup.

    `erasure` holds the counts recorded in lineage.json (no ids).
    """

    run_dir: Path
    decision: Decision
    version_dir: Path | None
    candidate: TrainedRecommender | None
    evaluation: dict
    erasure: dict
    cleanup: Cleanup
    timing: dict


def run_forget(parent_dir: str | Path, users: Sequence[str], config: ForgetConfig | None = None,
               *, export: ExportConfig | None = None, run_dir: str | Path | None = None,
               key: str | bytes | None = None, strategy: tf.distribute.Strategy | None = None,
               progress: bool = True, hook: Hook | None = None) -> ForgetResult:
    """Erases `users` from a finished run, publishes the result and cleans up.

    Args:
        parent_dir: a finished run folder (`tools/train.py`, an update or an erasure).
        users: the ids to forget, raw or pseudonymised (repeats ignored).
        config: the erasure settings (`ForgetConfig()` by default).
        export: where to publish (default: the parent run's `export` section).
        run_dir: the new run folder (default: beside the parent,
            `<name>-forget-<YYYYmmdd-HHMMSS>`).
        key: the pseudonymisation key; None = the environment variable the run's
            `data.pseudonymize_key_env` names, if set (raw ids are then mapped).
        strategy: distribution strategy of the warm-start training.
        progress: progress bars.
        hook: `hook(stage, state)` after "data", "trained", "evaluated", "decided".

    Returns:
        `ForgetResult`; the new version is published whatever the guardrail says.

    Raises:
        UnknownUsersError: ids the run does not know (`unknown_ids="error"`), or none
            of the ids is known; nothing is written then.
        ForgetError / UpdateError: the parent is not a finished run. A failure after
            the run folder exists is first recorded in its decision.json.
    """
    config = config or ForgetConfig()
    parent_dir = Path(parent_dir)
    run_config = load_parent_config(parent_dir)
    export = export or run_config.export
    model_dir = Path(export.root) / export.model_name
    parent_split = Split.load(parent_dir / "data")
    matched = match_users(users, _user_ids(parent_split), key=key,
                          env_var=run_config.data.pseudonymize_key_env)
    _check_unknown(matched, config, key is not None
                   or key_available(run_config.data.pseudonymize_key_env))
    check_export_root(model_dir, estimate_saved_run_bytes(parent_dir))  # before any work
    remove_leftovers(model_dir)
    run_dir = new_run_dir(parent_dir, run_config.name, run_dir, kind="forget")
    update_config = config.update_config()
    lineage = start_lineage(parent_dir, run_dir, [], update_config)
    lineage["forget_config"] = dataclasses.asdict(config)
    state = UpdateState(run_dir, parent_dir)
    timer = StageTimer()
    try:
        return _run(parent_split, matched, run_config, config, export, state, timer,
                    lineage, strategy or tf.distribute.get_strategy(), progress,
                    hook or (lambda stage, s: None))
    except BaseException as error:
        decision = state.decision or Decision(False, "the erasure failed before deciding",
                                              True, config.tolerance, None)
        if decision.status != "published":
            decision.status = "failed"
        decision.error = f"{type(error).__name__}: {_no_ids(str(error), matched)}"
        write_json(run_dir / DECISION_FILE, decision.to_dict())
        raise


def _run(parent_split: Split, matched: Matched, run_config: config_lib.RunConfig,
         config: ForgetConfig, export: ExportConfig, state: UpdateState, timer: StageTimer,
         lineage: dict, strategy: tf.distribute.Strategy, progress: bool,
         hook: Hook) -> ForgetResult:
    parent, run_dir = state.parent, state.run_dir
    update_config = config.update_config()
    with timer("data"):
        state.feedback, counts = data_stage(parent, run_dir, parent_split, matched.stored)
    erasure = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "users": len(matched.stored), "unknown_ids": len(matched.unknown),
               "rows_removed": counts["removed"]}
    lineage["erasure"] = erasure
    write_json(run_dir / LINEAGE_FILE, lineage)
    hook("data", state)
    # The new run scores through its own, filtered cache (step 3), whatever the parent used.
    run_config = dataclasses.replace(
        run_config, sentiment=dataclasses.replace(run_config.sentiment, cache_dir=None))
    parent_cache = parent_cache_dir(parent)
    with timer("sentiment"):
        state.sentiment, scores = sentiment_stage(parent, run_dir, state.feedback.split,
                                                  run_config, parent_cache, progress)
    train_and_judge(run_config, update_config, export, state, scores, timer, strategy,
                    progress, hook)
    state.decision = decide_erasure(state.evaluation, config)
    write_json(run_dir / DECISION_FILE, state.decision.to_dict())
    hook("decided", state)
    with timer("export"):
        state.version_dir = publish(state, export, update_config, lineage)
    if state.version_dir is None:  # force is on: a re-check under the lock cannot refuse
        raise ForgetError(f"{run_dir}: the erasure's version was not published")
    with timer("cleanup"):
        model_dir = Path(export.root) / export.model_name
        erased_keys = _erased_text_keys(parent_split, matched.stored, state.feedback.split)
        cleanup = clean_up(model_dir, int(state.version_dir.name), parent, run_dir, matched,
                           erased_keys, parent_cache, config.cleanup)
    erasure["cleanup"] = cleanup.to_dict()
    timing = timer.to_dict()
    write_json(run_dir / ERASURE_FILE, {**erasure, "version": int(state.version_dir.name)})
    write_json(run_dir / LINEAGE_FILE, lineage)  # completed by `publish`, + the cleanup
    write_json(run_dir / "timing.json", timing)
    write_forget_report(state, erasure, timing)
    log.info("erased %d user(s) (%d rows); published %s", erasure["users"],
             sum(counts["removed"].values()), state.version_dir)
    return ForgetResult(run_dir, state.decision, state.version_dir, state.candidate,
                        state.evaluation, erasure, cleanup, timing)


# --- stages ---------------------------------------------------------------------------


def match_users(users: Iterable[str], known: Iterable[str], *, key: str | bytes | None = None,
                env_var: str | None = None) -> Matched:
    """Resolves requested ids against a run's user ids, as given or as pseudonyms.

    Args:
        users: requested ids [R] (surrounding whitespace ignored, repeats dropped).
        known: the run's user ids.
        key: the pseudonymisation key; None = `env_var`'s value if set, else ids are
            matched only as given.
        env_var: environment variable holding the key.

    Returns:
        `Matched`.

    Example:

    >>> m = match_users(["b", "x", "b"], ["a", "b"])
    >>> m.stored, m.unknown, m.requested
    (['b'], [2], 2)
    """
    requested = list(dict.fromkeys(str(u).strip() for u in users))
    known = set(map(str, known))
    mapped: list[str | None] = [None] * len(requested)
    if key is not None or (env_var is not None and key_available(env_var)):
        kwargs = {"env_var": env_var} if env_var is not None else {}
        mapped = list(pseudonymize_ids(requested, key, **kwargs))
    stored, needles, unknown = set(), set(), []
    for position, (given, pseudonym) in enumerate(zip(requested, mapped), start=1):
        hits = [i for i in (given, pseudonym) if i is not None and i in known]
        if not hits:
            unknown.append(position)
            continue
        stored.update(hits)
        needles.update(hits + [given])
    return Matched(sorted(stored), sorted(needles), unknown, len(requested))


def data_stage(parent: Path, run_dir: Path, split: Split,
               users: Sequence[str]) -> tuple[FeedbackData, dict]:
    """The parent's parts without the users' rows; writes `data/`.

    Returns:
        (the data as the shared stages read it: `FeedbackData` with no feedback
        file; counts {"removed": rows per part, "kept": rows per part}).
    """
    doomed = set(users)
    parts = {name: frame[~frame["user_id"].astype(str).isin(doomed)].reset_index(drop=True)
             for name, frame in split.all_parts.items()}
    remaining = Split(**parts)
    counts = {"removed": {name: len(frame) - len(parts[name])
                          for name, frame in split.all_parts.items()},
              "kept": remaining.sizes}
    if len(remaining.train) == 0:
        raise ForgetError(f"{parent}: erasing these users leaves no training review")
    item_map = pd.read_parquet(parent / "data" / "item_map.parquet").astype(object)
    data = FeedbackData(remaining, item_map, [], [], counts["removed"])
    folder = run_dir / "data"
    remaining.save(folder)
    data.reviews.to_parquet(folder / "reviews.parquet", index=False)
    item_map.to_parquet(folder / "item_map.parquet", index=False)
    write_json(folder / DATA_FILE, {"users": len(doomed), **counts,
                                    "split": remaining.summary()})
    return data, counts


def parent_cache_dir(parent: Path) -> Path:
    """The score cache the parent run used: `sentiment.cache_dir`, else its own."""
    cache_dir = config_lib.load(parent / "config.json").sentiment.cache_dir
    return Path(cache_dir) if cache_dir else parent / "sentiment" / "scores"


def sentiment_stage(parent: Path, run_dir: Path, split: Split,
                    run_config: config_lib.RunConfig, parent_cache: Path,
                    progress: bool) -> tuple[SentimentModel, Scores]:
    """Scores the remaining training reviews through a cache of remaining texts only.

    The classifier folder is hard-linked into `run_dir/sentiment/model`; the new
    cache `run_dir/sentiment/scores` receives the parent cache's entries of the texts
    of every remaining part (`ScoreCache.copy_to`), so scoring reads them back and
    only texts the parent never scored cost a BERT pass.
    """
    folder = run_dir / "sentiment"
    link_tree(parent / "sentiment" / "model", folder / "model")
    model = SentimentModel.load(folder / "model")
    frames = [f for f in split.all_parts.values() if len(f)]
    keys = text_keys(review_texts(pd.concat(frames, ignore_index=True)))
    cache = ScoreCache(parent_cache).copy_to(folder / "scores", keys)
    scores = model.score(review_texts(split.train), cache=cache, progress=progress,
                         **scoring_options(run_config.sentiment))
    write_json(folder / "forget.json", {"scored": len(split.train), "cache": dict(cache.stats),
                                        "fingerprint": model.fingerprint()})
    return model, scores


def decide_erasure(evaluation: dict, config: ForgetConfig) -> Decision:
    """The guardrail's verdict on an erasure: always publish, the checks recorded.

    The checks are those `update.decide` makes; a refusal it would give becomes
    the reason ("erasure: published although the guardrail alone would refuse:
    ..."), never a refusal.
    """
    judged = decide(evaluation, dataclasses.replace(config.update_config(), force=False))
    if judged.publish:
        reason = f"erasure; the guardrail agrees: {judged.reason}"
    else:
        reason = f"erasure: published although the guardrail alone would refuse: {judged.reason}"
    return dataclasses.replace(judged, publish=True, forced=True, reason=reason)


# --- cleanup ----------------------------------------------------------------------------


def clean_up(model_dir: Path, version: int, parent: Path, run_dir: Path, matched: Matched,
             erased_keys: np.ndarray, cache_dir: Path, mode: str) -> Cleanup:
    """Deletes (or lists) what still holds the users once `version` is live.

    Older versions whose files hold an id, run folders that hold one (`related_runs`
    of `parent` and the older versions, never `run_dir`), and the entries of the
    erased texts (`erased_keys`) in the parent's score cache `cache_dir` when it lies
    outside those run folders (a shared `sentiment.cache_dir`). Versions are deleted
    under the publish lock, renamed to a hidden name first (`delete_versions`).
    """
    needles = [n.encode("utf-8") for n in matched.needles]
    cleanup = Cleanup(mode)
    older = [v for v in versions(model_dir) if v < version]
    cleanup.versions = [v for v in older if holds(model_dir / str(v), needles)]
    runs = related_runs(parent, model_dir, older)
    own = run_dir.resolve()
    cleanup.runs = [str(r) for r in runs if r.resolve() != own and holds(r, needles)]
    if not any(cache_dir.resolve().is_relative_to(Path(r).resolve()) for r in cleanup.runs):
        cache = ScoreCache(cache_dir)
        cleanup.cache_entries = sum(entry is not None for f in cache.fingerprints()
                                    for entry in cache.lookup(f, erased_keys))
        cleanup.score_cache = str(cache_dir) if cleanup.cache_entries else None
    if mode != "delete":
        return cleanup
    with publish_lock(model_dir):
        delete_versions(model_dir, cleanup.versions)
    for run in cleanup.runs:
        shutil.rmtree(run)
    if cleanup.score_cache is not None:
        ScoreCache(cache_dir).remove(erased_keys)
    cleanup.done = True
    return cleanup


def related_runs(parent: Path, model_dir: Path, older: Sequence[int]) -> list[Path]:
    """Run folders that may hold the same users as `parent`.

    The parent and its ancestors (lineage.json's `parent_run`, up to the training
    run), the runs that made the `older` versions (export.json's `source_run` and
    update record), and the update or erasure runs beside any of them that started
    from one of them (e.g. refused updates, which keep the whole history). Only
    existing folders with a config.json count.
    """
    found: dict[Path, None] = {}
    run = parent
    while run is not None and (run / "config.json").is_file() and run.resolve() not in found:
        found[run.resolve()] = None
        lineage = _read(run / LINEAGE_FILE)
        run = Path(lineage["parent_run"]) if lineage.get("parent_run") else None
    for version in older:
        facts = _read(model_dir / str(version) / "assets.extra" / "export.json")
        record = facts.get(RECORD_KEY) if isinstance(facts.get(RECORD_KEY), dict) else {}
        for path in (facts.get("source_run"), record.get("run_dir")):
            if path and (Path(path) / "config.json").is_file():
                found.setdefault(Path(path).resolve(), None)
    family = {str(p) for p in found}
    for folder in {p.parent for p in found}:
        for sibling in sorted(folder.iterdir()):
            lineage = _read(sibling / LINEAGE_FILE)
            if (lineage.get("parent_run") in family and (sibling / "config.json").is_file()):
                found.setdefault(sibling.resolve(), None)
    return list(found)


def holds(folder: Path, needles: Sequence[bytes]) -> bool:
    """Whether any file under `folder` holds one of `needles` (UTF-8 ids).

    Parquet tables are read and their string values searched (compression hides
    bytes on disk), `.npz` arrays loaded (string arrays searched), every other file
    searched byte for byte.
    """
    if not needles:
        return False
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            found = _table_holds(path, needles)
        elif path.suffix == ".npz":
            found = _arrays_hold(path, needles)
        else:
            found = _bytes_hold(path, needles)
        if found:
            return True
    return False


def _table_holds(path: Path, needles: Sequence[bytes]) -> bool:
    frame = pd.read_parquet(path)
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind in "iufbmM":
            continue
        blob = "\x00".join(map(str, values.dropna().tolist())).encode("utf-8", "surrogatepass")
        if any(n in blob for n in needles):
            return True
    return False


def _arrays_hold(path: Path, needles: Sequence[bytes]) -> bool:
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            array = data[name]
            if array.dtype.kind == "U":
                blob = "\x00".join(array.ravel().tolist()).encode("utf-8", "surrogatepass")
            elif array.dtype.kind == "S":
                blob = b"\x00".join(array.ravel().tolist())
            else:
                continue
            if any(n in blob for n in needles):
                return True
    return False


def _bytes_hold(path: Path, needles: Sequence[bytes]) -> bool:
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                              access=mmap.ACCESS_READ) as view:
        return any(view.find(n) >= 0 for n in needles)


# --- helpers ----------------------------------------------------------------------------


def _user_ids(split: Split) -> set[str]:
    return set().union(*(set(f["user_id"].astype(str)) for f in split.all_parts.values()))


def _check_unknown(matched: Matched, config: ForgetConfig, key: bool) -> None:
    hint = ("" if key else "; ids are matched as given (set the pseudonymisation key to "
                           "match raw ids against a pseudonymised run)")
    if not matched.stored:
        raise UnknownUsersError(f"none of the {matched.requested} requested id(s) is a user "
                                f"of the run: nothing to erase{hint}")
    if matched.unknown and config.unknown_ids == "error":
        raise UnknownUsersError(
            f"{len(matched.unknown)} of the {matched.requested} requested id(s) are not users "
            f"of the run (positions {_positions(matched.unknown)} of the request, after "
            f"repeats are dropped){hint}; nothing was erased. unknown_ids=count erases the "
            f"known ones")


def _positions(positions: Sequence[int], most: int = 10) -> str:
    shown = ", ".join(map(str, positions[:most]))
    return shown + (f" and {len(positions) - most} more" if len(positions) > most else "")


def _erased_text_keys(before: Split, users: Sequence[str], after: Split) -> np.ndarray:
    """Text keys of the users' reviews that no remaining review shares."""
    doomed = set(users)
    frames = [f[f["user_id"].astype(str).isin(doomed)] for f in before.all_parts.values()]
    theirs = pd.concat(frames, ignore_index=True)
    kept = [f for f in after.all_parts.values() if len(f)]
    remaining = set(text_keys(review_texts(pd.concat(kept, ignore_index=True)))) if kept else set()
    keys = [k for k in np.unique(text_keys(review_texts(theirs))) if k not in remaining]
    return np.array(keys, dtype="S32")


def _no_ids(message: str, matched: Matched) -> str:
    """`message` with every form of the users' ids masked (for records of a failure)."""
    for needle in sorted(matched.needles, key=len, reverse=True):
        message = message.replace(needle, "<erased id>")
    return message


def _read(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_forget_report(state: UpdateState, erasure: dict, timing: dict) -> Path:
    """`report.md` of the erasure run: counts, guardrail, decision, cleanup, timing."""
    decision, cleanup = state.decision, erasure["cleanup"]
    verb = "deleted" if cleanup["done"] else "to delete (listed)"
    lines = [f"# Erasure `{state.run_dir.name}` of `{state.parent.name}`", "",
             f"{erasure['created']}: {erasure['users']} user(s) erased "
             f"({erasure['unknown_ids']} requested id(s) unknown); rows removed per part: "
             f"{erasure['rows_removed']}", "", "## Guardrail (recorded, never refusing)", ""]
    if decision.checks:
        lines += [f"| metric | candidate | published v{decision.compared_version} | limit | ok |",
                  "|---|---|---|---|---|"]
        lines += [f"| {c.metric} | {c.candidate:.4f} | {c.published:.4f} | {c.limit:.4f} | "
                  f"{'yes' if c.passed else 'NO'} |" for c in decision.checks]
        lines.append("")
    lines += [f"Decision: **{decision.status}**: {decision.reason}", "",
              f"Published `{state.version_dir}`; pruned versions {decision.pruned}", "",
              "## Cleanup", "", f"Mode `{cleanup['mode']}`: versions {verb}: "
              f"{cleanup['versions']}; run folders {verb}: {len(cleanup['runs'])}; shared "
              f"score-cache entries {verb}: {cleanup['cache_entries']}", "",
              "## Stage wall times", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timing["seconds"].items()]
    path = state.run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
