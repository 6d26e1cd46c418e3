"""Explanation quality: tie-aware NDCG@k / Precision@k against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.aspects.profiles import AspectProfiles
from tfrec_sentiment.evaluation.explanations import (
    evaluate_explanations,
    explanations_markdown,
    save_explanations,
    tied_ndcg_precision,
)

D2 = 1 / math.log2(3)  # the discount of the second position


def test_ndcg_and_precision_without_ties():
    ndcg, precision = tied_ndcg_precision(np.array([0.5, 0.3, 0.2, 0.1]),
                                          np.array([False, True, False, True]), k=3)
    assert ndcg == pytest.approx(D2 / (1 + D2))
    assert precision == pytest.approx(1 / 3)


def test_tied_weights_score_the_expectation_over_their_orders():
    # three tied aspects, one relevant: each of the first two positions gains 1/3
    ndcg, precision = tied_ndcg_precision(np.array([1.0, 1.0, 1.0, 0.0]),
                                          np.array([True, False, False, True]), k=2)
    assert ndcg == pytest.approx((1 / 3 + D2 / 3) / (1 + D2))
    assert precision == pytest.approx(1 / 3)
    # the same with the tie broken either way averages to the tied value
    first = tied_ndcg_precision(np.array([3.0, 2.0, 1.0]), np.array([True, False, False]), 3)
    last = tied_ndcg_precision(np.array([1.0, 2.0, 3.0]), np.array([True, False, False]), 3)
    tied = tied_ndcg_precision(np.ones(3), np.array([True, False, False]), 3)
    middle = tied_ndcg_precision(np.array([2.0, 3.0, 1.0]), np.array([True, False, False]), 3)
    assert tied[0] == pytest.approx((first[0] + middle[0] + last[0]) / 3)
    assert math.isnan(tied_ndcg_precision(np.ones(2), np.zeros(2, bool), 3)[0])
    with pytest.raises(ValueError, match="k must be >= 1"):
        tied_ndcg_precision(np.ones(2), np.ones(2, bool), 0)


def _profiles():
    return AspectProfiles(
        aspects=np.array(["s", "c", "p"]), item_ids=np.array(["a", "b"]),
        item_mentions=np.array([[3, 0, 1], [0, 1, 0]], np.int32),
        item_polarity=np.zeros((2, 3), np.float32),
        user_ids=np.array(["u1", "u2"]),
        user_attention=np.array([[0.2, 0.1, 0.7], [0, 0, 0]], np.float32),
        population_attention=np.array([0.6, 0.2, 0.2], np.float32))


def test_rankers_on_known_unknown_and_silent_users(tmp_path):
    frame = pd.DataFrame({"user_id": ["u1", "zz", "u1", "u1", "u1", "u2"],
                          "item_id": ["a", "a", "new", "a", "b", "a"]})
    mentioned = [{"p"}, {"s"}, {"s"}, set(), {"s"}, {"p"}]
    result = evaluate_explanations(_profiles(), frame, mentioned, k=3, seed=0)
    assert result["evaluated"] == 3 and result["known_users"] == 2
    assert result["skipped"] == {"unknown item": 1, "item without aspects": 0,
                                 "review names no aspect": 1,
                                 "review names none of the item's aspects": 1}
    rankers = result["rankers"]
    # u1 ranks p (0.7) over s: right; the unknown user gets the population: s first,
    # right; u2 never wrote about an aspect: s and p tie, half a hit at each position
    assert rankers["attention"]["ndcg"]["mean"] == pytest.approx((1 + 1 + (0.5 + D2 / 2)) / 3)
    assert rankers["item mentions"]["ndcg"]["mean"] == pytest.approx((D2 + 1 + D2) / 3)
    assert rankers["population"]["ndcg"]["mean"] == pytest.approx((D2 + 1 + D2) / 3)
    # u1: 0.2 x 3/4 for s < 0.7 x 1/4 for p; the unknown user: 0.6 x 3/4 > 0.2 x 1/4
    assert rankers["attention x item"]["ndcg"]["mean"] == pytest.approx(
        rankers["attention"]["ndcg"]["mean"])
    for name in rankers:
        assert rankers[name]["precision"]["mean"] == pytest.approx(1 / 3)
    assert result["attention_minus_item_mentions"]["ndcg"]["mean"] == pytest.approx(
        ((1 - D2) + 0 + (0.5 + D2 / 2 - D2)) / 3)
    again = evaluate_explanations(_profiles(), frame, mentioned, k=3, seed=0)
    assert again["rankers"]["random"] == rankers["random"]
    path = save_explanations(result, tmp_path)
    assert "| attention |" in path.read_text() and (tmp_path / "explanations.json").is_file()


def test_no_review_to_evaluate_says_so():
    frame = pd.DataFrame({"user_id": ["u1"], "item_id": ["a"]})
    result = evaluate_explanations(_profiles(), frame, [set()], k=3)
    assert result["evaluated"] == 0 and result["rankers"] == {}
    assert "No test review names an aspect" in explanations_markdown(result)
    with pytest.raises(ValueError, match="mentioned has 2 rows"):
        evaluate_explanations(_profiles(), frame, [set(), set()])
