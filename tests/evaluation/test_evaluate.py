"""Evaluation protocol: exclusions, dropped rows, batching, per-user parts, bad models."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.synthetic import TableModel, synthetic_ratings
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.data.splits import leave_last_out, user_sample_mask
from tfrec_sentiment.evaluation.baselines import MatrixFactorization, UserItemBias
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.evaluation.evaluate import (
    LOWER_IS_BETTER,
    UserMetrics,
    evaluate,
    evaluate_many,
    evaluate_split,
    history_buckets,
)
from tfrec_sentiment.evaluation.protocol import Recommender


def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.fixture()
def tiny():
    """u1 saw a, b (train) and c (validation); u2 saw a. Catalogue a..e."""
    split = SimpleNamespace(
        train=_frame([("u1", "a", 5.0), ("u1", "b", 4.0), ("u2", "a", 3.0)]),
        validation=_frame([("u1", "c", 4.0)]),
        test=_frame([("u1", "d", 4.0), ("u2", "b", 2.0), ("u2", "z", 5.0)]),
    )
    model = TableModel(
        ratings={("u1", "d"): 3.5, ("u2", "b"): 3.0, ("u2", "z"): 4.0},
        scores={"u1": {"a": 5, "b": 4, "c": 3, "d": 2, "e": 2},
                "u2": {"a": 9, "b": 1, "c": 3, "d": 0, "e": 2}})
    return split, model, np.array(list("abcde"))


def _discount(position):
    return 1.0 / math.log2(position + 2)


def test_hand_computed_case(tiny):
    split, model, catalogue = tiny
    result = evaluate_split(model, split, k=3, catalogue=catalogue)
    # Rating rows: (u1, d) error -0.5, (u2, b) error +1; (u2, z) dropped, z not in catalogue.
    assert result.metrics["rmse"] == pytest.approx(math.sqrt((0.25 + 1.0) / 2))
    assert result.metrics["mae"] == pytest.approx(0.75)
    # u1: a, b, c excluded; d ties with e at the top: positions 0 and 1 equally likely.
    # u2: a excluded; ranking c, e, b, d puts b at position 2.
    ndcg_u1 = (_discount(0) + _discount(1)) / 2
    ndcg_u2 = _discount(2)
    assert result.metrics["ndcg@3"] == pytest.approx((ndcg_u1 + ndcg_u2) / 2)
    assert result.metrics["hitrate@3"] == result.metrics["recall@3"] == 1.0
    assert evaluate_split(model, split, k=1, catalogue=catalogue).metrics["hitrate@1"] == \
        pytest.approx((0.5 + 0.0) / 2)
    assert result.counts["dropped_unknown_item"] == 1
    assert result.counts["users"] == 2 and result.counts["test_rows"] == 2


def test_keeping_unknown_items_counts_them_as_misses(tiny):
    split, model, catalogue = tiny
    result = evaluate_split(model, split, k=3, catalogue=catalogue, drop_unknown_items=False)
    assert result.metrics["rmse"] == pytest.approx(math.sqrt((0.25 + 1.0 + 1.0) / 3))
    u2 = list(result.per_user.user_ids).index("u2")
    assert result.per_user.recall[u2] == pytest.approx(0.5)  # b found, z unreachable
    assert result.per_user.ndcg[u2] == pytest.approx(_discount(2) / (_discount(0) + _discount(1)))
    assert result.counts["relevant_outside_catalogue"] == 1


def test_validation_items_are_excluded_only_when_scoring_test(tiny):
    split, model, catalogue = tiny
    # Scored on validation, u1's held-out c is relevant and ranks first among c, d, e.
    result = evaluate_split(model, split, on="validation", k=1, catalogue=catalogue)
    assert result.metrics["hitrate@1"] == 1.0 and result.counts["users"] == 1


def test_an_item_seen_in_training_is_never_relevant():
    train = _frame([("u1", "a", 5.0), ("u1", "b", 4.0)])
    test = _frame([("u1", "a", 4.0)])  # a re-review: rated, but not a recommendation target
    model = TableModel({("u1", "a"): 4.0}, {"u1": {"a": 1.0, "b": 0.0}})
    result = evaluate(model, train, test, k=1)
    assert result.metrics["rmse"] == 0.0
    assert math.isnan(result.metrics["ndcg@1"]) and result.counts["topk_users"] == 0


def test_default_catalogue_is_every_training_item():
    data = synthetic_ratings(users=30, items=20, per_user=6, seed=1)
    split = leave_last_out(data.frame)
    result = evaluate_split(UserItemBias(reg=1.0).fit(split.train), split)
    assert result.counts["catalogue"] == split.train["item_id"].nunique()


def test_batching_does_not_change_results():
    data = synthetic_ratings(users=50, items=30, per_user=8, factors=2, seed=2)
    split = leave_last_out(data.frame)
    model = MatrixFactorization(factors=2, reg=1.0, seed=0).fit(split.train)
    whole = evaluate_split(model, split, k=5)
    batched = evaluate_split(model, split, k=5, max_elements=30 * 3 + 1)  # 3 users a batch
    assert whole.metrics == pytest.approx(batched.metrics)
    np.testing.assert_allclose(whole.per_user.ndcg, batched.per_user.ndcg)


def test_evaluate_many_equals_evaluate_of_each_model():
    data = synthetic_ratings(users=50, items=30, per_user=8, factors=2, seed=2)
    split = leave_last_out(data.frame)
    fitted = []

    def models():  # lazy: each is fitted only when the previous one is scored
        for reg in (0.1, 10.0):
            fitted.append(reg)
            yield MatrixFactorization(factors=2, reg=reg, seed=0).fit(split.train)

    results = evaluate_many(models(), split.train, split.test, seen=(split.validation,), k=5,
                            max_users=40)
    first = next(results)
    assert fitted == [0.1]
    second = next(results)
    for reg, result in ((0.1, first), (10.0, second)):
        alone = evaluate(MatrixFactorization(factors=2, reg=reg, seed=0).fit(split.train),
                         split.train, split.test, seen=(split.validation,), k=5, max_users=40)
        assert result.metrics == pytest.approx(alone.metrics, nan_ok=True)
        assert result.counts == alone.counts and result.slices.keys() == alone.slices.keys()
        np.testing.assert_array_equal(result.per_user.ndcg, alone.per_user.ndcg)
    assert first.metrics["rmse"] != pytest.approx(second.metrics["rmse"])  # two models


def test_a_user_cap_evaluates_the_same_as_the_sampled_users_alone():
    data = synthetic_ratings(users=50, items=30, per_user=8, factors=2, seed=2)
    split = leave_last_out(data.frame)
    unknown = split.test.head(5).assign(item_id="never-in-training")  # dropped, counted
    split = SimpleNamespace(train=split.train, validation=split.validation,
                            test=pd.concat([split.test, unknown], ignore_index=True))
    model = MatrixFactorization(factors=2, reg=1.0, seed=0).fit(split.train)
    capped = evaluate_split(model, split, k=5, config=EvalConfig(max_users=12))
    chosen = user_sample_mask(split.test["user_id"].to_numpy(), 12)
    alone = evaluate_split(model, SimpleNamespace(train=split.train, validation=split.validation,
                                                  test=split.test[chosen]), k=5)
    assert capped.counts["users"] == 12 and capped.counts["users_before_sample"] == 50
    assert capped.metrics == pytest.approx(alone.metrics, nan_ok=True)
    np.testing.assert_array_equal(capped.per_user.user_ids, alone.per_user.user_ids)
    whole = evaluate_split(model, split, k=5, config=EvalConfig(max_users=None))
    assert whole.counts["users"] == whole.counts["users_before_sample"] == 50
    assert capped.counts["dropped_unknown_item"] == whole.counts["dropped_unknown_item"] == 5


def test_per_user_parts_reproduce_the_summary():
    data = synthetic_ratings(users=40, items=25, per_user=6, seed=3)
    split = leave_last_out(data.frame)
    model = UserItemBias(reg=2.0).fit(split.train)
    result = evaluate_split(model, split, k=5)
    rows = split.test[split.test["item_id"].isin(split.train["item_id"])]
    predicted = model.predict_rating(rows["user_id"].to_numpy(), rows["item_id"].to_numpy())
    assert result.metrics["rmse"] == pytest.approx(
        np.sqrt(np.mean((predicted - rows["rating"].to_numpy()) ** 2)))
    per_user = result.per_user
    assert result.metrics["ndcg@5"] == pytest.approx(np.nanmean(per_user.ndcg))
    doubled = UserMetrics.average([per_user, per_user])
    assert doubled.summary() == pytest.approx(per_user.summary())


class _WrongShape:
    def predict_rating(self, user_ids, item_ids):
        return np.zeros(len(user_ids))

    def score_items(self, user_ids, item_ids):
        return np.zeros((len(user_ids), len(item_ids) + 1))


class _NanRating(_WrongShape):
    def predict_rating(self, user_ids, item_ids):
        return np.full(len(user_ids), np.nan)

    def score_items(self, user_ids, item_ids):
        return np.zeros((len(user_ids), len(item_ids)))


@pytest.mark.parametrize("model, message", [
    (_WrongShape(), "_WrongShape.score_items returned shape"),
    (_NanRating(), "_NanRating.predict_rating must return 2 finite values"),
])
def test_a_misbehaving_model_is_named(model, message):
    assert isinstance(model, Recommender)
    train = _frame([("u1", "a", 5.0), ("u1", "b", 4.0), ("u2", "b", 2.0)])
    test = _frame([("u1", "b", 4.0), ("u2", "a", 3.0)])
    with pytest.raises(ValueError, match=message):
        evaluate(model, train, test)


def test_nothing_left_to_evaluate_is_an_error():
    train = _frame([("u1", "a", 5.0)])
    with pytest.raises(ValueError, match="no test rows"):
        evaluate(TableModel({}, {}), train, _frame([("u1", "new", 4.0)]))


# === Liked / disliked protocols and slices, by hand ===

def _ideal(n):
    return sum(_discount(p) for p in range(n))


@pytest.fixture()
def protocols():
    """k = 2. u1 trained on 2 items, u2 on 1, u3 on 5; u4 only fills the catalogue.

    Training reviews per item: a 3, b 2, c, d, e, f, g 1 each.
    u1 (a, b excluded): d 9 | c 5, e 5 (tie) | f 1 | g 0. Held out: c rated 5, d rated 1.
    u2 (a excluded): all six candidates tie at 0. Held out: b rated 2, c rated 5.
    u3 (a-e excluded): f 2 | g 1. Held out: g rated 3.
    """
    split = SimpleNamespace(
        train=_frame([("u1", "a", 5.0), ("u1", "b", 4.0), ("u2", "a", 3.0),
                      ("u3", "a", 4.0), ("u3", "b", 2.0), ("u3", "c", 5.0), ("u3", "d", 4.0),
                      ("u3", "e", 1.0), ("u4", "f", 3.0), ("u4", "g", 3.0)]),
        validation=_frame([]),
        test=_frame([("u1", "c", 5.0), ("u1", "d", 1.0), ("u2", "b", 2.0), ("u2", "c", 5.0),
                     ("u3", "g", 3.0)]),
    )
    model = TableModel(ratings={}, default=3.0, scores={
        "u1": {"d": 9, "c": 5, "e": 5, "f": 1, "g": 0},
        "u2": {},
        "u3": {"f": 2, "g": 1}})
    return split, model


# Per user, by hand (positions are 0-based; a tie group spreads an item evenly).
# u1: d at 0; c in the tie {c, e} at 1-2, so in the top 2 half the time.
U1_ANY = dict(recall=(1 + 0.5) / 2,
              ndcg=(_discount(0) + _discount(1) / 2) / _ideal(2), hit=1.0)
U1_LIKED = dict(recall=0.5, ndcg=_discount(1) / 2)  # c only
U2_ANY = dict(recall=(2 / 6 + 2 / 6) / 2, ndcg=2 * (_ideal(2) / 6) / _ideal(2),
              hit=1 - (4 * 3 / 2) / (6 * 5 / 2))  # P(no hit) = C(4, 2) / C(6, 2)
U2_LIKED = dict(recall=2 / 6, ndcg=_ideal(2) / 6)  # c in a 6-way tie over 2 slots
U3_ANY = dict(recall=1.0, ndcg=_discount(1), hit=1.0)  # g second


def test_liked_and_disliked_by_hand(protocols):
    split, model = protocols
    result = evaluate_split(model, split, k=2)
    m = result.metrics
    assert m["recall@2"] == pytest.approx((U1_ANY["recall"] + U2_ANY["recall"] + 1.0) / 3)
    assert m["ndcg@2"] == pytest.approx((U1_ANY["ndcg"] + U2_ANY["ndcg"] + U3_ANY["ndcg"]) / 3)
    assert m["hitrate@2"] == pytest.approx((1.0 + 0.6 + 1.0) / 3)
    # Liked (>= 4): u1 has c, u2 has c, u3 (a 3-star item) has none and is left out.
    assert m["liked_recall@2"] == pytest.approx((U1_LIKED["recall"] + U2_LIKED["recall"]) / 2)
    assert m["liked_ndcg@2"] == pytest.approx((U1_LIKED["ndcg"] + U2_LIKED["ndcg"]) / 2)
    assert math.isnan(result.per_user.liked_ndcg[2])
    # Disliked (<= 2): u1's d is ranked first (1); u2's b sits in the 6-way tie (2 of 6
    # slots: 1/3); u3 has no disliked item and counts as 0 in Disliked@2 only.
    assert m["disliked@2"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert m["disliked_cond@2"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["rmse"] == pytest.approx(math.sqrt((4 + 4 + 1 + 4 + 0) / 5))  # all predict 3
    assert (result.counts["users"], result.counts["topk_users"], result.counts["liked_users"],
            result.counts["disliked_users"]) == (3, 3, 2, 2)


def test_slices_by_hand(protocols):
    split, model = protocols
    config = EvalConfig(few_reviews_max=1)
    result = evaluate_split(model, split, k=2, config=config)
    slices = result.slice_metrics
    assert list(slices) == ["user_history=1", "user_history=2-4", "user_history=5+",
                            "item_reviews<=1"]
    u2 = slices["user_history=1"]  # u2 alone: no liked-free mean, a disliked item
    assert u2["recall@2"] == pytest.approx(U2_ANY["recall"])
    assert u2["disliked@2"] == u2["disliked_cond@2"] == pytest.approx(1 / 3)
    assert u2["rmse"] == pytest.approx(math.sqrt((1 + 4) / 2))
    u3 = slices["user_history=5+"]  # u3 alone: nothing liked or disliked
    assert u3["disliked@2"] == 0.0 and math.isnan(u3["disliked_cond@2"])
    assert math.isnan(u3["liked_ndcg@2"]) and u3["ndcg@2"] == pytest.approx(U3_ANY["ndcg"])
    assert slices["user_history=2-4"]["ndcg@2"] == pytest.approx(U1_ANY["ndcg"])
    # Items with <= 1 training review: c, d, g (not b, reviewed twice). u2 keeps only c,
    # which is liked; the ranking is the same full-catalogue one.
    rare = slices["item_reviews<=1"]
    assert rare["recall@2"] == pytest.approx((U1_ANY["recall"] + 2 / 6 + 1.0) / 3)
    assert rare["ndcg@2"] == pytest.approx((U1_ANY["ndcg"] + U2_LIKED["ndcg"]
                                            + U3_ANY["ndcg"]) / 3)
    assert rare["liked_ndcg@2"] == pytest.approx((U1_LIKED["ndcg"] + U2_LIKED["ndcg"]) / 2)
    assert rare["disliked@2"] == pytest.approx(1 / 3) and rare["disliked_cond@2"] == 1.0
    assert rare["rmse"] == pytest.approx(math.sqrt((4 + 4 + 4 + 0) / 4))
    assert result.slices["item_reviews<=1"].counts() == {
        "users": 3, "test_rows": 4, "topk_users": 3, "liked_users": 2, "disliked_users": 1}


def test_thresholds_are_configurable(protocols):
    split, model = protocols
    # Liked from 3 stars: u3's g (ranked second) now counts; disliked only at 1 star.
    result = evaluate_split(model, split, k=2,
                            config=EvalConfig(liked_min_rating=3.0, disliked_max_rating=1.0))
    assert result.counts["liked_users"] == 3 and result.counts["disliked_users"] == 1
    assert result.metrics["disliked@2"] == pytest.approx(1 / 3)
    assert result.metrics["liked_ndcg@2"] == pytest.approx(
        (U1_LIKED["ndcg"] + U2_LIKED["ndcg"] + _discount(1)) / 3)


def test_a_user_with_no_training_review_gets_a_zero_bucket():
    train = _frame([("u1", "a", 4.0), ("u1", "b", 5.0)])
    test = _frame([("u1", "c", 5.0), ("new", "a", 4.0)])
    model = TableModel({}, {"new": {"a": 1.0}}, default=0.0)
    result = evaluate(model, pd.concat([train, _frame([("u2", "c", 3.0)])]), test, k=1)
    assert list(result.slices)[:2] == ["user_history=0", "user_history=2-4"]
    assert result.slice_metrics["user_history=0"]["hitrate@1"] == 1.0


def test_bad_thresholds_fail_before_any_work():
    with pytest.raises(ConfigError, match="liked_min_rating"):
        EvalConfig(liked_min_rating=2.0, disliked_max_rating=2.0)
    with pytest.raises(ConfigError, match="history_bounds"):
        EvalConfig(history_bounds=(1, 5, 2))
    with pytest.raises(ValueError, match="liked_min_rating"):
        evaluate(TableModel({}, {}), _frame([("u", "a", 1.0)]), _frame([("u", "a", 1.0)]),
                 liked_min_rating=1.0, disliked_max_rating=3.0)


def test_history_buckets_and_metric_directions():
    assert history_buckets((1, 2, 5)) == [("0", 0, 1), ("1", 1, 2), ("2-4", 2, 5),
                                          ("5+", 5, math.inf)]
    assert [label for label, _, _ in history_buckets((0, 3))] == ["0-2", "3+"]
    assert "disliked@10" in LOWER_IS_BETTER and "disliked_cond@5" in LOWER_IS_BETTER
    assert "rmse" in LOWER_IS_BETTER and "liked_ndcg@10" not in LOWER_IS_BETTER


def test_ranking_only_skips_the_rating_model(protocols):
    split, model = protocols
    full = evaluate_split(model, split, k=2)
    ranking_only = evaluate(model, split.train, split.test, k=2, ratings=False)
    assert math.isnan(ranking_only.metrics["rmse"])
    assert ranking_only.metrics["ndcg@2"] == full.metrics["ndcg@2"]
