"""What every baseline shares: the id tables, the input check, the choice of a setting.

`IdTable` maps ids to rows with a fallback row for unknown ids; `Interactions` holds
the training rows as codes; `choose_reg` picks an L2 weight by validation RMSE, on the
validation frame or, when none is given, on each user's last training review
(`hold_out_last`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.metrics import rmse

REQUIRED_COLUMNS = ("user_id", "item_id", "rating")


class IdTable:
    """Maps string ids to rows of a value table whose extra last row is the fallback."""

    def __init__(self, ids: np.ndarray) -> None:
        self.index = pd.Index(np.unique(np.asarray(ids, str)))
        self.ids = self.index.to_numpy()  # the sorted ids, rows 0..N-1
        self.fallback_row = len(self.index)

    def codes(self, ids: np.ndarray) -> np.ndarray:
        """int [N]: row of each id, `fallback_row` (= len(index)) for unknown ids.

        The table's own ids in order (an evaluation's catalogue, asked for with every
        batch of users) are recognised by one comparison, without the string lookup.
        """
        if len(ids) == len(self.ids) and np.array_equal(ids, self.ids):
            return np.arange(len(self.ids))
        found = self.index.get_indexer(np.asarray(ids, str))
        return np.where(found >= 0, found, self.fallback_row)


def check_train(train: pd.DataFrame, model: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in train.columns]
    if missing:
        raise ValueError(f"{model}.fit: training frame lacks column(s) {missing}")
    if len(train) == 0:
        raise ValueError(f"{model}.fit: training frame is empty")
    if not np.isfinite(train["rating"].to_numpy(np.float64)).all():
        raise ValueError(f"{model}.fit: column 'rating' holds NaN or infinite values")


class Interactions:
    """Training rows as integer codes, shared by the bias and MF fits."""

    def __init__(self, train: pd.DataFrame) -> None:
        self.users = IdTable(train["user_id"].to_numpy(str))
        self.items = IdTable(train["item_id"].to_numpy(str))
        self.user = self.users.codes(train["user_id"].to_numpy(str))
        self.item = self.items.codes(train["item_id"].to_numpy(str))
        self.rating = train["rating"].to_numpy(np.float64)
        self.mean = float(self.rating.mean())
        self.residual = self.rating - self.mean
        self.n_users, self.n_items = len(self.users.index), len(self.items.index)


def choose_reg(make: Callable[[float], object], reg: float | None, grid: Sequence[float],
                train: pd.DataFrame,
                validation: pd.DataFrame | None) -> tuple[float, dict[float, float]]:
    """The fixed `reg`, or the grid value with the lowest validation RMSE (and all RMSEs)."""
    if reg is not None:
        return float(reg), {}
    fit_rows, check_rows = (train, validation) if validation is not None else hold_out_last(train)
    if len(check_rows) == 0:
        raise ValueError("cannot choose the regularisation: the validation rows are empty")
    scores = {}
    for candidate in grid:
        model = make(candidate).fit(fit_rows)
        predicted = model.predict_rating(check_rows["user_id"].to_numpy(str),
                                         check_rows["item_id"].to_numpy(str))
        scores[float(candidate)] = rmse(predicted, check_rows["rating"].to_numpy(np.float64))
    return min(scores, key=scores.get), scores


def hold_out_last(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit rows, check rows): each user's last training review by time is held out."""
    missing = [c for c in ("timestamp",) if c not in train.columns]
    if missing:
        raise ValueError(f"choosing the regularisation without a validation frame needs "
                         f"column(s) {missing} in train")
    frame = train if "text" in train.columns else train.assign(text="")
    inner = leave_last_out(frame, validation_per_user=0, test_per_user=1)
    return inner.train, inner.test
