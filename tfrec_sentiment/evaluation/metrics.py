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
    scores = np.asarray(scores, np.float64)
    relevant = np.asarray(relevant, bool)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if np.any(relevant & np.isneginf(scores)):
        raise ValueError("an excluded item (score -inf) is marked relevant")
    count = relevant.sum(1) if n_relevant is None else np.asarray(n_relevant)
    if np.any(count < relevant.sum(1)):
        raise ValueError("n_relevant is smaller than the relevant items in the catalogue")
    groups = _tie_groups(scores, relevant)
    discount = np.where(np.arange(scores.shape[1]) < k,
                        1.0 / np.log2(np.arange(scores.shape[1]) + 2.0), 0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(discount)])
    in_top = np.clip(k - groups.start, 0, groups.size)  # slots of the group inside the top K
    # Relevant items at sorted positions: each contributes its group's average.
    rel = groups.sorted_relevant
    dcg = np.where(rel, (cumulative[groups.end] - cumulative[groups.start]) / groups.size, 0)
    hits = np.where(rel, in_top / groups.size, 0.0)
    ideal_by_count = np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))
    ideal = ideal_by_count[np.clip(np.minimum(count, k) - 1, 0, None)]
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(count > 0, hits.sum(1) / count, np.nan)
        ndcg = np.where(count > 0, dcg.sum(1) / ideal, np.nan)
    hit = np.where(count > 0, 1.0 - np.exp(_log_no_hit(groups, in_top)), np.nan)
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


@dataclasses.dataclass
class _Groups:
    """Tie groups of each row sorted by descending score, at every sorted position [B, I]."""

    start: np.ndarray  # first position of the group (= items strictly ahead)
    end: np.ndarray  # one past its last position
    size: np.ndarray
    sorted_relevant: np.ndarray  # bool, relevance in sorted order
    relevant_in_group: np.ndarray  # relevant items of the group


def _tie_groups(scores: np.ndarray, relevant: np.ndarray) -> _Groups:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(scores, order, 1)
    sorted_relevant = np.take_along_axis(relevant, order, 1)
    n_rows, n_items = scores.shape
    position = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    first = np.ones((n_rows, n_items), bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    last = np.ones((n_rows, n_items), bool)
    last[:, :-1] = first[:, 1:]
    start = np.maximum.accumulate(np.where(first, position, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, position, n_items - 1)[:, ::-1], axis=1)[:, ::-1] + 1
    counts = np.concatenate([np.zeros((n_rows, 1), np.int64),
                             np.cumsum(sorted_relevant, axis=1)], axis=1)
    in_group = np.take_along_axis(counts, end, 1) - np.take_along_axis(counts, start, 1)
    return _Groups(start=start, end=end, size=end - start, sorted_relevant=sorted_relevant,
                   relevant_in_group=np.where(first, in_group, 0))


def _log_no_hit(groups: _Groups, in_top: np.ndarray) -> np.ndarray:
    """log P(no relevant item in the top K) per row: a product over tie groups.

    A group of size t holding r relevant items with m of its slots in the top K misses
    them all with probability C(t - r, m) / C(t, m).
    """
    t, r, m = groups.size, groups.relevant_in_group, in_top
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, t.shape[1] + 1)))])

    def log_choose(n: np.ndarray, j: np.ndarray) -> np.ndarray:
        n_safe = np.maximum(n, 0)
        j_safe = np.clip(j, 0, n_safe)
        return log_factorial[n_safe] - log_factorial[j_safe] - log_factorial[n_safe - j_safe]

    active = (r > 0) & (m > 0)  # r > 0 only at a group's first position: one term per group
    impossible = active & (t - r < m)
    terms = np.where(active & ~impossible, log_choose(t - r, m) - log_choose(t, m), 0.0)
    return np.where(impossible.any(1), -np.inf, terms.sum(1))
