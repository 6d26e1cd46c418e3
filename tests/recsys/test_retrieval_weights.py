"""Per-example weights of the retrieval loss (`recsys.retrieval_sample_weight`)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.recsys.test_model import NO_RIDGE, _batch, _model
from tests.recsys.trained_fixture import tiny_config
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.recsys.model import retrieval_example_weights


def test_weights_rise_linearly_from_the_floor_at_one_star_to_one_at_five():
    rating = tf.constant([1.0, 2.0, 3.0, 5.0, 0.0, 7.0])
    weights = retrieval_example_weights(rating, "rating", floor=0.2).numpy()
    # 0.2 + 0.8 * (r - 1) / 4, ratings outside [1, 5] clipped
    np.testing.assert_allclose(weights, [0.2, 0.4, 0.6, 1.0, 0.2, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(retrieval_example_weights(rating, "none").numpy(), 1.0)
    with pytest.raises(ValueError, match="retrieval_sample_weight"):
        retrieval_example_weights(rating, "stars")
    with pytest.raises(ConfigError, match="retrieval_sample_weight"):
        tiny_config(retrieval_sample_weight="stars")
    with pytest.raises(ConfigError, match="retrieval_weight_floor"):
        tiny_config(retrieval_weight_floor=1.5)


def test_rating_weights_scale_each_examples_retrieval_loss():
    settings = dict(rating_weight=0.0, retrieval_weight=1.0, temperature=0.5, **NO_RIDGE)
    plain_config = tiny_config(**settings)
    batch, tables = _batch(plain_config)
    reference = _model(plain_config, tables)
    model = _model(tiny_config(retrieval_sample_weight="rating", retrieval_weight_floor=0.25,
                               **settings), tables)
    model.set_weights(reference.get_weights())
    unweighted = float(reference.compute_loss(batch))
    assert unweighted > 0
    ones = tf.ones_like(batch["rating"])
    # Every example at 5 stars weighs 1: the unweighted loss.
    five = float(model.compute_loss({**batch, "rating": 5.0 * ones}))
    np.testing.assert_allclose(five, unweighted, rtol=1e-5)
    # Every example at 1 star weighs the floor.
    one = float(model.compute_loss({**batch, "rating": ones}))
    np.testing.assert_allclose(one, 0.25 * unweighted, rtol=1e-5)
    # Even rows at 1 star and odd rows at 5 give 0.25 a + b (a, b: the even / odd rows'
    # share of the unweighted loss); the reverse gives a + 0.25 b; together 1.25 (a + b).
    even = (np.arange(len(ones)) % 2 == 0)
    mixed = [float(model.compute_loss({**batch, "rating": tf.constant(
        np.where(mask, 1.0, 5.0).astype(np.float32))})) for mask in (even, ~even)]
    np.testing.assert_allclose(sum(mixed), 1.25 * unweighted, rtol=1e-5)
    assert all(0.25 * unweighted < m < unweighted for m in mixed)
