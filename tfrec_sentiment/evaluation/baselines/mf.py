"""Biased matrix factorisation by alternating least squares, the MF baseline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.evaluation.baselines.common import Interactions, check_train, choose_reg

MF_REG_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


class MatrixFactorization:
    """Biased matrix factorisation, r = mu + b_u + b_i + p_u . q_i, by alternating least squares.

    Each half-step solves, for every user at once, the ridge problem over that user's
    ratings with the items' [q_i, 1] as features and target r - mu - b_i (giving [p_u,
    b_u]); then the same for items. Factors start as N(0, init_scale^2) from `seed`.

    Args:
        factors: k, the latent dimension.
        reg: L2 weight on factors and biases; None = choose from `reg_grid` on validation.
        reg_grid: candidates for `reg`.
        sweeps: ALS sweeps (user step + item step).
        init_scale: standard deviation of the initial factors.
        seed: seeds the initial factors.
    """

    def __init__(self, factors: int = 10, reg: float | None = None,
                 reg_grid: Sequence[float] = MF_REG_GRID, sweeps: int = 15,
                 init_scale: float = 0.1, seed: int = 0) -> None:
        self.factors = factors
        self.reg = reg
        self.reg_grid = tuple(reg_grid)
        self.sweeps = sweeps
        self.init_scale = init_scale
        self.seed = seed

    def fit(self, train: pd.DataFrame,
            validation: pd.DataFrame | None = None) -> MatrixFactorization:
        """Fits factors and biases (choosing `reg` first when None); as `UserItemBias.fit`."""
        check_train(train, type(self).__name__)
        self.reg_, self.validation_rmse_ = choose_reg(
            lambda reg: MatrixFactorization(self.factors, reg, sweeps=self.sweeps,
                                            init_scale=self.init_scale, seed=self.seed),
            self.reg, self.reg_grid, train, validation)
        data = Interactions(train)
        self.mean_, self.users_, self.items_ = data.mean, data.users, data.items
        rng = np.random.default_rng(self.seed)
        user = rng.normal(0.0, self.init_scale, (data.n_users, self.factors + 1))
        item = rng.normal(0.0, self.init_scale, (data.n_items, self.factors + 1))
        user[:, -1] = item[:, -1] = 0.0  # last column: the bias
        for _ in range(self.sweeps):
            user = _als_step(data.user, item, data.item, data.residual, data.n_users, self.reg_)
            item = _als_step(data.item, user, data.user, data.residual, data.n_items, self.reg_)
        # Unknown ids: a zero row (no factors, no bias).
        self.user_table_ = np.vstack([user, np.zeros(self.factors + 1)])
        self.item_table_ = np.vstack([item, np.zeros(self.factors + 1)])
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: mu + b_u + b_i + p_u . q_i; an unknown id contributes nothing."""
        user = self.user_table_[self.users_.codes(user_ids)]
        item = self.item_table_[self.items_.codes(item_ids)]
        return (self.mean_ + user[:, -1] + item[:, -1]
                + np.einsum("nf,nf->n", user[:, :-1], item[:, :-1]))

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: predicted ratings of every pair."""
        user = self.user_table_[self.users_.codes(user_ids)]
        item = self.item_table_[self.items_.codes(item_ids)]
        return (self.mean_ + user[:, -1:] + item[None, :, -1]
                + user[:, :-1] @ item[:, :-1].T)


def _als_step(own: np.ndarray, other: np.ndarray, other_code: np.ndarray,
              residual: np.ndarray, n_own: int, reg: float) -> np.ndarray:
    """Solves every row of one side's [factors, bias] given the other side's.

    Args:
        own: int [N], this side's code of each rating.
        other: float [M, k + 1], the other side's [factors, bias].
        other_code: int [N], the other side's code of each rating.
        residual: float [N], r - mu.
        n_own: rows of this side.
        reg: L2 weight.

    Returns:
        float [n_own, k + 1]: this side's [factors, bias].
    """
    width = other.shape[1]
    features = other[other_code].copy()
    target = residual - features[:, -1]  # take away the other side's bias
    features[:, -1] = 1.0  # this side's bias multiplies 1
    # One weighted bincount per entry of the symmetric Gram matrix: memory stays O(N).
    gram = np.empty((n_own, width, width))
    for a in range(width):
        for b in range(a, width):
            gram[:, a, b] = gram[:, b, a] = np.bincount(own, features[:, a] * features[:, b],
                                                        n_own)
    rhs = np.stack([np.bincount(own, features[:, a] * target, n_own) for a in range(width)], 1)
    gram += reg * np.eye(width)
    return np.linalg.solve(gram, rhs[..., None])[..., 0]
