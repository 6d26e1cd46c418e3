"""The untrained model's biases are the bias baseline: one ridge function for both."""

from __future__ import annotations

import numpy as np

from tests.recsys.trained_fixture import synthetic_split, tiny_config
from tfrec_sentiment.evaluation.baselines import UserItemBias
from tfrec_sentiment.features.biases import ridge_biases
from tfrec_sentiment.recsys.bias_init import closed_form_biases, initialize_biases
from tfrec_sentiment.recsys.build import build_model
from tfrec_sentiment.recsys.trained import build_model_variables

REG = 3.0


def test_ridge_biases_solve_the_ridge_normal_equations():
    rng = np.random.default_rng(0)
    user, item = rng.integers(0, 30, 400), rng.integers(0, 12, 400)
    residual = rng.normal(0.0, 1.0, 400) + 0.3 * (item % 3)
    user_bias, item_bias = ridge_biases(user, item, residual, 31, 12, REG, tol=1e-12)
    error = residual - user_bias[user] - item_bias[item]
    # d/db_i: sum over the item's ratings of the error = reg * b_i (the same for users).
    np.testing.assert_allclose(np.bincount(item, error, 12), REG * item_bias, atol=1e-9)
    np.testing.assert_allclose(np.bincount(user, error, 31), REG * user_bias, atol=1e-9)
    assert user_bias[30] == 0.0  # a user without ratings keeps no bias


def test_model_bias_init_agrees_with_the_bias_baseline():
    data = synthetic_split()
    tables = data.tables
    baseline = UserItemBias(reg=REG).fit(data.split.train)
    user_bias, item_bias = closed_form_biases(tables, REG)

    assert np.isclose(baseline.mean_, tables.global_mean)
    np.testing.assert_allclose(
        user_bias, baseline.user_bias_.reindex(tables.ids["user"]).to_numpy(), atol=1e-5)
    np.testing.assert_allclose(
        item_bias, baseline.item_bias_.reindex(tables.ids["item"]).to_numpy(), atol=1e-5)

    # And in the model itself: the towers' known id rows hold those biases.
    config = tiny_config()
    model = build_model(config, tables)
    build_model_variables(model, tables, config)
    initialize_biases(model, tables, REG)
    for tower, expected in ((model.user_tower, user_bias), (model.item_tower, item_bias)):
        rows = tower.id_bias.embeddings.numpy()[tower.num_oov_buckets:, 0]
        np.testing.assert_allclose(rows, expected, atol=1e-6)
