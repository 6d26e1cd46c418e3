"""Feedback data: new interaction logs folded into a finished run's review history.

Steps, each accounted for (`FeedbackData.counts`, balanced like an IngestReport):

1. `prepare_reviews` on every feedback file (the same ingestion as training: any
   reader format, cleaning, de-duplication, variant collapse). Its own report
   (lines = accepted + rejected + duplicates) is kept per file. Feedback whose every
   line is rejected (a wrong `--format` or `--columns`) is refused with the counts
   per file and reason (`FeedbackRejectedError`), not reported as "nothing new".
2. Product ids: a feedback review of a source item the run already maps to a
   product gets that product's id (`map_items`), so variant groups stay stable
   across updates; other items keep the id ingestion gave them (new products).
3. Reconciliation by the key (user_id, item_id, timestamp) against the history
   (`reconcile`): a feedback row equal to a known review in rating, helpful votes,
   text and title is "already_known"; one that differs "updated" the known review
   in place (e.g. more helpful votes, an edited rating); the same key twice in the
   feedback keeps the last ("repeated"); the rest is "new".
4. Time split of the NEW rows (`split_new`): the newest `eval_fraction` is the
   evaluation slice, the `validation_fraction` before it the early-stopping part,
   the rest joins the training history (`data.splits.time_cutoff`: a day is never
   cut in two).

Example:

>>> data = fold_feedback(history, item_map, ["new.jsonl"], UpdateConfig())  # doctest: +SKIP
>>> data.split.sizes                                                      # doctest: +SKIP
{'train': 9850, 'validation': 41, 'test': 82}
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.prepare import PreparedReviews, prepare_reviews
from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.data.splits import Split, time_cutoff
from tfrec_sentiment.pipeline.config import UpdateConfig

KEY = ["user_id", "item_id", "timestamp"]
COMPARED = ["rating", "helpful_votes", "text", "title"]
OUTCOMES = ("new", "already_known", "updated", "repeated")


class FeedbackError(ValueError):
    """The feedback cannot update the run (e.g. it holds nothing new)."""


class FeedbackRejectedError(FeedbackError):
    """The reader rejected every line of the feedback (likely a wrong --format or
    --columns); the message gives the lines and the rejections by reason per file."""


@dataclasses.dataclass
class FeedbackData:
    """The feedback folded into the history.

    Attributes:
        split: train = the whole updated history + the older new rows, validation =
            new rows for early stopping, test = the evaluation slice (newest new rows).
        item_map: source item id -> product id, the run's map grown by the feedback.
        prepared: one `PreparedReviews` per feedback file.
        files: per file: path, sha256, format, and its ingestion counts.
        counts: accepted feedback rows by outcome (OUTCOMES), and the new rows per part.
    """

    split: Split
    item_map: pd.DataFrame
    prepared: list[PreparedReviews]
    files: list[dict]
    counts: dict[str, int]

    @property
    def reviews(self) -> pd.DataFrame:
        """Every review after the update (history + new), in time order."""
        frame = pd.concat(list(self.split.parts.values()), ignore_index=True)
        return frame.sort_values("timestamp", kind="stable", ignore_index=True)


def fold_feedback(history: pd.DataFrame, item_map: pd.DataFrame, paths: Sequence[str | Path],
                  config: UpdateConfig, *, format: str | None = None,
                  columns: Sequence[str] | None = None,
                  data_config: DataConfig | None = None) -> FeedbackData:
    """Ingests `paths`, reconciles them with `history` and splits the new rows by time.

    Args:
        history: every review the run knows (canonical table).
        item_map: the run's `source_item_id` -> `item_id` map.
        paths: feedback files, any format `prepare_reviews` reads.
        config: the update settings (eval / validation fractions).
        format, columns: reader name and column map of the feedback files
            (None = guessed from each file, as `prepare_reviews` does).
        data_config: the run's DataConfig (collapse_variants, chunk size, ...).

    Raises:
        FeedbackRejectedError: every line of every file was rejected (read or
            cleaning), with the counts; a file rejected whole while others were read
            only warns (its rejections are in `files`).
        FeedbackError: no file given, or the files hold no new or updated review.
    """
    if not paths:
        raise FeedbackError("no feedback file given")
    # The run's ingestion settings, but not its file format: feedback may come in another.
    data_config = dataclasses.replace(data_config or DataConfig(), format=None, columns=())
    prepared, files, frames, maps = [], [], [], []
    for path in map(Path, paths):
        result = prepare_reviews(path, format, tuple(columns) if columns else None,
                                 config=data_config)
        prepared.append(result)
        files.append({"file": str(path), "sha256": _sha256(path),
                      **result.report.to_dict()})
        frames.append(result.reviews)
        maps.append(result.item_map)
    check_not_all_rejected(files, format)
    feedback = to_canonical(pd.concat(frames, ignore_index=True))
    feedback, grown_map = map_items(feedback, pd.concat(maps, ignore_index=True), item_map)
    updated_history, new, counts = reconcile(history, feedback)
    if len(new) == 0 and counts["updated"] == 0:
        raise FeedbackError(f"the feedback holds no new or updated review ({counts})")
    parts = split_new(new, config)
    split = Split(train=to_canonical(pd.concat([updated_history, parts.train],
                                               ignore_index=True)),
                  validation=parts.validation, test=parts.test)
    counts.update({f"new_{name}": len(frame) for name, frame in parts.parts.items()})
    return FeedbackData(split, grown_map, prepared, files, counts)


def check_not_all_rejected(files: Sequence[dict], format: str | None = None) -> None:
    """Refuses feedback whose every line was rejected; warns about a file rejected whole.

    Args:
        files: per file, its `IngestReport.to_dict()` (with "file", "format").
        format: the reader name asked for (None = guessed per file).

    Raises:
        FeedbackRejectedError: no file has an accepted or duplicate line although
            some have lines, e.g. "every line of the feedback was rejected by the
            reader (format 'amazon2014'): a.csv: 3 of 3 lines rejected
            (invalid_json: 3); check --format and --columns".
    """
    whole = [f for f in files if f["lines"] and sum(f["rejected"].values()) == f["lines"]]
    if not whole:
        return
    described = "; ".join(_rejections(f) for f in whole)
    if len(whole) == len(files):
        asked = f"format {format!r}" if format else "format guessed per file"
        raise FeedbackRejectedError(
            f"every line of the feedback was rejected by the reader ({asked}): "
            f"{described}; check --format and --columns")
    warnings.warn(f"every line of a feedback file was rejected by the reader: {described}",
                  stacklevel=3)


def _rejections(report: dict) -> str:
    rejected = report["rejected"]
    reasons = ", ".join(f"{reason}: {count}" for reason, count
                        in sorted(rejected.items(), key=lambda item: (-item[1], item[0])))
    return (f"{report['file']}: {sum(rejected.values())} of {report['lines']} lines "
            f"rejected ({reasons}; read as {report.get('format', '?')!r})")


def map_items(feedback: pd.DataFrame, feedback_map: pd.DataFrame,
              item_map: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Renames feedback products to the run's products where a source item is known.

    Args:
        feedback: canonical rows whose `item_id` is the feedback's own product id.
        feedback_map: the feedback's `source_item_id` -> `item_id`.
        item_map: the run's `source_item_id` -> `item_id`.

    Returns:
        The renamed rows, and the run's map grown by the feedback's unknown sources.
    """
    known = dict(zip(item_map["source_item_id"].astype(str), item_map["item_id"].astype(str)))
    rename: dict[str, str] = {}
    for source, product in sorted(zip(feedback_map["source_item_id"].astype(str),
                                      feedback_map["item_id"].astype(str))):
        if source in known and product not in rename:
            rename[product] = known[source]
    renamed = feedback.assign(item_id=feedback["item_id"].map(lambda i: rename.get(i, i)))
    fresh = feedback_map[~feedback_map["source_item_id"].astype(str).isin(known)]
    fresh = fresh.assign(item_id=fresh["item_id"].map(lambda i: rename.get(str(i), str(i))))
    grown = pd.concat([item_map, fresh], ignore_index=True).drop_duplicates("source_item_id")
    return renamed, grown.astype(object).reset_index(drop=True)


def reconcile(history: pd.DataFrame,
              feedback: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Splits feedback rows into new / already known / updating / repeated (see module doc).

    Returns:
        (history with updated rows replaced, the new rows, counts by outcome).
    """
    last = ~feedback.duplicated(KEY, keep="last")
    repeated = int((~last).sum())
    feedback = feedback[last].reset_index(drop=True)
    # Row of each history key (the last one, should a key repeat in the history).
    rows = pd.Series(np.arange(len(history)), index=_keys(history))
    rows = rows[~rows.index.duplicated(keep="last")]
    position = rows.reindex(_keys(feedback)).fillna(-1).to_numpy(np.int64)
    known = position >= 0
    history = history.copy()
    differs = np.zeros(len(feedback), bool)
    for column in COMPARED:
        old = history[column].to_numpy()[np.maximum(position, 0)]
        differs |= known & (old != feedback[column].to_numpy())
    for column in COMPARED:
        values = history[column].to_numpy().copy()
        values[position[differs]] = feedback[column].to_numpy()[differs]
        history[column] = values
    counts = {"new": int((~known).sum()), "already_known": int((known & ~differs).sum()),
              "updated": int(differs.sum()), "repeated": repeated}
    return to_canonical(history), feedback[~known].reset_index(drop=True), counts


def split_new(new: pd.DataFrame, config: UpdateConfig) -> Split:
    """The new rows by time: train (oldest), validation, test = the evaluation slice."""
    if len(new) == 0:
        empty = new.iloc[:0]
        return Split(train=empty, validation=empty, test=empty)
    return time_cutoff(new, validation_quantile=config.validation_quantile,
                       test_quantile=config.eval_quantile)


def _keys(frame: pd.DataFrame) -> np.ndarray:
    return (frame["user_id"].astype(str) + "\x1f" + frame["item_id"].astype(str) + "\x1f"
            + frame["timestamp"].astype(np.int64).astype(str)).to_numpy(dtype=object)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
