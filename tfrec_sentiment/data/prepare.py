"""Ingestion: a review file (or table) in; a clean, de-duplicated canonical table out.

`prepare_reviews` runs read -> clean -> de-duplicate / collapse variants ->
pseudonymise (optional), and accounts for every input record in an `IngestReport`:

    lines == accepted + sum(rejected.values()) + duplicates

- rejected: records that could not be read (bad JSON, invalid UTF-8, a rating of
  "five" or 7, a missing user id, ...) or that cleaning set aside (empty text, spam);
  each is a `Rejection` with file, line, field and reason.
- duplicates: exact copies and Amazon-2018-style variant copies (see `variants`).
- cleaning: edits that changed a kept review (HTML unescaped, e-mail scrubbed, ...).

`PreparedReviews.save(dir)` writes `reviews.parquet`, `report.json`, `rejected.jsonl`,
`item_map.parquet` (source item id -> product id) and `duplicates.parquet` (line,
kept_line, kind), so every input line can be traced to one of them. Encrypted
(`save(dir, encryption)`, see `tfrec_sentiment.privacy`), the rejected records are
`rejected.parquet` instead.

`load_dataset("demo" | path | "source/name")` is the entry point of `tools/train.py`.

Example:

>>> prepared = prepare_reviews("All_Beauty_5.json.gz", "amazon2018")  # doctest: +SKIP
>>> prepared.report.balanced, prepared.report.lines  # doctest: +SKIP
(True, 5269)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.demo import generate_demo
from tfrec_sentiment.data.fetch import UnknownDatasetError, cached_path
from tfrec_sentiment.data.pseudonymize import pseudonymize_users
from tfrec_sentiment.data.readers import (
    FORMAT_NAMES,
    FieldError,
    generic_format,
    guess_format,
    iter_review_chunks,
    resolve_format,
)
from tfrec_sentiment.data.readers.encoding import TextDecoder
from tfrec_sentiment.data.readers.generic import ColumnSpec
from tfrec_sentiment.data.readers.reader import read_warnings, reviews_frame
from tfrec_sentiment.data.readers.sources import MAX_RECORD_BYTES
from tfrec_sentiment.data.rejections import load_rejections, save_rejections
from tfrec_sentiment.data.schema import (
    IngestReport,
    Rejection,
    to_canonical,
    validate_reviews,
)
from tfrec_sentiment.data.variants import deduplicate
from tfrec_sentiment.io import read_table, write_table
from tfrec_sentiment.text.clean import clean_reviews

if TYPE_CHECKING:
    from tfrec_sentiment.privacy.encryption import TableEncryption

REVIEWS_FILE = "reviews.parquet"
REPORT_FILE = "report.json"
ITEM_MAP_FILE = "item_map.parquet"
DUPLICATES_FILE = "duplicates.parquet"
DEMO = "demo"


class DatasetNotFoundError(FileNotFoundError):
    """A data set name that is neither "demo", a file, nor a downloaded data set."""


@dataclasses.dataclass
class PreparedReviews:
    """The result of ingestion.

    Attributes:
        reviews: canonical table plus `line` (1-based input line of each review).
        report: the accounting (`report.balanced` always holds).
        rejections: one per rejected record, sorted by line.
        item_map: `source_item_id` -> `item_id` (product id used in `reviews`).
        duplicates: one row per dropped duplicate: `line`, `kept_line`, `kind`.
    """

    reviews: pd.DataFrame
    report: IngestReport
    rejections: list[Rejection]
    item_map: pd.DataFrame
    duplicates: pd.DataFrame

    def save(self, directory: str | Path, encryption: TableEncryption | None = None) -> Path:
        """Writes the five files named in the module docstring into `directory`, encrypted
        with `encryption` (`tfrec_sentiment.privacy`; rejections: `data/rejections.py`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table(self.reviews, directory / REVIEWS_FILE, encryption)
        write_table(self.item_map, directory / ITEM_MAP_FILE, encryption)
        write_table(self.duplicates, directory / DUPLICATES_FILE, encryption)
        (directory / REPORT_FILE).write_text(json.dumps(self.report.to_dict(), indent=2) + "\n")
        save_rejections(self.rejections, directory, encryption)
        return directory

    @classmethod
    def load(cls, directory: str | Path,
             encryption: TableEncryption | None = None) -> PreparedReviews:
        """Reads what `save` wrote, with canonical dtypes restored.

        Raises:
            EncryptedTableError: the tables are encrypted and `encryption` is None or
                holds other keys (the message names the file and the key).
        """
        directory = Path(directory)
        summary = json.loads((directory / REPORT_FILE).read_text())
        known = {f.name for f in dataclasses.fields(IngestReport)} - {"extra"}
        report = IngestReport(
            lines=summary["lines"], accepted=summary["accepted"],
            rejected=Counter(summary["rejected"]), duplicates=summary["duplicates"],
            cleaning=Counter(summary["cleaning"]),
            extra={k: v for k, v in summary.items() if k not in known | {"balanced"}})
        rejections = load_rejections(directory, encryption)
        return cls(
            reviews=to_canonical(read_table(directory / REVIEWS_FILE, encryption)),
            report=report,
            rejections=rejections,
            item_map=read_table(directory / ITEM_MAP_FILE, encryption).astype(object),
            duplicates=read_table(directory / DUPLICATES_FILE, encryption).astype(
                {"line": "int64", "kept_line": "int64", "kind": object}),
        )


def prepare_reviews(
    source: str | Path | pd.DataFrame,
    format: str | None = None,
    columns: ColumnSpec = None,
    *,
    config: DataConfig | None = None,
    collapse_variants: bool | None = None,
    pseudonymize_key: str | None = None,
    progress: bool | None = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> PreparedReviews:
    """Reads, cleans, de-duplicates and (optionally) pseudonymises reviews.

    Args:
        source: a review file (any format of `tfrec_sentiment.data.readers`), or a
            table with the canonical columns (e.g. the demo data; `line` optional).
        format: reader name; None = `config.format`, else guessed from the file.
        columns: column mapping for csv / parquet / jsonl; None = `config.columns`.
        config: defaults for the arguments above; DataConfig() if None.
        collapse_variants: keep one review per (user, text) and group the item ids it
            links into products; None = `config.collapse_variants`, and if that is None
            too, on exactly for formats that copy reviews across variants (amazon2018).
        pseudonymize_key: key for the keyed hash of user ids; None = the environment
            variable named by `config.pseudonymize_key_env`, if set; else ids are kept.
        progress: tqdm bar while reading; None = only when stderr is a terminal.
        max_record_bytes: a record longer than this is set aside alone as
            `record_too_long` (see `readers.sources`); the file's text encoding is
            `config.encoding` (None = UTF-8, the likely encoding named on failures).

    Returns:
        PreparedReviews; `reviews` has shape [accepted, 9 canonical columns + line].

    Raises:
        ReaderError: the file cannot be read at all, or lacks a required column.
        ValueError: unknown format, bad column mapping or unknown encoding.
    """
    config = config or DataConfig()
    format = format or config.format
    columns = columns if columns is not None else (config.columns or None)
    if isinstance(source, pd.DataFrame):
        read, copies = read_frame(source), False
    else:
        read, copies = _read_file(Path(source), format, columns, config.chunk_size, progress,
                                  encoding=config.encoding, max_record_bytes=max_record_bytes)
    if collapse_variants is None:
        collapse_variants = config.collapse_variants
    if collapse_variants is None:
        collapse_variants = copies
    key = pseudonymize_key or os.environ.get(config.pseudonymize_key_env) or None
    return _finish(read, bool(collapse_variants), key)


@dataclasses.dataclass
class CleanedRead:
    """Reviews read and cleaned, before de-duplication, with everything set aside."""

    file: str
    format: str
    reviews: pd.DataFrame
    rejections: list[Rejection]
    lines: int
    cleaning: Counter = dataclasses.field(default_factory=Counter)
    # File-level notes of the reader (encoding, time unit) and the encoding it used.
    notes: list[str] = dataclasses.field(default_factory=list)
    encoding: str | None = None
    encoding_detected: str | None = None


def _read_file(path: Path, format: str | None, columns: ColumnSpec, chunk_size: int,
               progress: bool | None, encoding: str | None = None,
               max_record_bytes: int = MAX_RECORD_BYTES) -> tuple[CleanedRead, bool]:
    """Reads and cleans chunk by chunk, so raw records never pile up in memory."""
    name = format or guess_format(path, encoding)
    copies = resolve_format(name, columns).copies_variants
    result = CleanedRead(str(path), name, pd.DataFrame(), [], 0,
                         encoding=TextDecoder(encoding).codec)
    frames = []
    for chunk in iter_review_chunks(path, name, columns, chunk_size=chunk_size,
                                    progress=progress, encoding=encoding,
                                    max_record_bytes=max_record_bytes):
        kept, stats = clean_reviews(chunk.reviews)
        frames.append(kept)
        result.rejections += chunk.rejections + stats.rejections(str(path))
        result.cleaning.update(stats.edits)
        result.lines += chunk.lines
        result.notes += chunk.warnings
        result.encoding_detected = chunk.encoding_detected
    result.reviews = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return result, copies


def read_frame(frame: pd.DataFrame, name: str | None = None) -> CleanedRead:
    """Checks and cleans an in-memory canonical table like a generic file.

    Every row goes through the same field checks as a file record; `line` is kept if
    present (else the 1-based position), `source` if present (else `name`); other
    non-canonical columns are dropped.
    """
    name = name or (str(frame["source"].iloc[0]) if "source" in frame and len(frame) else "frame")
    lines = (frame["line"].to_numpy(np.int64) if "line" in frame
             else np.arange(1, len(frame) + 1, dtype=np.int64))
    parse = generic_format("jsonl").parse
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    reviews, kept, rejections = [], [], []
    for position, (line, record) in enumerate(zip(lines.tolist(), records)):
        try:
            reviews.append(parse(record))
            kept.append(position)
        except FieldError as error:
            rejections.append(Rejection(name, line, error.reason, error.field, error.detail))
    table = reviews_frame(reviews, lines[kept].tolist(), name)
    if "source" in frame:
        table["source"] = frame["source"].iloc[kept].astype(str).to_numpy(dtype=object)
    cleaned, stats = clean_reviews(table)
    result = CleanedRead(name, "frame", cleaned, rejections + stats.rejections(name), len(frame))
    result.cleaning.update(stats.edits)
    return result


def _finish(read: CleanedRead, collapse_variants: bool, key: str | None) -> PreparedReviews:
    report = IngestReport(lines=read.lines)
    read.rejections.sort(key=lambda r: r.line)
    for rejection in read.rejections:
        report.reject(rejection.reason)
    report.merge_counts(read.cleaning)
    dedupe = deduplicate(read.reviews, collapse_variants)
    report.duplicates = len(dedupe.removed)
    reviews = dedupe.reviews
    if key:
        reviews = pseudonymize_users(reviews, key)
    reviews = to_canonical(reviews)
    validate_reviews(reviews)
    report.accepted = len(reviews)
    report.extra = _summary(read, reviews, dedupe, collapse_variants, bool(key))
    if not report.balanced:  # a bug here, never bad input: fail loudly
        raise RuntimeError(f"ingestion lost records: {report.to_json()}")
    return PreparedReviews(reviews, report, read.rejections, dedupe.item_map, dedupe.removed)


def _summary(read: CleanedRead, reviews: pd.DataFrame, dedupe: Any, collapse: bool,
             pseudonymized: bool) -> dict:
    warnings = read_warnings(read.file, read.format, read.lines, len(reviews),
                             Counter(r.reason for r in read.rejections)) + read.notes
    encoding = {"encoding": read.encoding} if read.encoding else {}
    if read.encoding_detected:
        encoding["encoding_detected"] = read.encoding_detected
    return {
        "file": read.file,
        "format": read.format,
        "duplicate_kinds": dict(sorted(dedupe.counts.items())),
        "collapse_variants": collapse,
        "pseudonymized": pseudonymized,
        "users": int(reviews["user_id"].nunique()),
        "items": int(reviews["item_id"].nunique()),
        "source_items": len(dedupe.item_map),
        "user_item_pairs": int(len(reviews.drop_duplicates(["user_id", "item_id"]))),
        **encoding,  # the codec read with, and the one detected when records failed
        **dedupe.variant_stats,  # linking groups, repeats left apart, largest products
        "warnings": warnings,
    }


def load_dataset(spec: str, format: str | None = None, columns: ColumnSpec = None, *,
                 config: DataConfig | None = None, seed: int = 0,
                 **prepare_kwargs: Any) -> PreparedReviews:
    """Prepares the reviews a run trains on, named the way `--data` names them.

    Args:
        spec: "demo" (synthetic, generated by `tfrec_sentiment.data.demo`), a path to a
            review file, or a downloaded data set name such as "amazon2018/All_Beauty"
            (see `tools/fetch_data.py`).
        format, columns: as in `prepare_reviews`; a data set name implies its format.
        config: data config (cache_dir, collapse_variants, ...); DataConfig() if None.
        seed: seed of the demo data.
        **prepare_kwargs: passed to `prepare_reviews` (collapse_variants,
            pseudonymize_key, progress).

    Raises:
        DatasetNotFoundError: `spec` is no file and no downloaded data set; the message
            says which command downloads it.
    """
    config = config or DataConfig()
    if spec == DEMO:
        demo = generate_demo(seed=seed, users=config.demo_users, items=config.demo_items)
        return prepare_reviews(demo, config=config, **prepare_kwargs)
    path = Path(spec).expanduser()
    if path.is_file():
        return prepare_reviews(path, format, columns, config=config, **prepare_kwargs)
    path, source = _fetched_path(spec, config.cache_dir)
    return prepare_reviews(path, format or source, columns, config=config, **prepare_kwargs)


def _fetched_path(spec: str, cache_dir: str | None) -> tuple[Path, str | None]:
    if "/" not in spec or Path(spec).suffix:  # looks like a file path, not source/name
        raise DatasetNotFoundError(
            f"{spec!r}: no such file, and not 'demo' or a data set name such as "
            "amazon2018/All_Beauty")
    try:
        path = cached_path(spec, cache_dir=cache_dir)
    except UnknownDatasetError as error:
        raise DatasetNotFoundError(f"{spec!r}: no such file, and {error}") from error
    except FileNotFoundError as error:  # known but not downloaded: says how to fetch it
        raise DatasetNotFoundError(str(error)) from error
    source = spec.partition("/")[0]
    return Path(path), source if source in FORMAT_NAMES else None
