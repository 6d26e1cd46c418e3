"""The user + item bias baseline, r = mu + b_u + b_i (ridge, `features.biases`).

The biases are `features.biases.ridge_biases`, the function that also starts the
recommender's id biases (`recsys.bias_init`): the untrained model predicts what this
baseline predicts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.evaluation.baselines.common import Interactions, check_train, choose_reg
from tfrec_sentiment.features.biases import ridge_biases

BIAS_REG_GRID: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)


class UserItemBias:
    """r = mu + b_u + b_i, fitted by alternating closed-form ridge updates.

    Each sweep sets b_i = sum_u (r - mu - b_u) / (reg + n_i), then
    b_u = sum_i (r - mu - b_i) / (reg + n_u), until no bias moves by more than `tol`
    (`features.biases.ridge_biases`).

    Args:
        reg: L2 weight; None = choose from `reg_grid` by validation RMSE.
        reg_grid: candidates for `reg`.
        max_sweeps: cap on alternating sweeps.
        tol: convergence threshold on the largest bias change.

    Example:
        >>> model = UserItemBias(reg=5.0).fit(train)  # doctest: +SKIP
        >>> model.user_bias_["some_user"]  # doctest: +SKIP
    """

    def __init__(self, reg: float | None = None, reg_grid: Sequence[float] = BIAS_REG_GRID,
                 max_sweeps: int = 200, tol: float = 1e-7) -> None:
        self.reg = reg
        self.reg_grid = tuple(reg_grid)
        self.max_sweeps = max_sweeps
        self.tol = tol

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> UserItemBias:
        """Fits the biases (choosing `reg` first when it is None).

        Args:
            train: canonical rows (`user_id`, `item_id`, `rating`; `timestamp` when `reg`
                is None and no validation is given).
            validation: rows for choosing `reg`; None = each user's last training review.
        """
        check_train(train, type(self).__name__)
        self.reg_, self.validation_rmse_ = choose_reg(
            lambda reg: UserItemBias(reg, max_sweeps=self.max_sweeps, tol=self.tol),
            self.reg, self.reg_grid, train, validation)
        data = Interactions(train)
        self.mean_, self.users_, self.items_ = data.mean, data.users, data.items
        user_bias, item_bias = ridge_biases(data.user, data.item, data.residual, data.n_users,
                                            data.n_items, self.reg_, self.max_sweeps, self.tol)
        self.user_bias_table_ = np.append(user_bias, 0.0)
        self.item_bias_table_ = np.append(item_bias, 0.0)
        return self

    @property
    def user_bias_(self) -> pd.Series:
        """b_u by user id."""
        return pd.Series(self.user_bias_table_[:-1], index=self.users_.index)

    @property
    def item_bias_(self) -> pd.Series:
        """b_i by item id."""
        return pd.Series(self.item_bias_table_[:-1], index=self.items_.index)

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: mu + b_u + b_i, with 0 for an unknown user's or item's bias."""
        return (self.mean_ + self.user_bias_table_[self.users_.codes(user_ids)]
                + self.item_bias_table_[self.items_.codes(item_ids)])

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: predicted ratings of every pair."""
        user = self.user_bias_table_[self.users_.codes(user_ids)]
        item = self.item_bias_table_[self.items_.codes(item_ids)]
        return self.mean_ + user[:, None] + item[None, :]
