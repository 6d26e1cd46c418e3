"""Metric maths against hand-computed cases and a brute-force average over tie orders."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tfrec_sentiment.evaluation.metrics import (
    EXCLUDED,
    Ranking,
    finite_scores,
    mae,
    rating_errors,
    rmse,
    topk_metrics,
)


def _log_discount(position: int) -> float:
    return 1.0 / math.log2(position + 2)


def test_rmse_and_mae_by_hand():
    predicted, actual = np.array([3.0, 4.0, 5.0]), np.array([4.0, 4.0, 2.0])
    assert rmse(predicted, actual) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    assert mae(predicted, actual) == pytest.approx(4 / 3)
    squared, absolute = rating_errors(predicted, actual)
    np.testing.assert_allclose(squared, [1, 0, 9])
    np.testing.assert_allclose(absolute, [1, 0, 3])


def test_distinct_scores_by_hand():
    # User 0: relevant items at positions 1 and 3 of the ranking [0, 1, 2, 3].
    # User 1: the single relevant item is ranked first.
    scores = np.array([[0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.9]])
    relevant = np.array([[False, True, False, True], [False, False, False, True]])
    result = topk_metrics(scores, relevant, k=3)
    assert result.recall.tolist() == pytest.approx([0.5, 1.0])
    ideal_two = _log_discount(0) + _log_discount(1)
    assert result.ndcg.tolist() == pytest.approx([_log_discount(1) / ideal_two, 1.0])
    assert result.hit.tolist() == [1.0, 1.0]


def test_excluded_items_do_not_take_slots():
    # Item 0 scores highest but is excluded, so the relevant item 1 moves to the top.
    scores = np.array([[5.0, 4.0, 3.0]])
    relevant = np.array([[False, True, False]])
    plain = topk_metrics(scores, relevant, k=1)
    scores[0, 0] = EXCLUDED
    excluded = topk_metrics(scores, relevant, k=1)
    assert plain.hit[0] == 0.0
    assert excluded.hit[0] == excluded.ndcg[0] == 1.0


def test_excluded_relevant_item_is_an_error():
    with pytest.raises(ValueError, match="excluded"):
        topk_metrics(np.array([[EXCLUDED, 1.0]]), np.array([[True, False]]), k=1)


def test_ties_score_the_expected_random_order():
    # A constant scorer over 10 items with one relevant item: rank is uniform on 1..10.
    scores = np.zeros((1, 10))
    relevant = np.eye(1, 10, 7, dtype=bool)
    result = topk_metrics(scores, relevant, k=4)
    assert result.hit[0] == pytest.approx(0.4)
    assert result.recall[0] == pytest.approx(0.4)
    assert result.ndcg[0] == pytest.approx(sum(_log_discount(p) for p in range(4)) / 10)


def test_tied_group_with_two_relevant_items_hitrate_is_hypergeometric():
    # 5 tied items, 2 relevant, 2 top slots: P(no hit) = C(3, 2) / C(5, 2) = 3 / 10.
    scores = np.zeros((1, 5))
    relevant = np.array([[True, True, False, False, False]])
    assert topk_metrics(scores, relevant, k=2).hit[0] == pytest.approx(0.7)


def _brute_force(scores, relevant, k, n_relevant):
    """Averages naive metrics over every order consistent with the scores."""
    kept = [i for i in range(len(scores)) if scores[i] > EXCLUDED]
    groups = [[i for i in kept if scores[i] == value]
              for value in sorted({scores[i] for i in kept}, reverse=True)]
    ideal = sum(_log_discount(p) for p in range(min(n_relevant, k)))
    outcomes = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        top = [i for order in orders for i in order][:k]
        hits = sum(relevant[i] for i in top)
        dcg = sum(_log_discount(p) for p, i in enumerate(top) if relevant[i])
        outcomes.append((hits / n_relevant, dcg / ideal, float(hits > 0)))
    return np.mean(outcomes, axis=0)


def test_random_cases_match_brute_force_over_tie_orders():
    rng = np.random.default_rng(3)
    checked = 0
    while checked < 150:
        n_items = int(rng.integers(2, 8))
        scores = rng.integers(0, 3, n_items).astype(float)
        excluded = rng.random(n_items) < 0.2
        scores[excluded] = EXCLUDED
        relevant = (rng.random(n_items) < 0.4) & ~excluded
        if not relevant.any():
            continue
        n_relevant = int(relevant.sum() + rng.integers(0, 2))  # maybe one outside the catalogue
        k = int(rng.integers(1, 5))
        got = topk_metrics(scores[None], relevant[None], k, np.array([n_relevant]))
        expected = _brute_force(scores, relevant, k, n_relevant)
        np.testing.assert_allclose([got.recall[0], got.ndcg[0], got.hit[0]], expected,
                                   err_msg=f"scores={scores} relevant={relevant} k={k}")
        checked += 1


def test_users_without_relevant_items_are_nan():
    scores = np.array([[1.0, 2.0], [1.0, 2.0]])
    relevant = np.array([[True, False], [False, False]])
    result = topk_metrics(scores, relevant, k=1)
    assert result.hit[0] == 0.0 and math.isnan(result.hit[1])
    assert math.isnan(result.ndcg[1]) and math.isnan(result.recall[1])


def test_relevant_items_outside_the_catalogue_count_as_misses():
    scores = np.array([[2.0, 1.0]])
    relevant = np.array([[True, False]])
    result = topk_metrics(scores, relevant, k=2, n_relevant=np.array([2]))
    assert result.recall[0] == pytest.approx(0.5)
    assert result.ndcg[0] == pytest.approx(1.0 / (_log_discount(0) + _log_discount(1)))
    assert result.hit[0] == 1.0


def test_k_beyond_the_catalogue_is_fine():
    result = topk_metrics(np.array([[1.0, 2.0]]), np.array([[True, False]]), k=50)
    assert result.recall[0] == 1.0
    assert result.ndcg[0] == pytest.approx(_log_discount(1))


def test_finite_scores_clips_infinities_and_rejects_nan():
    clipped = finite_scores(np.array([[np.inf, -np.inf, 1.0]]))
    assert np.isfinite(clipped).all() and clipped[0, 0] > clipped[0, 2] > clipped[0, 1]
    with pytest.raises(ValueError, match="MyModel returned NaN"):
        finite_scores(np.array([[np.nan]]), "MyModel")


def test_ranking_finds_tie_groups_from_the_top_k_alone():
    # Sorted: 9 | 7, 7 | 5, 5, 5 (the K-th score, k = 4) | 1. Item 6 (score 1) is below.
    scores = np.array([[5.0, 7.0, 9.0, 5.0, 7.0, 5.0, 1.0]])
    ranking = Ranking(scores, k=4)
    start, size = ranking.group_of(np.zeros(7, int), np.arange(7))
    assert start.tolist() == [3, 1, 0, 3, 1, 3, 4]
    assert size.tolist() == [3, 2, 1, 3, 2, 3, 1]


def test_one_ranking_scores_many_relevance_sets():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (6, 30)).astype(float)
    ranking = Ranking(scores, k=5)
    for seed in range(3):
        relevant = np.random.default_rng(seed).random(scores.shape) < 0.2
        shared = ranking.metrics(np.argwhere(relevant))
        alone = topk_metrics(scores, relevant, k=5)
        for name in ("recall", "ndcg", "hit"):
            np.testing.assert_array_equal(getattr(shared, name), getattr(alone, name))


def test_distinct_scores_match_a_plain_sort():
    rng = np.random.default_rng(1)
    scores = rng.permutation(200).reshape(4, 50).astype(float)
    relevant = rng.random((4, 50)) < 0.1
    relevant[:, 0] = True
    got = topk_metrics(scores, relevant, k=10)
    for row in range(4):
        top = np.argsort(-scores[row])[:10]
        hits = [p for p, i in enumerate(top) if relevant[row, i]]
        n = relevant[row].sum()
        assert got.recall[row] == pytest.approx(len(hits) / n)
        ideal = sum(_log_discount(p) for p in range(min(n, 10)))
        assert got.ndcg[row] == pytest.approx(sum(_log_discount(p) for p in hits) / ideal)
        assert got.hit[row] == float(bool(hits))
