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


def _evaluation(candidate, published, version=3):
    return {"published_version": version, "candidate": candidate, "published": published}


def test_decide_refuses_worse_publishes_better_and_force_overrides():
    config = UpdateConfig()
    better = decide(_evaluation({"rmse": 0.9, "ndcg@10": 0.3}, {"rmse": 1.0, "ndcg@10": 0.2}),
                    config)
    assert better.publish and better.compared_version == 3
    worse = decide(_evaluation({"rmse": 1.1, "ndcg@10": 0.3}, {"rmse": 1.0, "ndcg@10": 0.2}),
                   config)
    assert not worse.publish and "rmse" in worse.reason and "ndcg" not in worse.reason
    forced = decide(_evaluation({"rmse": 1.1, "ndcg@10": 0.3}, {"rmse": 1.0, "ndcg@10": 0.2}),
                    UpdateConfig(force=True))
    assert forced.publish and forced.forced and "rmse" in forced.reason
    first = decide(_evaluation({"rmse": 1.1, "ndcg@10": 0.3}, None, version=None), config)
    assert first.publish and first.checks == []
    empty = decide(_evaluation(None, None), config)
    assert not empty.publish and "empty" in empty.reason


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
