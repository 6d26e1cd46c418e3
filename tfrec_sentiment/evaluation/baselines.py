"""Baselines that every run reports beside the TFRS model, all fitted on the train split.

| name | predict_rating | score_items (ranking) |
|---|---|---|
| `GlobalMean` | mean training rating mu | constant (a random ranking) |
| `ItemMean` | item's mean rating, optionally shrunk to mu | the same item mean |
| `Popularity` | mu | item's training interaction count |
| `UserItemBias` | mu + b_u + b_i, L2-regularised | mu + b_u + b_i (per user: b_i) |
| `MatrixFactorization` | mu + b_u + b_i + p_u . q_i (ALS, k factors) | the same |
| `ItemKNN` | bias + similarity-weighted residuals | item-kNN + log-popularity prior |

Unknown ids at prediction time fall back to what is known: an unknown item gets mu
(item mean, popularity count 0), an unknown user gets no user bias or factors, so the
bias and MF models predict mu + b_i for a new user and mu + b_u for a new item.

`ItemMean` is unshrunk by default (`shrinkage=0`), the textbook baseline: on sparse data
its one-review items make it worse than the global mean. `UserItemBias` and
`MatrixFactorization` choose their L2 weight from a grid by validation RMSE: on the
validation frame passed to `fit`, or, when none is given, on each user's last training
review by time, held out from a first fit; the final model is then refitted on all of
`train` with the chosen weight. `ItemKNN` chooses its similarity shrinkage and its
popularity weight the same way, by validation NDCG@10.

Example:

>>> import pandas as pd
>>> train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
...                       "rating": [5.0, 3.0, 4.0]})
>>> ItemMean().fit(train).predict_rating(np.array(["b", "b"]), np.array(["y", "new"]))
array([3., 4.])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.ablation import AblationResult, Variant, run_ablation
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import evaluate
from tfrec_sentiment.evaluation.metrics import rmse
from tfrec_sentiment.evaluation.protocol import SplitLike
from tfrec_sentiment.features import similarity as similarity_lib

REQUIRED_COLUMNS = ("user_id", "item_id", "rating")
BIAS_REG_GRID: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)
MF_REG_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
KNN_SHRINKAGE_GRID: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 20.0)
KNN_POPULARITY_GRID: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
# The similarity is sparse (features/similarity.py): it grows with the co-reviewed
# pairs, not I^2. Measured on a synthetic catalogue of 100k items (400k users, 6 reviews
# each): 10M stored pairs, 0.8 GB peak, about 30 s per fit (the dense [I, I] float64
# matrices it replaced were about 0.8 GB at 5k items and would be ~13 GB at 20k).
KNN_MAX_ITEMS = 100_000


class _IdTable:
    """Maps string ids to rows of a value table whose extra last row is the fallback."""

    def __init__(self, ids: np.ndarray) -> None:
        self.index = pd.Index(np.unique(np.asarray(ids, str)))
        self.fallback_row = len(self.index)

    def codes(self, ids: np.ndarray) -> np.ndarray:
        """int [N]: row of each id, `fallback_row` (= len(index)) for unknown ids."""
        found = self.index.get_indexer(np.asarray(ids, str))
        return np.where(found >= 0, found, self.fallback_row)


def _check_train(train: pd.DataFrame, model: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in train.columns]
    if missing:
        raise ValueError(f"{model}.fit: training frame lacks column(s) {missing}")
    if len(train) == 0:
        raise ValueError(f"{model}.fit: training frame is empty")
    if not np.isfinite(train["rating"].to_numpy(np.float64)).all():
        raise ValueError(f"{model}.fit: column 'rating' holds NaN or infinite values")


class GlobalMean:
    """Predicts the mean training rating for everyone; ranks all items equally."""

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> GlobalMean:
        """Args: train: canonical rows (`user_id`, `item_id`, `rating`); validation: unused."""
        _check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N], all mu."""
        return np.full(len(user_ids), self.mean_)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I], all zero: every order is equally likely (see metrics.py on ties)."""
        return np.zeros((len(user_ids), len(item_ids)))


class ItemMean:
    """The item's mean training rating, (sum + shrinkage * mu) / (count + shrinkage).

    Args:
        shrinkage: pseudo-ratings at mu added to each item; 0 = the plain item mean.
    """

    def __init__(self, shrinkage: float = 0.0) -> None:
        self.shrinkage = shrinkage

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> ItemMean:
        """Args: train: canonical rows; validation: unused."""
        _check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        self.items_ = _IdTable(train["item_id"].to_numpy(str))
        codes = self.items_.codes(train["item_id"].to_numpy(str))
        total = np.bincount(codes, train["rating"].to_numpy(np.float64), len(self.items_.index))
        count = np.bincount(codes, minlength=len(self.items_.index))
        means = (total + self.shrinkage * self.mean_) / (count + self.shrinkage)
        self.item_mean_ = np.append(means, self.mean_)  # last row: unknown items
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: the item mean, mu for unknown items."""
        return self.item_mean_[self.items_.codes(item_ids)]

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: the item means, the same for every user."""
        means = self.item_mean_[self.items_.codes(item_ids)]
        return np.broadcast_to(means, (len(user_ids), len(item_ids))).copy()


class Popularity:
    """Ranks items by training interaction count; predicts mu (it has no rating model)."""

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> Popularity:
        """Args: train: canonical rows; validation: unused."""
        _check_train(train, type(self).__name__)
        self.mean_ = float(train["rating"].mean())
        self.items_ = _IdTable(train["item_id"].to_numpy(str))
        codes = self.items_.codes(train["item_id"].to_numpy(str))
        self.count_ = np.append(np.bincount(codes, minlength=len(self.items_.index)), 0)
        return self

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N], all mu."""
        return np.full(len(user_ids), self.mean_)

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: training counts (0 for unknown items), the same for every user."""
        counts = self.count_[self.items_.codes(item_ids)].astype(np.float64)
        return np.broadcast_to(counts, (len(user_ids), len(item_ids))).copy()


class UserItemBias:
    """r = mu + b_u + b_i, fitted by alternating closed-form ridge updates.

    Each sweep sets b_i = sum_u (r - mu - b_u) / (reg + n_i), then
    b_u = sum_i (r - mu - b_i) / (reg + n_u), until no bias moves by more than `tol`.

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
        _check_train(train, type(self).__name__)
        self.reg_, self.validation_rmse_ = _choose_reg(
            lambda reg: UserItemBias(reg, max_sweeps=self.max_sweeps, tol=self.tol),
            self.reg, self.reg_grid, train, validation)
        data = _Interactions(train)
        self.mean_, self.users_, self.items_ = data.mean, data.users, data.items
        user_bias, item_bias = _fit_biases(data, self.reg_, self.max_sweeps, self.tol)
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
        _check_train(train, type(self).__name__)
        self.reg_, self.validation_rmse_ = _choose_reg(
            lambda reg: MatrixFactorization(self.factors, reg, sweeps=self.sweeps,
                                            init_scale=self.init_scale, seed=self.seed),
            self.reg, self.reg_grid, train, validation)
        data = _Interactions(train)
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


class ItemKNN:
    """Item-based collaborative filtering with a popularity prior (cosine similarity).

    With C[j, i] the number of training users who reviewed both j and i, n_i the
    reviews of item i and I(u) the user's training items:

        sim(j, i)   = C[j, i] / (sqrt(n_j * n_i) + shrinkage),  sim(i, i) = 0
        score(u, i) = sum_{j in I(u)} sim(j, i) + popularity_weight * log(1 + n_i)
        rating(u, i) = mu + b_u + b_i + sum_j sim(j, i) * (r_uj - mu - b_u - b_j)
                                        / (sum_j sim(j, i) + 1)

    (b: the `UserItemBias` of the same data; the residual term is shrunk towards 0
    when the user's items say little about i.) An unknown user has no items (the
    popularity prior alone ranks), an unknown item scores 0 and is rated mu + b_u.
    `similarity_` is the shared sparse shrunk cosine (`features.similarity.
    cosine_similarity`, float32 [I, I], symmetric, zero diagonal), as the
    recommender's similarity feature computes it.

    Args:
        shrinkage: damps similarities resting on few co-reviews; None = choose.
        popularity_weight: weight of the log-popularity prior; None = choose.
        shrinkage_grid, popularity_grid: candidates, chosen jointly by NDCG@10 on
            the validation frame given to `fit` (or each user's last training review).
        bias_reg: L2 weight of the biases; None = chosen as `UserItemBias` does.

    Example:
        >>> model = ItemKNN(shrinkage=5.0, popularity_weight=0.05).fit(train)  # doctest: +SKIP
    """

    def __init__(self, shrinkage: float | None = None, popularity_weight: float | None = None,
                 shrinkage_grid: Sequence[float] = KNN_SHRINKAGE_GRID,
                 popularity_grid: Sequence[float] = KNN_POPULARITY_GRID,
                 bias_reg: float | None = None) -> None:
        self.shrinkage = shrinkage
        self.popularity_weight = popularity_weight
        self.shrinkage_grid = tuple(shrinkage_grid)
        self.popularity_grid = tuple(popularity_grid)
        self.bias_reg = bias_reg

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> ItemKNN:
        """Fits the similarities (choosing shrinkage and popularity weight when None).

        Args:
            train: canonical rows (`user_id`, `item_id`, `rating`; `timestamp` when a
                setting must be chosen and no validation is given).
            validation: rows for choosing the settings; None = each user's last review.
        """
        _check_train(train, type(self).__name__)
        self.shrinkage_, self.popularity_weight_, self.validation_ndcg_ = self._choose(
            train, validation)
        self.bias_ = UserItemBias(self.bias_reg).fit(train, validation)
        data = _Interactions(train)
        self.users_, self.items_ = data.users, data.items
        # Distinct (user, item) pairs: a repeated review is one co-review, not two.
        pairs = np.unique(np.stack([data.user, data.item], 1), axis=0)
        self.user_start_ = np.searchsorted(pairs[:, 0], np.arange(data.n_users + 1))
        self.user_items_ = pairs[:, 1]
        count = np.bincount(pairs[:, 1], minlength=data.n_items).astype(np.float64)
        # Sparse float32 [I, I], symmetric, zero diagonal (features/similarity.py).
        self.similarity_ = similarity_lib.cosine_similarity(
            similarity_lib.co_review_matrix(pairs[:, 0], pairs[:, 1], data.n_items),
            self.shrinkage_)
        self.prior_ = np.append(self.popularity_weight_ * np.log1p(count), 0.0)
        # Residual of each of the user's items against the bias model, for ratings.
        ratings = pd.DataFrame({"user": data.user, "item": data.item,
                                "rating": data.rating}).groupby(["user", "item"]).rating.mean()
        user_ids = self.users_.index.to_numpy()[pairs[:, 0]]
        item_ids = self.items_.index.to_numpy()[pairs[:, 1]]
        self.residual_ = (ratings.to_numpy() - self.bias_.predict_rating(user_ids, item_ids))
        return self

    def _choose(self, train: pd.DataFrame, validation: pd.DataFrame | None
                ) -> tuple[float, float, dict[tuple[float, float], float]]:
        shrinkages = self.shrinkage_grid if self.shrinkage is None else (self.shrinkage,)
        weights = self.popularity_grid if self.popularity_weight is None \
            else (self.popularity_weight,)
        if len(shrinkages) == len(weights) == 1:
            return float(shrinkages[0]), float(weights[0]), {}
        fit_rows, check_rows = ((train, validation) if validation is not None
                                else _hold_out_last(train))
        if len(check_rows) == 0:
            raise ValueError("ItemKNN: cannot choose its settings, the validation rows are "
                             "empty")
        scores = {}
        for shrinkage in shrinkages:
            for weight in weights:
                # The ranking ignores the biases: any fixed weight spares their own choice.
                model = ItemKNN(shrinkage, weight, bias_reg=1.0).fit(fit_rows)
                scores[(float(shrinkage), float(weight))] = evaluate(
                    model, fit_rows, check_rows, ratings=False).metrics["ndcg@10"]
        best = max(scores, key=scores.get)
        return best[0], best[1], scores

    def _neighbours(self, user_ids: np.ndarray) -> np.ndarray:
        """float [U, I + 1]: each user's multi-hot training items (last column: unknown)."""
        codes = self.users_.codes(user_ids)
        out = np.zeros((len(codes), len(self.items_.index) + 1), np.float32)
        for row, code in enumerate(codes):
            if code < self.users_.fallback_row:
                out[row, self.user_items_[self.user_start_[code]:self.user_start_[code + 1]]] = 1
        return out

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [N]: the bias rating plus the similarity-weighted residuals."""
        base = self.bias_.predict_rating(user_ids, item_ids)
        users, items = self.users_.codes(user_ids), self.items_.codes(item_ids)
        out = np.asarray(base, np.float64).copy()
        known = np.flatnonzero((users < self.users_.fallback_row)
                               & (items < self.items_.fallback_row))
        lo, hi = self.user_start_[users[known]], self.user_start_[users[known] + 1]
        # sim(j, i) of each known row's items j, looked up at once, then split per row.
        sizes, ends = hi - lo, np.cumsum(hi - lo)
        positions = np.arange(ends[-1] if len(ends) else 0) + np.repeat(lo - ends + sizes, sizes)
        weights = np.split(similarity_lib.matrix_entries(
            self.similarity_, self.user_items_[positions], np.repeat(items[known], sizes)),
            ends[:-1])
        for k, row in enumerate(known):
            out[row] += weights[k] @ self.residual_[lo[k]:hi[k]] / (weights[k].sum() + 1.0)
        return out

    def score_items(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: summed similarity to the user's items + the popularity prior."""
        return self._score(self._neighbours(user_ids), item_ids)

    def score_histories(self, histories: Sequence[np.ndarray],
                        item_ids: np.ndarray) -> np.ndarray:
        """float [U, I]: `score_items` for users given by their items instead of their id.

        Args:
            histories: U arrays of item ids (str), e.g. a new user's first reviewed items;
                items unknown to training add nothing.
            item_ids: str [I].

        Example:
            >>> model.score_histories([np.array(["i1"])], np.array(["i2"]))  # doctest: +SKIP
        """
        neighbours = np.zeros((len(histories), len(self.items_.index) + 1), np.float32)
        for row, items in enumerate(histories):
            neighbours[row, self.items_.codes(np.asarray(items, str))] = 1
        neighbours[:, -1] = 0  # the unknown-item column
        return self._score(neighbours, item_ids)

    def _score(self, neighbours: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        items = self.items_.codes(item_ids)
        known = np.flatnonzero(items < self.items_.fallback_row)
        scores = np.zeros((len(neighbours), len(items)), np.float32)
        # Column i of the symmetric similarity is its row i; unknown items score 0.
        if len(known) and len(neighbours):
            scores[:, known] = (self.similarity_[items[known]]
                                @ np.ascontiguousarray(neighbours[:, :-1].T)).T
        return scores.astype(np.float64) + self.prior_[items][None, :]


class _Interactions:
    """Training rows as integer codes, shared by the bias and MF fits."""

    def __init__(self, train: pd.DataFrame) -> None:
        self.users = _IdTable(train["user_id"].to_numpy(str))
        self.items = _IdTable(train["item_id"].to_numpy(str))
        self.user = self.users.codes(train["user_id"].to_numpy(str))
        self.item = self.items.codes(train["item_id"].to_numpy(str))
        self.rating = train["rating"].to_numpy(np.float64)
        self.mean = float(self.rating.mean())
        self.residual = self.rating - self.mean
        self.n_users, self.n_items = len(self.users.index), len(self.items.index)


def _fit_biases(data: _Interactions, reg: float, max_sweeps: int,
                tol: float) -> tuple[np.ndarray, np.ndarray]:
    user_count = np.bincount(data.user, minlength=data.n_users) + reg
    item_count = np.bincount(data.item, minlength=data.n_items) + reg
    user_bias, item_bias = np.zeros(data.n_users), np.zeros(data.n_items)
    for _ in range(max_sweeps):
        new_item = np.bincount(data.item, data.residual - user_bias[data.user],
                               data.n_items) / item_count
        new_user = np.bincount(data.user, data.residual - new_item[data.item],
                               data.n_users) / user_count
        change = max(np.abs(new_item - item_bias).max(), np.abs(new_user - user_bias).max())
        user_bias, item_bias = new_user, new_item
        if change < tol:
            break
    return user_bias, item_bias


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


def _choose_reg(make: Callable[[float], object], reg: float | None, grid: Sequence[float],
                train: pd.DataFrame,
                validation: pd.DataFrame | None) -> tuple[float, dict[float, float]]:
    """The fixed `reg`, or the grid value with the lowest validation RMSE (and all RMSEs)."""
    if reg is not None:
        return float(reg), {}
    fit_rows, check_rows = (train, validation) if validation is not None else _hold_out_last(train)
    if len(check_rows) == 0:
        raise ValueError("cannot choose the regularisation: the validation rows are empty")
    scores = {}
    for candidate in grid:
        model = make(candidate).fit(fit_rows)
        predicted = model.predict_rating(check_rows["user_id"].to_numpy(str),
                                         check_rows["item_id"].to_numpy(str))
        scores[float(candidate)] = rmse(predicted, check_rows["rating"].to_numpy(np.float64))
    return min(scores, key=scores.get), scores


def _hold_out_last(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit rows, check rows): each user's last training review by time is held out."""
    missing = [c for c in ("timestamp",) if c not in train.columns]
    if missing:
        raise ValueError(f"choosing the regularisation without a validation frame needs "
                         f"column(s) {missing} in train")
    frame = train if "text" in train.columns else train.assign(text="")
    inner = leave_last_out(frame, validation_per_user=0, test_per_user=1)
    return inner.train, inner.test


def baseline_variants(split: SplitLike, mf_factors: int = 10,
                      knn_max_items: int = KNN_MAX_ITEMS) -> dict[str, Variant]:
    """The in-run baselines as ablation variants, fitted on `split.train`.

    The bias, MF and item-kNN models choose their settings on `split.validation` (or,
    when it is empty, on each user's last training review). Only MF depends on the seed.

    Args:
        split: the time split of the run.
        mf_factors: k of the matrix factorisation.
        knn_max_items: item-kNN is left out (with a warning) above this many
            training items (the measured size and time are at `KNN_MAX_ITEMS`).

    Returns:
        name -> `Variant`: "global mean", "item mean", "popularity", "user + item bias",
        "MF (k=<mf_factors>)", "item-kNN".

    Example:
        >>> run_ablation(baseline_variants(split), split)  # doctest: +SKIP
    """
    train = split.train
    validation = split.validation if len(split.validation) else None
    variants = {
        "global mean": Variant(lambda seed: GlobalMean().fit(train), deterministic=True),
        "item mean": Variant(lambda seed: ItemMean().fit(train), deterministic=True),
        "popularity": Variant(lambda seed: Popularity().fit(train), deterministic=True),
        "user + item bias": Variant(lambda seed: UserItemBias().fit(train, validation),
                                    deterministic=True),
        f"MF (k={mf_factors})": Variant(
            lambda seed: MatrixFactorization(mf_factors, seed=seed).fit(train, validation)),
    }
    num_items = train["item_id"].nunique()
    if num_items <= knn_max_items:
        variants["item-kNN"] = Variant(lambda seed: ItemKNN().fit(train, validation),
                                       deterministic=True)
    else:
        warnings.warn(f"baseline item-kNN left out: {num_items} training items exceed "
                      f"knn_max_items ({knn_max_items})", stacklevel=2)
    return variants


def baseline_report(split: SplitLike, out_dir: str | Path | None = None,
                    config: EvalConfig | None = None, title: str = "baselines",
                    progress: bool = True) -> AblationResult:
    """Runs every baseline on `split` (one table, one chart) and optionally writes the files.

    Example:
        >>> print(baseline_report(split).to_markdown())  # doctest: +SKIP
    """
    config = config or EvalConfig()
    return run_ablation(baseline_variants(split, config.mf_factors), split, out_dir,
                        config=config, title=title, progress=progress)
