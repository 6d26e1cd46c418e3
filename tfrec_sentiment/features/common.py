"""What every module of the feature tables shares: the side and group names, the error.

The tables (`tables.py`) and the modules that do one part of their work for them
(`leakage.py`, `growth.py`, `storage.py`, `table_stats.py`, `review_arrays.py`) name
things the same way through these.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

SIDES: tuple[str, str] = ("user", "item")
# tables.history key -> example / lookup group name (user side).
HISTORY_GROUPS: dict[str, str] = {
    "items": "history", "rating": "history_rating", "sentiment": "history_sentiment"}
# The user-side group of the item-to-item similarity profile (features/similarity.py).
SIMILARITY_GROUP = "similarity"


class FeatureError(ValueError):
    """Inputs to the feature tables are inconsistent (names the array and the problem)."""


def to_numpy(values: Mapping[str, tf.Tensor]) -> dict[str, np.ndarray]:
    """float32 numpy arrays of a dict of tensors (the profile layer's outputs)."""
    return {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}
