"""Metric maths on plain arrays: rating errors and top-K ranking metrics with ties.

Relevance. A user's relevant items are their held-out (test) items, whatever their
stars: having bought and reviewed an item is the event a recommender should predict,
and a low rating still says the item was worth showing. Items the user already has in
training (and validation, when scoring the test split) are excluded from the ranking
and are never relevant.

Top-K metrics per user, for K cut-off, R = number of relevant items (also counting
relevant items the catalogue lacks, which cannot be ranked and so count as misses):

- Recall@K = (relevant items in the top K) / R. Not capped at K: with leave-last-out
  R = 1 and Recall@K equals HitRate@K.
- NDCG@K = DCG@K / IDCG@K with DCG@K = sum over relevant items at 0-based position
  p < K of 1 / log2(p + 2), and IDCG@K the DCG of min(R, K) items at the top.
- HitRate@K = 1 if at least one relevant item is in the top K.
- Users with R = 0 get NaN (left out of means).

Ties. Equal scores are ranked as a uniformly random order, and every metric is its
expectation over that order, computed exactly: a constant scorer gets the random-ranking
value, not a lucky or unlucky one decided by catalogue order. A relevant item in a tie
group occupying positions [g, g + t) sits at each of them with probability 1 / t;
HitRate uses the hypergeometric chance that none of the r relevant items of a group
lands in its first K - g slots.

Example:

>>> import numpy as np
>>> scores = np.array([[3.0, 2.0, 1.0]])
>>> relevant = np.array([[False, True, False]])
>>> round(float(topk_metrics(scores, relevant, k=2).ndcg[0]), 4)  # 1 / log2(3)
0.6309
"""

from __future__ import annotations

import dataclasses

import numpy as np

EXCLUDED = -np.inf  # score given to excluded items; models' own scores are kept finite
DEFAULT_MAX_ELEMENTS = 1 << 22  # scores held at once: 4M float64 = 32 MB per array


@dataclasses.dataclass
class TopK:
    """Per-user top-K metrics, float [B] each; NaN where the user has no relevant item."""

    recall: np.ndarray
    ndcg: np.ndarray
    hit: np.ndarray


def rating_errors(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared and absolute errors.

    Args:
        predicted: float [N].
        actual: float [N].

    Returns:
        (squared error [N], absolute error [N]), float64.
    """
    error = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return error**2, np.abs(error)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error over N pairs (float [N] each)."""
    return float(np.sqrt(rating_errors(predicted, actual)[0].mean()))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error over N pairs (float [N] each)."""
    return float(rating_errors(predicted, actual)[1].mean())


def topk_metrics(scores: np.ndarray, relevant: np.ndarray, k: int,
                 n_relevant: np.ndarray | None = None) -> TopK:
    """Expected Recall@K, NDCG@K and HitRate@K under random tie-breaking.

    A shortcut for `Ranking(scores, k).metrics(...)` with a dense mask; to score several
    relevance sets against one ranking, build the `Ranking` once.

    Args:
        scores: float [B, I]. Excluded items hold `EXCLUDED` (-inf); they rank last and
            must not be relevant. Other scores must be finite (see `finite_scores`).
        relevant: bool [B, I], the relevant catalogue items of each user.
        k: the cut-off K >= 1.
        n_relevant: int [B], the number of relevant items per user including those
            outside the catalogue (the Recall / IDCG denominator); default
            `relevant.sum(1)`.

    Returns:
        `TopK` with float [B] arrays.

    Example:
        >>> topk_metrics(np.zeros((1, 4)), np.eye(1, 4, dtype=bool), k=2).hit  # 2 of 4 slots
        array([0.5])
    """
    relevant = np.asarray(relevant, bool)
    ranking = Ranking(scores, k)
    if relevant.shape != ranking.scores.shape:
        raise ValueError(f"relevant has shape {relevant.shape}, scores {ranking.scores.shape}")
    return ranking.metrics(np.argwhere(relevant), n_relevant)


class Ranking:
    """The top K of every row, found once and shared by every relevance set scored on it.

    Finding a row's top K costs one `np.partition` (O(I)) and a sort of K values; no row
    is fully sorted. A relevant item with score s then sits in the tie group of all items
    scoring s: it starts at position g = #(items scoring > s) and has t = #(items scoring
    == s) members. Only groups that reach into the top K matter, and those hold either
    values above the K-th score (all inside the top-K list) or the K-th score itself (its
    row-wide count is taken once), so each relevant item costs O(K).

    Args:
        scores: float [B, I]; `EXCLUDED` (-inf) for excluded items, else finite.
        k: the cut-off K >= 1.

    Example:
        >>> ranking = Ranking(np.array([[3.0, 2.0, 2.0, 1.0]]), k=2)
        >>> ranking.group_of(np.array([0, 0]), np.array([1, 3]))  # item 1: tie at 1-2; 3: out
        (array([1, 2]), array([2, 1]))
    """

    def __init__(self, scores: np.ndarray, k: int) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.scores = np.asarray(scores, np.float64)
        if self.scores.ndim != 2 or self.scores.shape[1] == 0:
            raise ValueError(f"scores must be [B, I] with I >= 1, got {self.scores.shape}")
        self.k = k
        n_items = self.scores.shape[1]
        width = min(k, n_items)
        # The largest `width` of each row (one partition of the scores, no negated copy).
        top = np.partition(self.scores, n_items - width, axis=1)[:, n_items - width:]
        self.top = np.sort(top, axis=1)[:, ::-1]  # float [B, min(K, I)], descending
        self.threshold = self.top[:, -1]  # the K-th score (the last one when K >= I)
        self.threshold_start = (self.top > self.threshold[:, None]).sum(1)
        self.threshold_size = (self.scores == self.threshold[:, None]).sum(1)

    def group_of(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tie group (first position g, size t) of items, int [P] each.

        Items below the K-th score get (K, 1): a group wholly outside the top K.
        """
        score = self.scores[rows, cols]
        top = self.top[rows]
        above = score > self.threshold[rows]
        at = score == self.threshold[rows]
        start = np.where(above, (top > score[:, None]).sum(1),
                         np.where(at, self.threshold_start[rows], self.k))
        size = np.where(above, (top == score[:, None]).sum(1),
                        np.where(at, self.threshold_size[rows], 1))
        return start, size

    def metrics(self, relevant: np.ndarray, n_relevant: np.ndarray | None = None) -> TopK:
        """Expected Recall@K, NDCG@K and HitRate@K of one relevance set.

        Args:
            relevant: int [P, 2], distinct (row, item column) pairs of relevant items.
            n_relevant: int [B], relevant items per row including those outside the
                catalogue; default the pairs per row.

        Returns:
            `TopK`, float [B] each; NaN for rows with no relevant item.
        """
        n_rows, n_items = self.scores.shape
        relevant = np.asarray(relevant, np.int64).reshape(-1, 2)
        rows, cols = relevant[:, 0], relevant[:, 1]
        in_catalogue = np.bincount(rows, minlength=n_rows)
        count = in_catalogue if n_relevant is None else np.asarray(n_relevant)
        if np.any(count < in_catalogue):
            raise ValueError("n_relevant is smaller than the relevant items in the catalogue")
        if np.any(np.isneginf(self.scores[rows, cols])):
            raise ValueError("an excluded item (score -inf) is marked relevant")
        start, size = self.group_of(rows, cols)
        k = self.k
        cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])
        in_top = np.clip(k - start, 0, size)  # slots of the group inside the top K
        # Each relevant item sits at each position of its group with probability 1 / t.
        dcg = (cumulative[np.minimum(start + size, k)] - cumulative[np.minimum(start, k)]) / size
        hits = np.bincount(rows, in_top / size, n_rows)
        ideal = cumulative[np.clip(np.minimum(count, k), 1, None)]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(count > 0, hits / count, np.nan)
            ndcg = np.where(count > 0, np.bincount(rows, dcg, n_rows) / ideal, np.nan)
        no_hit = _log_no_hit(rows, start, size, in_top, n_rows)
        hit = np.where(count > 0, 1.0 - np.exp(no_hit), np.nan)
        return TopK(recall=recall, ndcg=ndcg, hit=hit)


def finite_scores(scores: np.ndarray, name: str = "model") -> np.ndarray:
    """Float64 copy of a model's scores with +-inf clipped to the finite range.

    -inf is reserved for excluded items, so a model's own -inf becomes the lowest
    finite float (it still ranks below every finite score).

    Raises:
        ValueError: NaN scores, naming `name`.
    """
    scores = np.array(scores, np.float64)
    if np.isnan(scores).any():
        raise ValueError(f"{name} returned NaN scores for {int(np.isnan(scores).sum())} entries")
    limit = np.finfo(np.float64).max
    return np.clip(scores, -limit, limit)


def _log_no_hit(rows: np.ndarray, start: np.ndarray, size: np.ndarray, in_top: np.ndarray,
                n_rows: int) -> np.ndarray:
    """log P(no relevant item in the top K) per row [B]: a product over tie groups.

    A group of size t holding r relevant items with m of its slots in the top K misses
    them all with probability C(t - r, m) / C(t, m).
    """
    reaching = in_top > 0
    if not reaching.any():
        return np.zeros(n_rows)
    rows, start, size, in_top = rows[reaching], start[reaching], size[reaching], in_top[reaching]
    # Pairs of one (row, group start) share the group: take its first pair, count the rest.
    _, pick, r = np.unique(rows * (int(start.max()) + 1) + start, return_index=True,
                           return_counts=True)
    row, t, m = rows[pick], size[pick], in_top[pick]
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, t.max() + 1)))])

    def log_choose(n: np.ndarray, j: np.ndarray) -> np.ndarray:
        n_safe = np.maximum(n, 0)
        j_safe = np.clip(j, 0, n_safe)
        return log_factorial[n_safe] - log_factorial[j_safe] - log_factorial[n_safe - j_safe]

    impossible = t - r < m
    terms = np.where(impossible, 0.0, log_choose(t - r, m) - log_choose(t, m))
    out = np.bincount(row, terms, n_rows)
    return np.where(np.bincount(row, impossible, n_rows) > 0, -np.inf, out)


def batch_pairs(pairs: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The pairs of rows [begin, end), row numbers made batch-relative.

    Args:
        pairs: int [P, 2] (row, item column), sorted by row.
        begin, end: the batch's rows.

    Returns:
        int [P', 2], a copy.

    Example:
        >>> batch_pairs(np.array([[0, 5], [2, 1], [2, 3], [4, 0]]), 2, 4).tolist()
        [[0, 1], [0, 3]]
    """
    lo, hi = np.searchsorted(pairs[:, 0], [begin, end])
    return pairs[lo:hi] - np.array([begin, 0])
