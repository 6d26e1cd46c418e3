"""Evaluation protocol: exclusions, dropped rows, batching, per-user parts, bad models."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.synthetic import TableModel, synthetic_ratings
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.baselines import MatrixFactorization, UserItemBias
from tfrec_sentiment.evaluation.evaluate import UserMetrics, evaluate, evaluate_split
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
