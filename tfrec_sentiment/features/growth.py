"""Growing the feature tables with reviews that came after training (cold start, feedback).

New ids are appended; the model's vocabulary, the normalisation statistics and the
training rows stay as trained.

Example:

>>> grown = tables.with_reviews(new_reviews, probabilities, embeddings)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.features.common import SIDES, to_numpy
from tfrec_sentiment.features.review_arrays import review_arrays

if TYPE_CHECKING:
    from tfrec_sentiment.features.tables import FeatureTables


def with_reviews(tables: FeatureTables, frame: pd.DataFrame, probabilities: np.ndarray | None,
                 embeddings: np.ndarray | None) -> FeatureTables:
    """New tables whose sums also include `frame`'s reviews (`FeatureTables.with_reviews`)."""
    arrays = review_arrays(frame, probabilities, embeddings, tables.config, "with_reviews")
    sums = {side: {k: v.copy() for k, v in tables.sums[side].items()} for side in SIDES}
    ids = dict(tables.ids)
    for side in SIDES:
        column = frame[f"{side}_id"].to_numpy().astype(str)
        new = np.array(sorted(set(column) - set(ids[side])), dtype=object)
        ids[side] = np.concatenate([ids[side], new]).astype(object)
        for key, value in sums[side].items():
            sums[side][key] = np.concatenate(
                [value, np.zeros((len(new), value.shape[1]), value.dtype)]
            )
        index = pd.Index(ids[side]).get_indexer(column)
        added = to_numpy(tables.profile.summarize(arrays, index, len(ids[side])))
        for key in sums[side]:
            sums[side][key] = sums[side][key] + added[key]
    history = grow_history(tables.history, frame, arrays, ids, tables.ids["user"])
    # Popularity stays the training distribution; new items get the floor of one
    # review in N + 1, as unknown items do in `FeatureTables._example_ids`.
    floor = 1.0 / (len(tables.rows["rating"]) + 1)
    grown = len(ids["item"]) - len(tables.item_probability)
    probability = np.concatenate([tables.item_probability, np.full(grown, floor, np.float32)])
    return dataclasses.replace(tables, ids=ids, sums=sums, item_probability=probability,
                               history=history, path=None)


def grow_history(history: dict[str, np.ndarray], frame: pd.DataFrame,
                 arrays: Mapping[str, np.ndarray], ids: dict[str, np.ndarray],
                 old_users: np.ndarray) -> dict[str, np.ndarray]:
    """Histories with `frame`'s reviews put in front (as the latest), new users appended."""
    if not history:
        return {}
    length = history["items"].shape[1]
    grown = {k: np.concatenate([v, np.zeros((len(ids["user"]) - len(old_users), length),
                                            v.dtype)]) for k, v in history.items()}
    user = pd.Index(ids["user"]).get_indexer(frame["user_id"].astype(str))
    item = pd.Index(ids["item"]).get_indexer(frame["item_id"].astype(str))
    signals = {"items": item + 1, "rating": (arrays["rating"] - 3.0) / 2.0}
    if "sentiment" in history:
        probabilities = arrays["probabilities"]
        signals["sentiment"] = probabilities[:, 2] - probabilities[:, 0]
    # Oldest first, so that each insertion at the front leaves the latest in front.
    for row in np.argsort(frame["timestamp"].to_numpy(), kind="stable"):
        for key, table in grown.items():
            table[user[row]] = np.r_[signals[key][row], table[user[row]][:-1]]
    return grown
