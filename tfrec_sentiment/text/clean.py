"""Cleaning of a canonical review table: normalise, scrub PII, set noise aside, count all.

`clean_reviews` is what ingestion calls between reading and de-duplicating. Both `text`
and `title` go through the same steps, in this order (each named by the edit it counts):

1. `html_unescaped`, `html_tags_removed`, `unicode_normalized` (NFKC by default),
   `control_chars_removed`, `whitespace_collapsed` — see `text.normalize`;
2. `url_scrubbed`, `email_scrubbed`, `phone_scrubbed` — see `text.scrub`;
   steps 1-2 are the TensorFlow ops that the model's graph applies to every text it
   reads (`text.steps.clean_texts`), run here in batches, step by step;
3. noise detection on title + text together (`empty_text`, `spam_*`) — see `text.noise`.

An edit is counted once per review (row) it changed, whether in the text, the title or
both; a removal once per removed review. Missing values (None / NaN) in `text` or
`title` read as "" and are counted as `missing_text_filled` / `missing_title_filled`.

Example:

>>> import pandas as pd
>>> frame = pd.DataFrame({"line": [1, 2], "title": ["Nice", ""],
...                       "text": ["Mail me: a@b.com &amp; enjoy", "!!!!"]})
>>> kept, stats = clean_reviews(frame)
>>> kept["text"].tolist(), dict(stats.removed), stats.edits["email_scrubbed"]
(['Mail me: [EMAIL] & enjoy'], {'spam_no_letters': 1}, 1)
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pandas as pd

from tfrec_sentiment.data.schema import Rejection
from tfrec_sentiment.text.noise import noise_reason
from tfrec_sentiment.text.steps import apply_text_steps

TEXT_FIELDS = ("text", "title")
REMOVED_ROW_COLUMNS = ("line", "reason", "field", "detail")
_DETAIL_CHARS = 80


@dataclasses.dataclass
class CleanStats:
    """What `clean_reviews` did.

    Attributes:
        rows_in: reviews given.
        removed: reason -> number of reviews set aside.
        removed_rows: one row per review set aside, columns `line` (from the input's
            `line` column), `reason`, `field` ("text": title and text were judged
            together) and `detail` (the start of the cleaned text, for a human reader).
        edits: edit name -> number of kept-or-removed reviews it changed.
    """

    rows_in: int = 0
    removed: Counter = dataclasses.field(default_factory=Counter)
    removed_rows: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame({c: [] for c in REMOVED_ROW_COLUMNS}))
    edits: Counter = dataclasses.field(default_factory=Counter)

    @property
    def rows_out(self) -> int:
        return self.rows_in - sum(self.removed.values())

    def rejections(self, file: str) -> list[Rejection]:
        """The removed reviews as `Rejection` records of `file` (for rejected.jsonl)."""
        return [
            Rejection(file=file, line=int(row.line), reason=row.reason, field=row.field,
                      detail=row.detail)
            for row in self.removed_rows.itertuples(index=False)
        ]

    def to_dict(self) -> dict:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "removed": dict(sorted(self.removed.items())),
            "edits": dict(sorted(self.edits.items())),
        }


def _as_strings(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    # Missing values become "", and are reported as filled rather than passing silently.
    missing = values.isna().to_numpy()
    strings = np.array(["" if m else str(v) for v, m in zip(values, missing)], dtype=object)
    return strings, missing


def clean_reviews(
    frame: pd.DataFrame, *, unicode_form: str = "NFKC", scrub: bool = True
) -> tuple[pd.DataFrame, CleanStats]:
    """Normalises and PII-scrubs `text` and `title`, and sets noise reviews aside.

    Args:
        frame: a canonical review table (see `data.schema`) with a `line` column; a
            table without one is numbered by position (1-based). Other columns pass
            through unchanged.
        unicode_form: "NFKC" (default) or "NFC".
        scrub: replace URLs, e-mail addresses and phone numbers by placeholders.

    Returns:
        `(kept, stats)`: the kept rows (same columns, index reset, order kept) and the
        `CleanStats` counting every edit and removal.
    """
    for field in TEXT_FIELDS:
        if field not in frame.columns:
            raise KeyError(f"clean_reviews needs a {field!r} column; got {list(frame.columns)}")
    stats = CleanStats(rows_in=len(frame))
    fields: dict[str, np.ndarray] = {}
    for field in TEXT_FIELDS:
        fields[field], missing = _as_strings(frame[field])
        if missing.any():
            stats.edits[f"missing_{field}_filled"] += int(missing.sum())
    if len(frame):
        # The TensorFlow steps the model's graph also runs (text.steps), in batches.
        changed: dict[str, np.ndarray] = {}
        for field in TEXT_FIELDS:
            fields[field], field_changed = apply_text_steps(fields[field], unicode_form, scrub)
            for name, rows in field_changed.items():
                changed[name] = changed[name] | rows if name in changed else rows
        stats.edits.update({name: int(rows.sum()) for name, rows in changed.items()})
    stats.edits = Counter({k: v for k, v in stats.edits.items() if v})

    reasons = np.array(
        [noise_reason(t, h) for t, h in zip(fields["text"], fields["title"])], dtype=object)
    removed = np.array([r is not None for r in reasons], dtype=bool)
    lines = (frame["line"].to_numpy() if "line" in frame.columns
             else np.arange(1, len(frame) + 1))
    details = [f"{h} | {t}".strip(" |")[:_DETAIL_CHARS]
               for t, h in zip(fields["text"][removed], fields["title"][removed])]
    stats.removed_rows = pd.DataFrame({
        "line": np.asarray(lines[removed], dtype=np.int64),
        "reason": reasons[removed].astype(str),
        "field": "text",
        "detail": details,
    }, columns=list(REMOVED_ROW_COLUMNS))
    stats.removed = Counter(stats.removed_rows["reason"].tolist())

    kept = frame.loc[~removed].copy()
    for field in TEXT_FIELDS:
        # Explicit dtype: pandas 3 would infer its "str" dtype from an object array,
        # and the canonical table keeps the input's dtype (object).
        kept[field] = pd.Series(fields[field][~removed], index=kept.index,
                                dtype=frame[field].dtype)
    return kept.reset_index(drop=True), stats
