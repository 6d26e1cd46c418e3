"""The guardrail's arithmetic and the rank-function adapter."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.guardrail import RankRecommender, judge
from tfrec_sentiment.pipeline.update import decide


def test_judge_uses_a_relative_tolerance_in_each_metrics_direction():
    published = {"rmse": 1.0, "ndcg@10": 0.20}
    checks = judge({"rmse": 1.019, "ndcg@10": 0.197}, published, ["rmse", "ndcg@10"], 0.02)
    assert [c.passed for c in checks] == [True, True]
    assert checks[0].limit == pytest.approx(1.02) and checks[1].limit == pytest.approx(0.196)
    checks = judge({"rmse": 1.021, "ndcg@10": 0.195}, published, ["rmse", "ndcg@10"], 0.02)
    assert [c.passed for c in checks] == [False, False]
    assert [c.passed for c in judge({"rmse": 1.0}, {"rmse": 1.0}, ["rmse"], 0.0)] == [True]


def _evaluation(candidate, published, version=3, rows=40, users=12):
    return {"published_version": version, "candidate": candidate, "published": published,
            "counts": {"test_rows": rows, "users": users}}


def test_too_little_evidence_refuses_unless_forced():
    better = ({"rmse": 0.9, "ndcg@10": 0.3}, {"rmse": 1.0, "ndcg@10": 0.2})
    config = UpdateConfig(min_eval_rows=20, min_eval_users=5)
    # The tiny_sparse / tiny_feedback case: 1 evaluated row of 1 user.
    one = decide(_evaluation(*better, rows=1, users=1), config)
    assert not one.publish and not one.forced
    assert one.reason.startswith("too little evidence: the evaluation slice has 1 row and "
                                 "1 user, the guardrail needs at least 20 rows and 5 users")
    assert one.evidence == {"rows": 1, "users": 1, "min_rows": 20, "min_users": 5,
                            "enough": False}
    assert [c.passed for c in one.checks] == [True, True]  # measured, but not enough
    # Each minimum counts on its own; exactly the minimum is enough.
    assert not decide(_evaluation(*better, rows=40, users=4), config).publish
    assert not decide(_evaluation(*better, rows=19, users=12), config).publish
    enough = decide(_evaluation(*better, rows=20, users=5), config)
    assert enough.publish and enough.evidence["enough"]
    forced = decide(_evaluation(*better, rows=1, users=1),
                    UpdateConfig(min_eval_rows=20, min_eval_users=5, force=True))
    assert forced.publish and forced.forced
    assert forced.reason.startswith("forced (the guardrail alone would refuse: too little")
    # With nothing published there is nothing to guard: the first version needs no minimum.
    assert decide(_evaluation(better[0], None, version=None, rows=1, users=1), config).publish


@pytest.mark.parametrize("field, value, why", [
    ("min_eval_rows", 0, "must be >= 1"), ("min_eval_users", -1, "must be >= 1"),
    ("min_eval_rows", 2.5, "expected int"), ("min_eval_users", True, "expected int")])
def test_evidence_minimums_are_validated(field, value, why):
    with pytest.raises(ValueError, match=f"^{field}={value}: {why}"):
        UpdateConfig(**{field: value})
    with pytest.raises(ValueError, match="^min_eval_users=30: cannot exceed min_eval_rows=20"):
        UpdateConfig(min_eval_rows=20, min_eval_users=30)


def _toy_rank(users: tf.Tensor, items: tf.Tensor) -> dict:
    u = tf.strings.to_number(tf.strings.substr(users, 1, 1))
    i = tf.strings.to_number(tf.strings.substr(items, 1, 1))
    return {"predicted_rating": 1.0 + u, "score": u * i}


def test_rank_recommender_scores_every_pair_in_chunks():
    model = RankRecommender(_toy_rank, pairs_per_call=3)
    users, items = np.array(["u1", "u2"]), np.array(["i1", "i2", "i3"])
    np.testing.assert_allclose(model.score_items(users, items), [[1, 2, 3], [2, 4, 6]])
    np.testing.assert_allclose(model.predict_rating(users, np.array(["i9", "i1"])), [2, 3])
    rating = RankRecommender(_toy_rank, score_mode="rating").score_items(users, items)
    np.testing.assert_allclose(rating, [[2, 2, 2], [3, 3, 3]])
    blend = RankRecommender(_toy_rank, score_mode="blend").score_items(users, items)
    np.testing.assert_allclose(blend, [[-1.2247449, 0, 1.2247449]] * 2, atol=1e-5)
