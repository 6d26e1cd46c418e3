"""The star-free copy of a split: pseudo-ratings read from the comments' sentiment.

The first step of the comment-only protocol (`comment_only.py`): `train` and
`validation` get the expected stars under the classifier's class probabilities in
place of their stars, and no helpful votes; `test` keeps its stars for the evaluation.

Example:

>>> pseudo_ratings(np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]]))
array([5. , 3. , 3.6], dtype=float32)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfrec_sentiment.data.schema import RATING_MAX, RATING_MIN
from tfrec_sentiment.evaluation.config import EvalConfig


def pseudo_ratings(probabilities: np.ndarray,
                   class_stars: Sequence[float] = EvalConfig.comment_only_class_stars
                   ) -> np.ndarray:
    """Expected stars under the classifier's probabilities, float32 [N] in [1, 5].

    Args:
        probabilities: float [N, 3] (negative, neutral, positive), rows summing to 1.
        class_stars: the stars of each class (3 values).

    Raises:
        ValueError: wrong shape, or a row that is not finite.
    """
    values = np.asarray(probabilities, np.float64)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(f"probabilities have shape {values.shape}, expected [N, 3]")
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        raise ValueError(f"probabilities row {bad[0]} is not finite")
    stars = values @ np.asarray(class_stars, np.float64)
    return np.clip(stars, RATING_MIN, RATING_MAX).astype(np.float32)


def comment_only_split(split: Any, train_probabilities: np.ndarray,
                       validation_probabilities: np.ndarray,
                       class_stars: Sequence[float] = EvalConfig.comment_only_class_stars
                       ) -> Any:
    """The split with the stars of `train` and `validation` hidden (see the module doc).

    Args:
        split: a `data.splits.Split` (or any dataclass with train / validation / test).
        train_probabilities: float [len(split.train), 3], aligned with its rows.
        validation_probabilities: float [len(split.validation), 3].
        class_stars: the stars of (negative, neutral, positive).

    Returns:
        A copy: `train` / `validation` with `rating` = pseudo-ratings (float32) and
        `helpful_votes` = 0; `test` unchanged (the only stars left); no `cold` rows.

    Raises:
        ValueError: probabilities not aligned with their part (names the part).
    """
    parts = {}
    for name, probabilities in (("train", train_probabilities),
                                ("validation", validation_probabilities)):
        frame = getattr(split, name)
        probabilities = np.asarray(probabilities)
        if probabilities.ndim != 2 or probabilities.shape[0] != len(frame):
            raise ValueError(f"comment_only_split: {name} probabilities have shape "
                             f"{probabilities.shape}, expected [{len(frame)}, 3] aligned "
                             f"with split.{name}")
        try:
            stars = pseudo_ratings(probabilities, class_stars)
        except ValueError as error:
            raise ValueError(f"comment_only_split: {name} {error}") from None
        hidden = frame.copy()
        hidden["rating"] = stars
        if "helpful_votes" in hidden:
            hidden["helpful_votes"] = np.zeros(len(hidden), hidden["helpful_votes"].dtype)
        parts[name] = hidden
    extra = {"cold": None} if any(f.name == "cold" for f in dataclasses.fields(split)) else {}
    return dataclasses.replace(split, **parts, **extra)
