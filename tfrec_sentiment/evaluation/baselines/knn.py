"""Item-based collaborative filtering (shrunk cosine, `features.similarity`), the kNN baseline."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec_sentiment.evaluation.baselines.bias import UserItemBias
from tfrec_sentiment.evaluation.baselines.common import Interactions, check_train, hold_out_last
from tfrec_sentiment.evaluation.evaluate import evaluate_many
from tfrec_sentiment.features import similarity as similarity_lib

KNN_SHRINKAGE_GRID: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 20.0)
KNN_POPULARITY_GRID: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
# The similarity is sparse (features/similarity.py): it grows with the co-reviewed
# pairs, not I^2. Measured on a synthetic catalogue of 100k items (400k users, 6 reviews
# each): 10M stored pairs, 0.8 GB peak, about 30 s per fit (the dense [I, I] float64
# matrices it replaced were about 0.8 GB at 5k items and would be ~13 GB at 20k).
KNN_MAX_ITEMS = 100_000
# The validation grid ranks the same users once per popularity weight: each setting of
# the shrinkage keeps its user batches' kNN products (dense float32 [users, items]) for
# the next weights, up to this many bytes (beyond it they are computed again).
GRID_CACHE_BYTES = 256 * 2**20


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
        max_users: validation users ranked per candidate setting (the same ones for
            each, `evaluate(max_users=...)`); None = all. Each of the 35 settings ranks
            them against the whole catalogue (the similarity made once per shrinkage,
            the validation sets once for all, `evaluate_many`). On a million synthetic
            reviews (48,901 items) the fit took 327 s with 10,000 users, 136 s with
            3,000, 80 s with 3,000 once shared so. Every packaged real data set has
            fewer than 3,000 validation users, so theirs are all ranked.

    Example:
        >>> model = ItemKNN(shrinkage=5.0, popularity_weight=0.05).fit(train)  # doctest: +SKIP
    """

    def __init__(self, shrinkage: float | None = None, popularity_weight: float | None = None,
                 shrinkage_grid: Sequence[float] = KNN_SHRINKAGE_GRID,
                 popularity_grid: Sequence[float] = KNN_POPULARITY_GRID,
                 bias_reg: float | None = None, max_users: int | None = 3_000) -> None:
        self.shrinkage = shrinkage
        self.popularity_weight = popularity_weight
        self.shrinkage_grid = tuple(shrinkage_grid)
        self.popularity_grid = tuple(popularity_grid)
        self.bias_reg = bias_reg
        self.max_users = max_users
        self._products: _ProductCache | None = None  # the validation grid's (`_choose`)

    def fit(self, train: pd.DataFrame, validation: pd.DataFrame | None = None) -> ItemKNN:
        """Fits the similarities (choosing shrinkage and popularity weight when None).

        Args:
            train: canonical rows (`user_id`, `item_id`, `rating`; `timestamp` when a
                setting must be chosen and no validation is given).
            validation: rows for choosing the settings; None = each user's last review.
        """
        check_train(train, type(self).__name__)
        data, pair_user, co_reviews = self._fit_items(train)
        self.shrinkage_, self.popularity_weight_, self.validation_ndcg_ = self._choose(
            train, validation, co_reviews)
        # Sparse float32 [I, I], symmetric, zero diagonal (features/similarity.py).
        self.similarity_ = similarity_lib.cosine_similarity(co_reviews, self.shrinkage_)
        self.prior_ = self.popularity_weight_ * self.log_popularity_
        self.bias_ = UserItemBias(self.bias_reg).fit(train, validation)
        # Residual of each of the user's items against the bias model, for ratings.
        ratings = pd.DataFrame({"user": data.user, "item": data.item,
                                "rating": data.rating}).groupby(["user", "item"]).rating.mean()
        user_ids = self.users_.index.to_numpy()[pair_user]
        item_ids = self.items_.index.to_numpy()[self.user_items_]
        self.residual_ = (ratings.to_numpy() - self.bias_.predict_rating(user_ids, item_ids))
        return self

    def _fit_items(self, train: pd.DataFrame
                   ) -> tuple[Interactions, np.ndarray, sp.csr_array]:
        """Sets the id tables, each user's items and the popularity. Returns the rows as
        codes, the user code of each distinct (user, item) pair (the order of
        `user_items_`) and the co-review counts C (sparse [I, I]), from which each
        shrinkage's similarity is made."""
        data = Interactions(train)
        self.users_, self.items_ = data.users, data.items
        # Distinct (user, item) pairs: a repeated review is one co-review, not two.
        pairs = np.unique(np.stack([data.user, data.item], 1), axis=0)
        self.user_start_ = np.searchsorted(pairs[:, 0], np.arange(data.n_users + 1))
        self.user_items_ = pairs[:, 1]
        count = np.bincount(pairs[:, 1], minlength=data.n_items).astype(np.float64)
        self.log_popularity_ = np.append(np.log1p(count), 0.0)  # last: unknown items
        return data, pairs[:, 0], similarity_lib.co_review_matrix(pairs[:, 0], pairs[:, 1],
                                                                  data.n_items)

    def _choose(self, train: pd.DataFrame, validation: pd.DataFrame | None,
                co_reviews: sp.csr_array) -> tuple[float, float, dict[tuple[float, float], float]]:
        shrinkages = self.shrinkage_grid if self.shrinkage is None else (self.shrinkage,)
        weights = self.popularity_grid if self.popularity_weight is None \
            else (self.popularity_weight,)
        if len(shrinkages) == len(weights) == 1:
            return float(shrinkages[0]), float(weights[0]), {}
        ranker = self
        if validation is not None:
            fit_rows, check_rows = train, validation
        else:
            fit_rows, check_rows = hold_out_last(train)
            ranker = ItemKNN()
            co_reviews = ranker._fit_items(fit_rows)[2]
        if len(check_rows) == 0:
            raise ValueError("ItemKNN: cannot choose its settings, the validation rows are "
                             "empty")

        def candidates():
            # The ranking needs neither biases nor residuals: each shrinkage's similarity
            # is made once, and its copies differ only in the popularity prior.
            for shrinkage in shrinkages:
                fitted = copy.copy(ranker)
                fitted.similarity_ = similarity_lib.cosine_similarity(co_reviews, shrinkage)
                fitted._products = _ProductCache(GRID_CACHE_BYTES)  # shared by the copies
                yield from (fitted.with_popularity_weight(weight) for weight in weights)

        settings = [(float(s), float(w)) for s in shrinkages for w in weights]
        # One preparation of the validation sets for every setting (`evaluate_many`).
        results = evaluate_many(candidates(), fit_rows, check_rows, ratings=False,
                                max_users=self.max_users)
        scores = {setting: result.metrics["ndcg@10"]
                  for setting, result in zip(settings, results, strict=True)}
        best = max(scores, key=scores.get)
        return best[0], best[1], scores

    def with_popularity_weight(self, weight: float) -> ItemKNN:
        """A copy of this fitted model with another popularity weight (shares the
        similarity and the biases: only the prior changes)."""
        model = copy.copy(self)
        model.popularity_weight_ = float(weight)
        model.prior_ = model.popularity_weight_ * self.log_popularity_
        return model

    def _neighbours(self, user_ids: np.ndarray) -> sp.csr_array:
        """float32 sparse [U, I]: each user's multi-hot training items (unknown: none)."""
        codes = self.users_.codes(user_ids)
        known = codes < self.users_.fallback_row
        lo, hi = np.zeros(len(codes), np.int64), np.zeros(len(codes), np.int64)
        lo[known], hi[known] = self.user_start_[codes[known]], self.user_start_[codes[known] + 1]
        indptr = np.concatenate([[0], np.cumsum(hi - lo)])
        positions = np.repeat(lo - indptr[:-1], hi - lo) + np.arange(indptr[-1])
        return self._multi_hot(self.user_items_[positions], indptr)

    def _multi_hot(self, items: np.ndarray, indptr: np.ndarray) -> sp.csr_array:
        return sp.csr_array((np.ones(len(items), np.float32), items, indptr),
                            shape=(len(indptr) - 1, len(self.items_.index)))

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
        known = [np.unique(codes[codes < self.items_.fallback_row]) for codes in
                 (self.items_.codes(np.asarray(items, str)) for items in histories)]
        indptr = np.concatenate([[0], np.cumsum([len(k) for k in known])]).astype(np.int64)
        neighbours = self._multi_hot(np.concatenate([np.zeros(0, np.int64), *known]), indptr)
        return self._score(neighbours, item_ids)

    def _score(self, neighbours: sp.csr_array, item_ids: np.ndarray) -> np.ndarray:
        items = self.items_.codes(item_ids)
        known = np.flatnonzero(items < self.items_.fallback_row)
        scores = np.empty((neighbours.shape[0], len(items)), np.float64)
        scores[:] = self.prior_[items]  # unknown items: the prior's 0 alone
        if not (len(known) and neighbours.shape[0]):
            return scores
        cache = self._products
        product = cache.get(neighbours) if cache is not None else None
        if product is None:
            # Sparse x sparse: the work is the users' items' stored neighbours, not the
            # users x the similarity's stored pairs (the dense product's cost). The
            # similarity is symmetric, so row j holds sim(j, .). float32 [U, I_train].
            product = (neighbours @ self.similarity_).toarray()
            if cache is not None:
                cache.put(neighbours, product)
        if np.array_equal(items, np.arange(product.shape[1])):  # the catalogue, in order
            scores += product
        else:
            scores[:, known] += product[:, items[known]]
        return scores


class _ProductCache:
    """The kNN products (float32 [U, I_train]) of user batches, keyed by their multi-hot
    rows, up to `max_bytes` in all (then nothing more is kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.products: dict[bytes, np.ndarray] = {}

    @staticmethod
    def key(neighbours: sp.csr_array) -> bytes:
        return b"|".join(np.ascontiguousarray(a).tobytes()
                         for a in (neighbours.indptr, neighbours.indices, neighbours.data))

    def get(self, neighbours: sp.csr_array) -> np.ndarray | None:
        return self.products.get(self.key(neighbours))

    def put(self, neighbours: sp.csr_array, product: np.ndarray) -> None:
        if self.bytes + product.nbytes <= self.max_bytes:
            self.products[self.key(neighbours)] = product
            self.bytes += product.nbytes
