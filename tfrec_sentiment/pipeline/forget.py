"""Erasure of users behind `tools/forget.py`: their reviews out, a new version in, old copies gone.

    parent run --(user ids)--> erased run --(always published)--> saved_models/<name>/<v+1>/
                               then older versions, run folders, shared cache entries
                               holding them: deleted (cleanup "delete") or listed ("list")

A request to be forgotten (e.g. GDPR art. 17) reaches every copy of a user's data.
The erasure reuses the feedback update's stages (`pipeline.update`):

1. ids (`forget_ids`): matched among the run's users as given or as their HMAC
   pseudonym; unknown ones stop the erasure (`unknown_ids="error"`) or are counted.
2. data: every row of those users leaves every part (train, validation, test,
   cold); the parent's ingestion records (rejected lines, duplicates, feedback
   files) are not carried over.
3. sentiment: the parent's classifier (hard-linked) and a NEW score cache holding
   only the remaining texts' entries, copied (`cache_edit.copy_scores`): nothing is
   re-scored, no entry of an erased text is carried; the new run uses its own cache.
4. features, recsys, guardrail (`update.train_and_judge`): tables rebuilt from the
   remaining rows (item aggregates, popularity, histories, co-review similarity);
   the warm start copies rows by id into vocabularies without the users, so their
   embedding and bias rows are dropped.
5. decision: ALWAYS published. A legal erasure must not be refusable by a quality
   check, and a refusal would leave the users in the served model; the guardrail's
   checks are recorded in decision.json and a failing one is named in the reason
   ("erasure: published although ...").
6. publish: `update.publish` (staged export, audit, lock, rename, pruning, records).
7. cleanup (`forget_cleanup`), once the new version is live.

Records say THAT an erasure happened, when, how many users and rows, never who: no
id (raw or pseudonymised), request file name or text in a config, record, log line or
error message. lineage.json "erasure" and erasure.json hold the counts and the
cleanup; decision.json the guardrail's checks.

Not undone (README, "Forgetting a user"): the classifier's weights (fine-tuned on
reviews, theirs included), the other users' and items' learned weights (the warm
start continues from them) and the parent's global constants (profile prior,
normalisation statistics, global mean). None holds an id or a text; training a new
run without the users removes them too.

Example:

>>> result = run_forget("runs/demo-20260101-120000", ["A2IBPI20UZIR0U"])  # doctest: +SKIP
>>> result.version_dir, result.erasure["users"], result.cleanup.mode  # doctest: +SKIP
(PosixPath('saved_models/tfrec_sentiment/3'), 1, 'delete')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.pseudonymize import key_available
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.preflight import check_export_root, estimate_saved_run_bytes
from tfrec_sentiment.export.versions import latest_version, remove_leftovers
from tfrec_sentiment.io import read_table, write_table
from tfrec_sentiment.pipeline.config import ForgetConfig
from tfrec_sentiment.pipeline.feedback import FeedbackData
from tfrec_sentiment.pipeline.forget_cleanup import Cleanup, clean_up
from tfrec_sentiment.pipeline.forget_ids import (
    ForgetError,
    Matched,
    UnknownUsersError,
    check_unknown,
    erased_text_keys,
    mask_ids,
    match_users,
    user_ids,
)
from tfrec_sentiment.pipeline.stages import StageTimer, write_json
from tfrec_sentiment.pipeline.update import (
    DECISION_FILE,
    LINEAGE_FILE,
    Decision,
    Hook,
    UpdateState,
    check_lineage,
    decide,
    lineage_root,
    link_classifiers,
    load_parent_config,
    new_run_dir,
    publish,
    start_lineage,
    train_and_judge,
)
from tfrec_sentiment.pipeline.update_report import guardrail_table
from tfrec_sentiment.privacy import table_encryption
from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.sentiment.cache_edit import copy_scores
from tfrec_sentiment.sentiment.inference import ScoreCache, score_reviews, text_keys
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import Scores, SentimentModel

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

__all__ = ["Cleanup", "ForgetError", "ForgetResult", "Matched", "UnknownUsersError",
           "decide_erasure", "match_users", "run_forget"]

log = logging.getLogger(__name__)

ERASURE_FILE = "erasure.json"
DATA_FILE = "forget.json"  # data/forget.json: rows removed and kept per part


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
    encryption = table_encryption(run_config.privacy)  # the run's tables, as it wrote them
    parent_split = Split.load(parent_dir / "data", encryption)
    matched = match_users(users, user_ids(parent_split), key=key,
                          env_var=run_config.data.pseudonymize_key_env)
    has_key = key is not None or key_available(run_config.data.pseudonymize_key_env)
    check_unknown(matched, config, has_key)
    check_export_root(model_dir, estimate_saved_run_bytes(parent_dir))  # before any work
    remove_leftovers(model_dir)
    update_config = config.update_config()
    check_lineage(model_dir, latest_version(model_dir), lineage_root(parent_dir),
                  update_config.replace_other_lineage)  # before any work, too
    run_dir = new_run_dir(parent_dir, run_config.name, run_dir, kind="forget")
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
        decision.error = f"{type(error).__name__}: {mask_ids(str(error), matched)}"
        write_json(run_dir / DECISION_FILE, decision.to_dict())
        raise


def _run(parent_split: Split, matched: Matched, run_config: config_lib.RunConfig,
         config: ForgetConfig, export: ExportConfig, state: UpdateState, timer: StageTimer,
         lineage: dict, strategy: tf.distribute.Strategy, progress: bool,
         hook: Hook) -> ForgetResult:
    parent, run_dir = state.parent, state.run_dir
    update_config, encryption = config.update_config(), table_encryption(run_config.privacy)
    with timer("data"):
        state.feedback, counts = data_stage(parent, run_dir, parent_split, matched.stored,
                                            encryption)
    erasure = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "users": len(matched.stored), "unknown_ids": len(matched.unknown),
               "rows_removed": counts["removed"]}
    lineage["erasure"] = erasure
    write_json(run_dir / LINEAGE_FILE, lineage)
    hook("data", state)
    # The new run scores through its own, filtered cache (step 3), whatever the parent used.
    run_config = dataclasses.replace(
        run_config, sentiment=dataclasses.replace(run_config.sentiment, cache_dir=None))
    parent_cache = ScoreCache(parent_cache_dir(parent), encryption)
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
        erased_keys = erased_text_keys(parent_split, matched.stored, state.feedback.split)
        cleanup = clean_up(model_dir, int(state.version_dir.name), parent, run_dir, matched,
                           erased_keys, parent_cache, config.cleanup, encryption)
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


def data_stage(parent: Path, run_dir: Path, split: Split, users: Sequence[str],
               encryption: TableEncryption | None = None) -> tuple[FeedbackData, dict]:
    """The parent's parts without the users' rows; writes `data/` (with `encryption`,
    the parent run's, as `io.write_table` does).

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
    item_map = read_table(parent / "data" / "item_map.parquet", encryption).astype(object)
    data = FeedbackData(remaining, item_map, [], [], counts["removed"])
    folder = run_dir / "data"
    remaining.save(folder, encryption)
    write_table(data.reviews, folder / "reviews.parquet", encryption)
    write_table(item_map, folder / "item_map.parquet", encryption)
    write_json(folder / DATA_FILE, {"users": len(doomed), **counts,
                                    "split": remaining.summary()})
    return data, counts


def parent_cache_dir(parent: Path) -> Path:
    """The score cache the parent run used: `sentiment.cache_dir`, else its own."""
    cache_dir = config_lib.load(parent / "config.json").sentiment.cache_dir
    return Path(cache_dir) if cache_dir else parent / "sentiment" / "scores"


def sentiment_stage(parent: Path, run_dir: Path, split: Split,
                    run_config: config_lib.RunConfig, parent_cache: ScoreCache,
                    progress: bool) -> tuple[SentimentModel, Scores]:
    """Scores the remaining training reviews through a cache of remaining texts only.

    The classifier folder is hard-linked into `run_dir/sentiment/model`; the new
    cache `run_dir/sentiment/scores` receives the parent cache's entries of the texts
    of every remaining part (`cache_edit.copy_scores`), so scoring reads them back and
    only texts the parent never scored cost a BERT pass.
    """
    folder = run_dir / "sentiment"
    link_classifiers(parent, run_dir)
    model = SentimentModel.load(folder / "model")
    frames = [f for f in split.all_parts.values() if len(f)]
    keys = text_keys(review_texts(pd.concat(frames, ignore_index=True)))
    cache = copy_scores(parent_cache, folder / "scores", keys)
    scores = score_reviews(model, split.train, run_config.sentiment, cache, progress)
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


def write_forget_report(state: UpdateState, erasure: dict, timing: dict) -> Path:
    """`report.md` of the erasure run: counts, guardrail, decision, cleanup, timing."""
    decision, cleanup = state.decision, erasure["cleanup"]
    verb = "deleted" if cleanup["done"] else "to delete (listed)"
    lines = [f"# Erasure `{state.run_dir.name}` of `{state.parent.name}`", "",
             f"{erasure['created']}: {erasure['users']} user(s) erased "
             f"({erasure['unknown_ids']} requested id(s) unknown); rows removed per part: "
             f"{erasure['rows_removed']}", "", "## Guardrail (recorded, never refusing)", ""]
    lines += guardrail_table(decision)
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
