"""Baselines: hand cases, recovery of known parameters, fallbacks, regularisation choice."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.synthetic import synthetic_ratings
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.evaluation.baselines import (
    GlobalMean,
    ItemKNN,
    ItemMean,
    MatrixFactorization,
    Popularity,
    UserItemBias,
    baseline_variants,
)
from tfrec_sentiment.evaluation.metrics import rmse
from tfrec_sentiment.evaluation.protocol import FittableRecommender

TRAIN = pd.DataFrame({
    "user_id": ["a", "a", "b", "b", "c"],
    "item_id": ["x", "y", "x", "z", "x"],
    "rating": [5.0, 2.0, 4.0, 1.0, 3.0],
})
MEAN = 3.0


def _ids(*values):
    return np.array(values, dtype=str)


def _test_rmse(model, split):
    rows = split.test
    return rmse(model.predict_rating(rows["user_id"].to_numpy(), rows["item_id"].to_numpy()),
                rows["rating"].to_numpy())


@pytest.mark.parametrize("model", [GlobalMean(), ItemMean(), Popularity(),
                                   UserItemBias(reg=1.0), MatrixFactorization(reg=1.0),
                                   ItemKNN(shrinkage=1.0, popularity_weight=0.1, bias_reg=1.0)])
def test_every_baseline_follows_the_protocol(model):
    fitted = model.fit(TRAIN)
    assert fitted is model and isinstance(model, FittableRecommender)
    users, items = _ids("a", "new"), _ids("x", "y", "z", "unknown")
    assert model.predict_rating(users, _ids("x", "nope")).shape == (2,)
    scores = model.score_items(users, items)
    assert scores.shape == (2, 4) and np.isfinite(scores).all()


def test_global_mean_and_popularity_by_hand():
    assert GlobalMean().fit(TRAIN).predict_rating(_ids("a"), _ids("q")).tolist() == [MEAN]
    popularity = Popularity().fit(TRAIN)
    assert popularity.score_items(_ids("a"), _ids("z", "x", "new", "y")).tolist() == \
        [[1.0, 3.0, 0.0, 1.0]]
    assert popularity.predict_rating(_ids("a", "b"), _ids("x", "y")).tolist() == [MEAN, MEAN]


def test_item_mean_with_and_without_shrinkage():
    plain = ItemMean().fit(TRAIN)
    assert plain.predict_rating(_ids("a", "a", "a"), _ids("x", "z", "new")).tolist() == \
        pytest.approx([4.0, 1.0, MEAN])
    shrunk = ItemMean(shrinkage=2.0).fit(TRAIN)
    # x: (5 + 4 + 3 + 2 * 3) / (3 + 2); z: (1 + 2 * 3) / (1 + 2).
    assert shrunk.predict_rating(_ids("a", "a"), _ids("x", "z")).tolist() == \
        pytest.approx([18 / 5, 7 / 3])


def test_bias_model_recovers_known_biases():
    data = synthetic_ratings(users=150, items=40, per_user=20, noise=0.05, seed=0)
    model = UserItemBias(reg=0.01).fit(data.frame)
    users = data.user_bias.index.to_numpy()
    items = data.item_bias.index.to_numpy()
    truth = data.mean + data.user_bias.to_numpy()[:, None] + data.item_bias.to_numpy()[None, :]
    # mu + b_u + b_i is identifiable (a shift between b_u and b_i is not): compare sums.
    error = np.abs(model.score_items(users, items) - truth)
    assert error.mean() < 0.02 and error.max() < 0.1  # noise 0.05; rare items err more
    centred = model.item_bias_[items] - model.item_bias_[items].mean()
    np.testing.assert_allclose(centred, data.item_bias - data.item_bias.mean(), atol=0.06)


def test_bias_model_satisfies_its_ridge_equations():
    data = synthetic_ratings(users=60, items=20, per_user=8, noise=0.5, seed=1)
    reg = 3.0
    model = UserItemBias(reg=reg, tol=1e-12).fit(data.frame)
    frame = data.frame
    residual = frame["rating"].to_numpy() - model.predict_rating(frame["user_id"].to_numpy(),
                                                                 frame["item_id"].to_numpy())
    # At the optimum: sum of an item's residuals = reg * b_i (same for users).
    by_item = pd.Series(residual).groupby(frame["item_id"].to_numpy()).sum()
    by_user = pd.Series(residual).groupby(frame["user_id"].to_numpy()).sum()
    np.testing.assert_allclose(by_item, reg * model.item_bias_[by_item.index], atol=1e-8)
    np.testing.assert_allclose(by_user, reg * model.user_bias_[by_user.index], atol=1e-8)


def test_bias_model_fallbacks_for_unknown_ids():
    model = UserItemBias(reg=1.0).fit(TRAIN)
    mean, b_user, b_item = model.mean_, model.user_bias_["a"], model.item_bias_["x"]
    predicted = model.predict_rating(_ids("a", "new", "new"), _ids("new", "x", "new"))
    assert predicted.tolist() == pytest.approx([mean + b_user, mean + b_item, mean])


def test_regularisation_is_chosen_on_validation():
    # Few noisy ratings per item: strong shrinkage must win; noiseless: the weakest.
    noisy = synthetic_ratings(users=80, items=60, per_user=6, noise=1.5, bias_scale=0.1, seed=2)
    clean = synthetic_ratings(users=80, items=30, per_user=10, noise=0.0, seed=3)
    grid = (0.01, 1.0, 30.0)
    noisy_split, clean_split = leave_last_out(noisy.frame), leave_last_out(clean.frame)
    assert UserItemBias(reg_grid=grid).fit(noisy_split.train, noisy_split.validation).reg_ == 30.0
    chosen = UserItemBias(reg_grid=grid).fit(clean_split.train, clean_split.validation)
    assert chosen.reg_ == 0.01
    assert min(chosen.validation_rmse_, key=chosen.validation_rmse_.get) == chosen.reg_
    # Without a validation frame, each user's last training review is held out instead.
    assert UserItemBias(reg_grid=grid).fit(clean_split.train).reg_ == 0.01


def test_matrix_factorisation_learns_low_rank_structure():
    data = synthetic_ratings(users=200, items=50, per_user=25, factors=3, noise=0.1, seed=4)
    split = leave_last_out(data.frame)
    bias = UserItemBias(reg=1.0).fit(split.train)
    factorised = MatrixFactorization(factors=3, reg=1.0, sweeps=20, seed=0).fit(split.train)
    assert _test_rmse(factorised, split) < 0.5 * _test_rmse(bias, split)
    assert _test_rmse(factorised, split) < 0.35


def test_matrix_factorisation_is_deterministic_per_seed():
    data = synthetic_ratings(users=40, items=20, per_user=8, factors=2, seed=5)
    users, items = data.user_bias.index.to_numpy(), data.item_bias.index.to_numpy()

    def scores(seed):
        model = MatrixFactorization(factors=2, reg=0.5, sweeps=3, seed=seed).fit(data.frame)
        return model.score_items(users, items)

    np.testing.assert_array_equal(scores(0), scores(0))
    assert not np.allclose(scores(0), scores(1))


def test_fit_names_missing_columns():
    with pytest.raises(ValueError, match=r"UserItemBias.fit: .*\['rating'\]"):
        UserItemBias().fit(TRAIN.drop(columns="rating"))


def test_baseline_variants_cover_the_issue_list():
    data = synthetic_ratings(users=30, items=15, per_user=6, seed=6)
    split = leave_last_out(data.frame)
    variants = baseline_variants(split, mf_factors=4)
    assert list(variants) == ["global mean", "item mean", "popularity", "user + item bias",
                              "MF (k=4)", "item-kNN"]
    assert [v.deterministic for v in variants.values()] == [True, True, True, True, False, True]
    mf = variants["MF (k=4)"].train(0)
    assert mf.factors == 4 and mf.reg_ in mf.reg_grid
    no_validation = SimpleNamespace(train=split.train, validation=split.validation.iloc[:0],
                                    test=split.test)
    assert baseline_variants(no_validation)["user + item bias"].train(0).reg_ > 0
    with pytest.warns(UserWarning, match="item-kNN left out"):
        capped = baseline_variants(split, knn_max_items=split.train["item_id"].nunique() - 1)
    assert "item-kNN" not in capped and "popularity" in capped


def test_item_knn_by_hand():
    # Co-reviews: x-y by a, x-z by b; reviewers: x 3, y 1, z 1.
    model = ItemKNN(shrinkage=1.0, popularity_weight=0.5, bias_reg=1.0).fit(TRAIN)
    sim_xy = sim_xz = 1 / (np.sqrt(3 * 1) + 1.0)
    prior = 0.5 * np.log1p(np.array([3.0, 1.0, 1.0]))  # x, y, z
    scores = model.score_items(_ids("c", "a", "new"), _ids("x", "y", "z", "unknown"))
    np.testing.assert_allclose(scores, [
        [0.0 + prior[0], sim_xy + prior[1], sim_xz + prior[2], 0.0],  # c reviewed x
        [sim_xy + prior[0], sim_xy + prior[1], sim_xz + prior[2], 0.0],  # a: x and y
        [prior[0], prior[1], prior[2], 0.0],  # an unknown user: the prior alone
    ], atol=1e-6)
    # Rating: the bias model plus c's residual on x, weighted by sim(x, z).
    bias = UserItemBias(reg=1.0).fit(TRAIN)
    residual = 3.0 - bias.predict_rating(_ids("c"), _ids("x"))[0]
    expected = bias.predict_rating(_ids("c"), _ids("z"))[0] + sim_xz * residual / (sim_xz + 1)
    assert model.predict_rating(_ids("c"), _ids("z"))[0] == pytest.approx(expected)
    assert model.predict_rating(_ids("new"), _ids("y"))[0] == pytest.approx(
        bias.predict_rating(_ids("new"), _ids("y"))[0])


def test_item_knn_finds_co_reviewed_items_and_chooses_its_settings_on_validation():
    # Two communities of items; each user reviews within one: the neighbours of the
    # user's items, not the globally popular ones, hold the held-out item.
    rng = np.random.default_rng(7)
    rows = []
    for u in range(120):
        group = u % 2
        items = rng.choice(np.arange(10) + 10 * group, size=5, replace=False)
        rows += [(f"u{u}", f"i{i}", 4.0, 1000 * u + t) for t, i in enumerate(items)]
    rows += [(f"p{u}", "i0", 5.0, 10 ** 7 + u) for u in range(30)]  # i0: popular
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    split = leave_last_out(frame.assign(text=[f"t{n}" for n in range(len(frame))]))
    model = ItemKNN(shrinkage_grid=(1.0,), popularity_grid=(0.0, 10.0)).fit(
        split.train, split.validation)
    assert model.popularity_weight_ == 0.0  # the popularity-only ranking loses
    refit = ItemKNN(shrinkage=1.0, popularity_weight=10.0, bias_reg=1.0).fit(split.train)
    items = model.items_.index.to_numpy()
    np.testing.assert_allclose(  # the grid's cheap re-weighting = a fit with that weight
        model.with_popularity_weight(10.0).score_items(_ids("u0", "u1"), items),
        refit.score_items(_ids("u0", "u1"), items), rtol=1e-6)
    assert model.validation_ndcg_[(1.0, 0.0)] > model.validation_ndcg_[(1.0, 10.0)]
    user = split.test["user_id"].iloc[0]
    group = int(user[1:]) % 2
    scores = model.score_items(_ids(user), model.items_.index.to_numpy())[0]
    in_group = np.array([int(i[1:]) // 10 == group for i in model.items_.index])
    assert scores[in_group].mean() > scores[~in_group].mean()


@pytest.mark.parametrize("given_validation", [True, False])
def test_item_knn_grid_scores_each_setting_as_a_fit_with_it(given_validation):
    from tfrec_sentiment.evaluation.baselines.common import hold_out_last
    from tfrec_sentiment.evaluation.evaluate import evaluate

    split = leave_last_out(synthetic_ratings(users=60, items=25, per_user=6, seed=4).frame)
    grid = {"shrinkage_grid": (0.0, 5.0), "popularity_grid": (0.0, 0.3)}
    validation = split.validation if given_validation else None
    model = ItemKNN(**grid, max_users=40).fit(split.train, validation)
    fit_rows, check_rows = ((split.train, split.validation) if given_validation
                            else hold_out_last(split.train))
    expected = {(s, w): evaluate(ItemKNN(s, w, bias_reg=1.0).fit(fit_rows), fit_rows,
                                 check_rows, ratings=False, max_users=40).metrics["ndcg@10"]
                for s in grid["shrinkage_grid"] for w in grid["popularity_grid"]}
    assert model.validation_ndcg_ == pytest.approx(expected, rel=1e-12)
    assert len(set(expected.values())) > 1  # the settings rank differently
    assert (model.shrinkage_, model.popularity_weight_) == max(expected, key=expected.get)
    # The chosen model is the fit with the chosen settings, on all of train.
    chosen = ItemKNN(model.shrinkage_, model.popularity_weight_).fit(split.train)
    users, items = _ids("u1", "u2", "nobody"), chosen.items_.index.to_numpy()
    np.testing.assert_array_equal(model.score_items(users, items),
                                  chosen.score_items(users, items))
    np.testing.assert_array_equal(model.predict_rating(users, items[:3]),
                                  chosen.predict_rating(users, items[:3]))


def test_item_knn_grid_reuses_its_products_with_the_same_choice(monkeypatch):
    from tfrec_sentiment.evaluation.baselines import knn

    split = leave_last_out(synthetic_ratings(users=60, items=25, per_user=6, seed=3).frame)
    kept = ItemKNN(shrinkage_grid=(0.0, 5.0), popularity_grid=(0.0, 0.1, 1.0)).fit(
        split.train, split.validation)
    monkeypatch.setattr(knn, "GRID_CACHE_BYTES", 0)  # nothing kept: every product anew
    fresh = ItemKNN(shrinkage_grid=(0.0, 5.0), popularity_grid=(0.0, 0.1, 1.0)).fit(
        split.train, split.validation)
    assert kept.validation_ndcg_ == fresh.validation_ndcg_  # the same grid, exactly
    # A kept product serves the next call: the same scores, the catalogue in order and not.
    model = kept.with_popularity_weight(0.1)
    model._products = knn._ProductCache(2**20)
    users, items = _ids("u1", "u2", "nobody"), kept.items_.index.to_numpy()
    first = model.score_items(users, items)
    assert len(model._products.products) == 1
    np.testing.assert_array_equal(model.score_items(users, items), first)
    np.testing.assert_array_equal(  # other users are not served the kept product
        model.score_items(_ids("u3"), items),
        kept.with_popularity_weight(0.1).score_items(_ids("u3"), items))
    assert len(model._products.products) == 2
    subset = np.append(items[::-3], "unknown")
    np.testing.assert_allclose(model.score_items(users, subset),
                               np.c_[first[:, ::-3], np.zeros(3)], rtol=1e-12)


def test_id_table_codes_its_own_ids_in_order_and_any_other_list_by_lookup():
    from tfrec_sentiment.evaluation.baselines.common import IdTable

    table = IdTable(np.array(["b", "a", "c", "a"]))
    np.testing.assert_array_equal(table.codes(table.ids), [0, 1, 2])  # the catalogue
    np.testing.assert_array_equal(table.codes(["a", "b", "c"]), [0, 1, 2])  # a list too
    np.testing.assert_array_equal(table.codes(np.array(["c", "a", "b"])), [2, 0, 1])
    np.testing.assert_array_equal(table.codes(np.array(["a", "z", "c"])), [0, 3, 2])
