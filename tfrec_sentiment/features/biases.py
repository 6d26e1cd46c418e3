"""Ridge user and item rating biases: the one implementation of the bias baseline.

    r = mu + b_u + b_i,   minimising  sum (r - mu - b_u - b_i)^2 + reg (|b_u|^2 + |b_i|^2)

by alternating closed-form ridge updates (the regularised baseline predictors of Koren,
"Factor in the Neighbors", ACM TKDD 4(1), 2010, section 2.1): each sweep sets

    b_i = sum_u (r - mu - b_u) / (n_i + reg),  then  b_u = sum_i (r - mu - b_i) / (n_u + reg)

The bias baseline (`evaluation.baselines.UserItemBias`) runs it to a tolerance; the
recommender starts its id biases from it (`recsys.bias_init.closed_form_biases`), so the
untrained model predicts what the baseline predicts.

Example:

>>> user_bias, item_bias = ridge_biases(np.array([0, 0, 1]), np.array([0, 1, 0]),
...                                     np.array([1.0, 0.0, 0.5]), 2, 2, reg=1.0)
>>> user_bias.round(3).tolist(), item_bias.round(3).tolist()
([0.238, 0.048], [0.405, -0.119])
"""

from __future__ import annotations

import numpy as np


def ridge_biases(user: np.ndarray, item: np.ndarray, residual: np.ndarray, n_users: int,
                 n_items: int, reg: float, max_sweeps: int = 200,
                 tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Alternating ridge updates of the user and item biases, from zero.

    Args:
        user: int [N], each rating's user row in [0, n_users).
        item: int [N], each rating's item row in [0, n_items).
        residual: float [N], rating - mu.
        n_users, n_items: rows of the two bias tables (ids with no rating get 0).
        reg: L2 weight (pseudo-ratings at mu added to every user and item), >= 0.
        max_sweeps: cap on the sweeps (item update, then user update).
        tol: stop once the largest bias change of a sweep is below `tol` (0: always
            run `max_sweeps`).

    Returns:
        (user biases float64 [n_users], item biases float64 [n_items]).

    Raises:
        ValueError: a negative `reg` or `max_sweeps` < 1.
    """
    if reg < 0 or max_sweeps < 1:
        raise ValueError(f"ridge_biases: reg must be >= 0 and max_sweeps >= 1, got "
                         f"reg={reg}, max_sweeps={max_sweeps}")
    residual = np.asarray(residual, np.float64)
    user_count = np.bincount(user, minlength=n_users) + reg
    item_count = np.bincount(item, minlength=n_items) + reg
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    for _ in range(max_sweeps):
        new_item = np.bincount(item, residual - user_bias[user], n_items) / item_count
        new_user = np.bincount(user, residual - new_item[item], n_users) / user_count
        change = max(np.abs(new_item - item_bias).max(initial=0.0),
                     np.abs(new_user - user_bias).max(initial=0.0))
        user_bias, item_bias = new_user, new_item
        if change < tol:
            break
    return user_bias, item_bias
