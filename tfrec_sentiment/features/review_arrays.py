"""The per-review arrays the feature tables are built (or grown) from, checked.

A bad input fails here, before any sum is formed, with the caller, the array and the
row named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec_sentiment.features.common import FeatureError
from tfrec_sentiment.features.config import FeatureConfig


def review_arrays(frame: pd.DataFrame, probabilities: np.ndarray | None,
                  embeddings: np.ndarray | None, config: FeatureConfig,
                  caller: str) -> dict[str, np.ndarray]:
    """The frame's rating, helpful votes, timestamp, and the sentiment / text arrays.

    Args:
        frame: canonical review rows (rating, helpful_votes, timestamp).
        probabilities: float [N, 3] aligned with `frame`, needed with sentiment.
        embeddings: float [N, D] aligned with `frame`, needed with text.
        config: which of the two are used.
        caller: named in the errors.

    Returns:
        "rating", "helpful_votes" float32 [N], "timestamp" int64 [N], and
        "probabilities" [N, 3] / "embedding" [N, D] where used.

    Raises:
        FeatureError: a used array missing, misshapen or not finite; a non-finite
            rating or helpful count.
    """
    n = len(frame)
    arrays = {
        "rating": frame["rating"].to_numpy(np.float32),
        "helpful_votes": frame["helpful_votes"].to_numpy(np.float32),
        "timestamp": frame["timestamp"].to_numpy(np.int64),
    }
    for name, needed, value, width in (
        ("probabilities", config.use_sentiment, probabilities, 3),
        ("embedding", config.use_text, embeddings, None),
    ):
        if not needed:
            continue
        if value is None:
            raise FeatureError(f"{caller}: {name} is None but the FeatureConfig uses it")
        value = np.asarray(value, dtype=np.float32)
        if value.ndim != 2 or value.shape[0] != n or (width and value.shape[1] != width):
            raise FeatureError(
                f"{caller}: {name} has shape {value.shape}, expected [{n}, {width or 'D'}] "
                "aligned with the frame's rows"
            )
        if not np.isfinite(value).all():
            bad = int(np.flatnonzero(~np.isfinite(value).all(axis=1))[0])
            raise FeatureError(f"{caller}: {name} row {bad} is not finite")
        arrays[name] = value
    for name in ("rating", "helpful_votes"):
        if not np.isfinite(arrays[name]).all():
            bad = int(np.flatnonzero(~np.isfinite(arrays[name]))[0])
            raise FeatureError(f"{caller}: column {name!r} row {bad} is not finite")
    return arrays
