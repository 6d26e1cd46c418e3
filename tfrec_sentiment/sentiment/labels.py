"""Sentiment labels, the text the classifier reads, and class weights.

Three classes, in this order everywhere (the classifier's output columns too):
LABELS = ("negative", "neutral", "positive"). From stars: 1-2 negative, 3 neutral,
4-5 positive; or from a label column holding names or ids.

Example:

>>> import pandas as pd
>>> frame = pd.DataFrame({"rating": [1.0, 3.0, 5.0], "title": ["Bad", "", "Great"],
...                       "text": ["broke", "ok", "love it"]})
>>> labels_from_frame(frame).tolist()
[0, 1, 2]
>>> review_texts(frame)
['Bad. broke', 'ok', 'Great. love it']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.sentiment.config import CLASS_WEIGHTINGS

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


class LabelError(ValueError):
    """A rating or label value cannot be mapped to a sentiment class."""


def labels_from_stars(stars: Sequence[float] | np.ndarray) -> np.ndarray:
    """Maps star ratings to class ids: 1-2 negative, 3 neutral, 4-5 positive.

    Args:
        stars: ratings in [1, 5], shape [N]; fractional stars round to nearest.

    Returns:
        int32 class ids, shape [N].

    Raises:
        LabelError: a rating is NaN or outside [1, 5], naming its position.
    """
    values = np.asarray(stars, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 1) | (values > 5))
    if bad.size:
        raise LabelError(f"rating at row {bad[0]} is {values[bad[0]]!r}; expected 1 to 5 stars")
    rounded = np.rint(values)
    return np.where(rounded <= 2, NEGATIVE, np.where(rounded == 3, NEUTRAL, POSITIVE)).astype(
        np.int32
    )


def labels_from_column(values: Sequence | pd.Series, column: str = "label") -> np.ndarray:
    """Maps a label column (names from LABELS, or ids 0/1/2) to class ids [N] int32.

    Raises:
        LabelError: naming the column, the row and the value that is not a label.
    """
    names = {name: i for i, name in enumerate(LABELS)}
    out = np.empty(len(values), dtype=np.int32)
    for row, value in enumerate(list(values)):
        key = value.strip().lower() if isinstance(value, str) else value
        if key in names:
            out[row] = names[key]
        elif isinstance(key, (int, np.integer, float, np.floating)) and key in (0, 1, 2):
            out[row] = int(key)
        elif isinstance(key, str) and key in ("0", "1", "2"):
            out[row] = int(key)
        else:
            raise LabelError(
                f"column {column!r} row {row}: {value!r} is not one of {LABELS} or 0/1/2"
            )
    return out


def labels_from_frame(frame: pd.DataFrame, label_column: str | None = None) -> np.ndarray:
    """Class ids [N] of a review table: from `label_column` if given, else from `rating`."""
    if label_column is not None:
        if label_column not in frame.columns:
            raise LabelError(f"label column {label_column!r} is not in {list(frame.columns)}")
        return labels_from_column(frame[label_column], label_column)
    return labels_from_stars(frame["rating"].to_numpy())


def review_texts(frame: pd.DataFrame) -> list[str]:
    """The one string the classifier reads per review: "title. text".

    The title (Amazon's summary) often carries the verdict ("Junk", "Five stars"),
    so it leads; a title already ending in punctuation is not given another full
    stop, and a missing title or text leaves only the other.

    Args:
        frame: a table with a `text` column and optionally `title` (canonical table).

    Returns:
        one string per row, in row order.
    """
    texts = frame["text"].fillna("").astype(str).str.strip()
    if "title" not in frame.columns:
        return texts.tolist()
    titles = frame["title"].fillna("").astype(str).str.strip()
    out = []
    for title, text in zip(titles, texts):
        if not title:
            out.append(text)
        elif not text:
            out.append(title)
        else:
            joiner = " " if title[-1] in ".!?:;" else ". "
            out.append(f"{title}{joiner}{text}")
    return out


def class_weights(labels: np.ndarray, mode: str = "balanced",
                  num_classes: int = len(LABELS)) -> np.ndarray:
    """Per-class loss weights [num_classes] float32 that counter class imbalance.

    "balanced": n / (k * n_c), so every class carries the same total weight;
    "sqrt": the square root of that (milder, keeps more of the majority's signal);
    "none": ones. A class absent from `labels` gets weight 0 (it has no rows).
    Weights are scaled so the mean weight per training row is 1, which keeps the
    loss (and the learning rate that suits it) on the unweighted scale.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    counts = counts.astype(np.float64)
    if mode == "none":
        weights = np.ones(num_classes)
    elif mode in ("balanced", "sqrt"):
        present = counts > 0
        weights = np.zeros(num_classes)
        weights[present] = counts.sum() / (present.sum() * counts[present])
        if mode == "sqrt":
            weights = np.sqrt(weights)
    else:
        raise ValueError(f"unknown class weighting {mode!r}; choose one of {CLASS_WEIGHTINGS}")
    mean_per_row = (weights * counts).sum() / max(counts.sum(), 1.0)
    if mean_per_row > 0:
        weights = weights / mean_per_row
    return weights.astype(np.float32)
