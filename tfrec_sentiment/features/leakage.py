"""The leakage modes: what a training row may see of its user's and item's reviews.

`FeatureConfig.training_features` chooses:

- "past_only" (default): the user's and the item's reviews strictly before the
  row's time (point-in-time features, as a deployed model sees them);
- "leave_one_out": all of the user's / item's training reviews except those of
  the row's (user, item) pair.

Both keep the row's own rating out of its features and its history. Leave-one-out
has a second, indirect leak when the model also has id embeddings: the id can learn
the sum over ALL of a user's (or item's) reviews, and sum - (n - 1) * loo_mean is the
row's own value - its rating, its sentiment, its text embedding. A DCN cross layer
forms that product easily. Past-only features have no such identity (the prefix
differs per row), which is why they are the default.

Example:

>>> sums = held_out_sums(rows, totals, "user", num_items, "past_only")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tfrec_sentiment.features import history as history_lib
from tfrec_sentiment.features.common import FeatureError
from tfrec_sentiment.features.config import TRAINING_FEATURES


def held_out_sums(rows: Mapping[str, np.ndarray], totals: Mapping[str, np.ndarray],
                  side: str, num_items: int, mode: str) -> dict[str, np.ndarray]:
    """Per training row, the sums of `side`'s reviews that row may see.

    Args:
        rows: the tables' training rows ("user_index", "item_index", "timestamp" [N],
            each review's own "signals" [N, S] and "text" [N, D]).
        totals: `side`'s training-period sums, {"signals": [U, S], "text": [U, D]}.
        side: "user" or "item".
        num_items: I, to code (user, item) pairs.
        mode: "past_only" or "leave_one_out".

    Returns:
        {"signals": [N, S], "text": [N, D] (if text)}.

    Raises:
        FeatureError: an unknown mode.
    """
    key = rows[f"{side}_index"]
    own = {k: rows[k] for k in ("signals", "text") if k in rows}
    if mode == "past_only":
        return {k: history_lib.past_sums(key, rows["timestamp"], v) for k, v in own.items()}
    if mode == "leave_one_out":
        pair = rows["user_index"] * num_items + rows["item_index"]
        codes, uniques = pd.factorize(pair)
        held_out = {}
        for k, v in own.items():
            pair_sums = np.zeros((len(uniques), v.shape[1]), np.float64)
            np.add.at(pair_sums, codes, v)
            held_out[k] = (totals[k][key] - pair_sums[codes]).astype(np.float32)
        return held_out
    raise FeatureError(f"unknown training_features {mode!r}; use {TRAINING_FEATURES}")


def held_out_history(rows: Mapping[str, np.ndarray], num_items: int, length: int, mode: str,
                     signals: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per training row, the user's history without the row's own review.

    Args:
        rows: the training rows ("user_index", "item_index", "timestamp" [N]).
        num_items: I, to code (user, item) pairs.
        length: L, the history length (0: no history).
        mode: "past_only" (the L latest earlier reviews) or "leave_one_out" (the L
            latest reviews of other pairs).
        signals: per-review values to gather beside the items, name -> [N].

    Returns:
        "items" int64 [N, L] and each signal [N, L] (see `history.gather_history`);
        {} when L = 0.
    """
    if not length:
        return {}
    user, item = rows["user_index"], rows["item_index"]
    if mode == "past_only":
        picked = history_lib.past_rows(user, rows["timestamp"], length)
    else:
        pair = user * num_items + item
        picked = history_lib.other_rows(user, rows["timestamp"], pair, length)
    return history_lib.gather_history(picked, item, signals)
