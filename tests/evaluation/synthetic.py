"""Synthetic rating tables with known parameters, for the evaluation tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd


@dataclasses.dataclass
class Synthetic:
    """Rows plus the parameters that generated them."""

    frame: pd.DataFrame
    mean: float
    user_bias: pd.Series
    item_bias: pd.Series
    user_factors: np.ndarray  # [U, k]
    item_factors: np.ndarray  # [I, k]


def synthetic_ratings(users: int = 200, items: int = 60, per_user: int = 20, factors: int = 0,
                      noise: float = 0.1, bias_scale: float = 0.5, seed: int = 0) -> Synthetic:
    """r = mean + b_u + b_i + p_u . q_i + noise, each user rating `per_user` distinct items.

    Item choice is skewed (some items far more popular), timestamps are distinct and
    increase per user, and every row has its own text, as in a canonical table.
    """
    rng = np.random.default_rng(seed)
    mean = 3.5
    user_bias = rng.normal(0, bias_scale, users)
    item_bias = rng.normal(0, bias_scale, items)
    user_factors = rng.normal(0, 0.7, (users, factors))
    item_factors = rng.normal(0, 0.7, (items, factors))
    popularity = rng.pareto(1.5, items) + 0.2
    rows = []
    for u in range(users):
        chosen = rng.choice(items, size=per_user, replace=False, p=popularity / popularity.sum())
        for step, i in enumerate(chosen):
            rating = (mean + user_bias[u] + item_bias[i] + user_factors[u] @ item_factors[i]
                      + rng.normal(0, noise))
            rows.append((f"u{u}", f"i{i}", rating, 1_000_000 + 86_400 * step + u))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    frame["text"] = [f"review {n}" for n in range(len(frame))]
    return Synthetic(frame=frame, mean=mean,
                     user_bias=pd.Series(user_bias, index=[f"u{u}" for u in range(users)]),
                     item_bias=pd.Series(item_bias, index=[f"i{i}" for i in range(items)]),
                     user_factors=user_factors, item_factors=item_factors)


class TableModel:
    """A recommender answering from fixed tables, for hand-computed metric cases."""

    def __init__(self, ratings: dict[tuple[str, str], float], scores: dict[str, dict[str, float]],
                 default: float = 0.0) -> None:
        self.ratings = ratings
        self.scores = scores
        self.default = default

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        return np.array([self.ratings.get((u, i), self.default)
                         for u, i in zip(user_ids, item_ids)])

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        return np.array([[self.scores.get(u, {}).get(i, self.default) for i in item_ids]
                         for u in user_ids])
