"""The learned score: the fit on validation, its leakage rule, and the served blend."""

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.recsys.trained_fixture import synthetic_split, trained_full
from tfrec_sentiment.data.splits import tie_break_keys, user_hash_share
from tfrec_sentiment.evaluation.evaluate import evaluate
from tfrec_sentiment.recsys import scoring
from tfrec_sentiment.recsys.blend import (
    BlendWeights,
    ValidationSet,
    candidate_columns,
    choose_point,
    fit_blend,
    fit_pooled,
    grid_objectives,
    objective_by_user,
    simplex_grid,
    standardize_rows,
)
from tfrec_sentiment.recsys.blend_cross_fit import cross_fit_procedure
from tfrec_sentiment.recsys.trained import TrainedRecommender


def test_simplex_grid_holds_the_corners_first_component_first():
    grid = simplex_grid(3, steps=2)
    assert grid.tolist()[0] == [1.0, 0.0, 0.0]
    assert len(grid) == 6 and np.allclose(grid.sum(1), 1.0) and (grid >= 0).all()
    for corner in np.eye(3):
        assert any(np.array_equal(row, corner) for row in grid)


def test_standardize_rows_by_hand():
    z = standardize_rows(np.array([[1.0, 3.0], [2.0, 2.0]]))
    np.testing.assert_allclose(z, [[-1.0, 1.0], [0.0, 0.0]], atol=1e-6)


def _toy():
    """4 items; users a, b (1 training review), c (3 reviews); validation held out."""
    train = pd.DataFrame({"user_id": ["a", "b", "c", "c", "c", "d"],
                          "item_id": ["i0", "i0", "i0", "i1", "i2", "i3"],
                          "rating": [5.0] * 6})
    validation = pd.DataFrame({"user_id": ["a", "b", "c", "c"],
                               "item_id": ["i3", "i1", "i3", "i0"],  # c-i0 is not fresh
                               "rating": [5.0, 2.0, 4.0, 5.0]})
    return train, validation


def test_validation_set_by_hand():
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    assert data.users.tolist() == ["a", "b", "c"]
    assert data.history.tolist() == [1, 1, 3]
    assert data.any_pairs.tolist() == [[0, 3], [1, 1], [2, 3]]
    assert data.liked_pairs.tolist() == [[0, 3], [2, 3]]  # b rated i1 2 stars
    assert sorted(data.excluded.tolist()) == [[0, 0], [1, 0], [2, 0], [2, 1], [2, 2]]


def test_validation_set_sample_is_fixed_by_the_ids_and_keeps_each_users_pairs():
    train, validation = _toy()
    catalogue = np.array(["i0", "i1", "i2", "i3"])
    data = ValidationSet.build(train, validation, catalogue, 4.0)
    assert data.sample(3) is data  # no more users than asked: all kept
    two = data.sample(2)
    expected = sorted(data.users, key=lambda u: user_hash_share(np.array([u]))[0])[:2]
    assert sorted(two.users.tolist()) == sorted(expected)
    # The same users from shuffled frames, with the same pairs (renumbered).
    shuffled = ValidationSet.build(train.iloc[::-1], validation.iloc[::-1], catalogue, 4.0)
    assert shuffled.sample(2).users.tolist() == two.users.tolist()
    for row, user in enumerate(two.users):
        old = int(np.flatnonzero(data.users == user)[0])
        for name in ("any_pairs", "liked_pairs", "excluded"):
            before, after = getattr(data, name), getattr(two, name)
            assert (sorted(before[before[:, 0] == old][:, 1].tolist())
                    == sorted(after[after[:, 0] == row][:, 1].tolist()))
    assert len(two.any_pairs) == sum(int((data.any_pairs[:, 0] == int(
        np.flatnonzero(data.users == u)[0])).sum()) for u in two.users)


def test_candidate_columns_leave_every_grid_points_objective_unchanged():
    rng = np.random.default_rng(7)
    n_users, n_items, k = 40, 60, 5
    base = rng.normal(size=(n_users, n_items))
    components = {"retrieval": base + 0.3 * rng.normal(size=base.shape),
                  "rating": np.round(base + rng.normal(size=base.shape)),  # ties
                  "popularity": np.tile(rng.integers(0, 4, n_items).astype(float),
                                        (n_users, 1))}
    excluded = np.argwhere(rng.random((n_users, n_items)) < 0.1)
    excluded = excluded[excluded[:, 0] != 3]  # user 3 keeps all; user 5 keeps fewer than k
    excluded = np.concatenate([excluded, [[5, i] for i in range(n_items - 3)]])
    excluded = np.unique(excluded, axis=0)
    fresh = np.argwhere(rng.random((n_users, n_items)) < 0.08)
    fresh = fresh[~(fresh[:, None, :] == excluded[None]).all(-1).any(-1)]
    data = ValidationSet(users=np.arange(n_users).astype(str), history=np.ones(n_users, int),
                         excluded=excluded, any_pairs=fresh, liked_pairs=fresh[::2])
    z = {name: standardize_rows(v) for name, v in components.items()}
    pruned, renumbered, _ = candidate_columns(z, data, k)
    width = next(iter(pruned.values())).shape[1]
    ranked = n_users * width - len(renumbered.excluded)  # scored cells, without padding
    assert ranked < n_users * n_items - len(excluded)  # some cells were dropped
    grid, per_user = grid_objectives(components, data, k, steps=4)
    for w, got in zip(grid, per_user):
        full = sum(w[c] * z[n] for c, n in enumerate(z))
        np.testing.assert_array_equal(got, objective_by_user(full, data, k))


def test_fit_picks_each_buckets_best_signal():
    """Bucket "1" (a, b) is ranked right by popularity, bucket "2+" (c) by retrieval."""
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    retrieval = np.array([[0, 3, 2, 1], [0, 1, 3, 2], [0, 0, 0, 1.0]])  # right for c only
    popularity = np.array([[0, 1, 0, 3.0], [0, 3, 0, 1], [0, 3, 2, 0]])  # right for a, b
    blend = fit_blend({"retrieval": retrieval, "popularity": popularity}, data, (1, 2),
                      k=1, steps=4, min_users=1, rule="best")
    assert blend.labels == ["0", "1", "2+"]
    # Bucket "1": the first grid point (by descending retrieval weight) ranking a's i3
    # and b's i1 first. By hand, after standardising a's rows: at (0.5, 0.5) i1 scores
    # 0.5 * 1.342 + 0.5 * 0 = 0.671 > i3's 0.5 * -0.447 + 0.5 * 1.633 = 0.593 (wrong);
    # at (0.25, 0.75) i3 scores 1.113 > i1's 0.335 (and b's i1 1.113 > i2's -0.277).
    assert blend.weights[1:].tolist() == [[0.25, 0.75], [1.0, 0.0]]
    # Bucket "0" has no validation user: the pooled fit, the first grid point ranking all
    # three right (3 * 1 + 1 * 3 > 3 * 0 + 1 * 1 for c's i3 over i1 after standardising).
    assert blend.report["0"]["source"] == "pooled"
    assert blend.weights[0].tolist() == blend.report["all"]["weights"] == [0.25, 0.75]
    assert blend.report["all"]["objective"] == blend.report["all"]["blended"] == 1.0
    assert blend.report["1"] == {"users": 2, "source": "fitted", "objective": 1.0,
                                 "only_retrieval": 0.0, "only_popularity": 1.0}
    assert blend.report["2+"]["only_retrieval"] == 1.0
    # The objective is the evaluation's: mean of any and liked NDCG@1 per user.
    scores = blend.apply({"retrieval": retrieval, "popularity": popularity}, data.history)
    assert objective_by_user(scores, data, k=1).tolist() == [1.0, 1.0, 1.0]


def test_one_se_rule_keeps_the_simpler_point_within_one_standard_error():
    signals = np.array([2, 1, 1])  # a blend, then two single signals
    blend = [0.5, 0.5, 0.5, 0.5]
    # Second point: mean 0.4; paired differences to the best [0.1, -0.3, 0.1, -0.3] have
    # mean -0.1 and SE sqrt(4 * 0.2 ** 2 / 3) / 2 = 0.1155 > 0.1: within, and simpler.
    noisy = np.array([blend, [0.6, 0.2, 0.6, 0.2], [0.1] * 4])
    assert choose_point(noisy, signals, "best") == 0
    assert choose_point(noisy, signals, "one_se") == 1
    # A constant gap of 0.2 has SE 0: the blend is better beyond one SE and stays.
    steady = np.array([blend, [0.3] * 4, [0.1] * 4])
    assert choose_point(steady, signals, "one_se") == 0
    # Two single signals both within: the higher mean of the simplest ones.
    both = np.array([blend, [0.6, 0.2, 0.6, 0.2], [0.6, 0.3, 0.6, 0.3]])
    assert choose_point(both, signals, "one_se") == 2
    with pytest.raises(ValueError, match="rule"):
        fit_blend({"retrieval": np.zeros((1, 2))}, None, (1,), rule="median")


def test_small_buckets_take_the_pooled_weights():
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    retrieval = np.array([[0, 3, 2, 1], [0, 1, 3, 2], [0, 0, 0, 1.0]])
    popularity = np.array([[0, 1, 0, 3.0], [0, 3, 0, 1], [0, 3, 2, 0]])
    blend = fit_blend({"retrieval": retrieval, "popularity": popularity}, data, (1, 2),
                      k=1, steps=4, min_users=3)
    assert {blend.report[label]["source"] for label in blend.labels} == {"pooled"}
    assert np.allclose(blend.weights, blend.weights[0])


class _NoTest:
    """A split whose test part cannot be read."""

    def __init__(self, split):
        self.train, self.validation = split.train, split.validation

    @property
    def test(self):
        raise AssertionError("the blend fit read the test part")


def _learned(trained):
    return TrainedRecommender(trained.model, trained.tables,
                              dataclasses.replace(trained.config, score_mode="learned"),
                              trained.history, trained.metrics)


def test_fit_ranks_a_fixed_sample_of_validation_users_above_the_score_budget():
    trained, data = trained_full(), synthetic_split()
    items = len(trained.tables.ids["item"])
    everyone = _learned(trained).fit_blend(data.split).report["all"]["users"]
    config = dataclasses.replace(trained.config, score_mode="learned",
                                 blend_max_scores=items * 35, blend_min_users=30)
    small = TrainedRecommender(trained.model, trained.tables, config)
    assert small.blend_max_users() == 35 < everyone
    report = small.fit_blend(data.split).report["all"]
    assert (report["users"], report["sampled_from"]) == (35, everyone)
    floor = dataclasses.replace(config, blend_max_scores=1)  # never below blend_min_users
    assert TrainedRecommender(trained.model, trained.tables, floor).blend_max_users() == 30


def test_fit_never_reads_the_test_part():
    data = synthetic_split()
    first = _learned(trained_full()).fit_blend(_NoTest(data.split))
    poisoned = types.SimpleNamespace(train=data.split.train, validation=data.split.validation,
                                     test=data.split.test.assign(rating=-99.0))
    second = _learned(trained_full()).fit_blend(poisoned)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert first.components == ("retrieval", "rating", "popularity", "knn")
    with pytest.raises(ValueError, match="fit_blend"):
        _learned(trained_full()).fit_new_user_blend(data.split)


def test_served_blend_matches_the_numpy_blend_and_the_fit_objective(monkeypatch):
    data = synthetic_split()
    trained = _learned(trained_full())
    blend = trained.fit_blend(data.split)
    catalogue = data.tables.ids["item"].astype(str)
    users = np.append(data.split.validation["user_id"].unique()[:30], "never-seen-user")
    parts = trained.components(users, catalogue)
    assert parts["history"][-1] == 0 and (parts["history"][:-1] > 0).all()
    assert (parts["knn"][-1] == 0).all()
    served = trained.score_items(users, catalogue)
    np.testing.assert_allclose(served, blend.apply(parts, parts["history"]), atol=1e-4)
    # Scored a few users per call (the pairs budget of a large catalogue): the same.
    monkeypatch.setattr(scoring, "MAX_PAIRS_PER_CALL", 2 * len(catalogue) + 1)
    assert scoring.users_per_call(len(catalogue)) == 2
    np.testing.assert_allclose(trained.score_items(users, catalogue), served, atol=1e-5)
    for name, value in trained.components(users, catalogue).items():
        np.testing.assert_allclose(value, parts[name], atol=1e-5)
    # The fit's pooled objective of its corners equals the evaluation's own NDCG numbers
    # for the single-signal rankings, e.g. retrieval alone (the "retrieval" mode).
    retrieval = TrainedRecommender(trained.model, trained.tables,
                                   dataclasses.replace(trained.config, score_mode="retrieval"))
    result = evaluate(retrieval, data.split.train, data.split.validation, ratings=False)
    expected = np.nanmean(np.where(np.isnan(result.per_user.liked_ndcg), result.per_user.ndcg,
                                   0.5 * (result.per_user.ndcg + result.per_user.liked_ndcg)))
    assert blend.report["all"]["only_retrieval"] == pytest.approx(expected, abs=1e-6)
    assert blend.report["all"]["objective"] >= max(
        v for k, v in blend.report["all"].items() if k.startswith("only_")) - 1e-12


def test_weights_are_saved_with_the_recommender(tmp_path):
    data = synthetic_split()
    trained = _learned(trained_full())
    trained = trained.with_tables(dataclasses.replace(trained.tables, path=None))
    trained.blend = BlendWeights(trained.serving.components, (1, 2, 5),
                                 np.tile([[0.0, 0.2, 0.5, 0.3]], (4, 1)))
    trained.new_user_blend = BlendWeights.single("popularity", trained.blend.components,
                                                 trained.blend.bounds)
    trained._serving = None
    trained.save(tmp_path / "recsys")
    loaded = TrainedRecommender.load(tmp_path / "recsys")
    np.testing.assert_array_equal(loaded.blend.weights, trained.blend.weights)
    np.testing.assert_array_equal(loaded.new_user_blend.weights, trained.new_user_blend.weights)
    np.testing.assert_array_equal(loaded.serving.new_user_blend_weights.numpy(),
                                  trained.new_user_blend.weights)
    users = data.split.validation["user_id"].unique()[:5]
    items = data.tables.ids["item"][:12]
    np.testing.assert_allclose(loaded.score_items(users, items),
                               trained.score_items(users, items), atol=1e-5)


def test_validation_subset_renumbers_the_users_and_keeps_their_pairs():
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    sub = data.subset(np.array([False, True, True]))
    assert sub.users.tolist() == ["b", "c"] and sub.history.tolist() == [1, 3]
    assert sub.any_pairs.tolist() == [[0, 1], [1, 3]]
    assert sub.liked_pairs.tolist() == [[1, 3]]
    assert sorted(sub.excluded.tolist()) == [[0, 0], [1, 0], [1, 1], [1, 2]]


def test_fit_pooled_is_the_pooled_point_of_fit_blend():
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    parts = {"retrieval": np.array([[0, 3, 2, 1], [0, 1, 3, 2], [0, 0, 0, 1.0]]),
             "popularity": np.array([[0, 1, 0, 3.0], [0, 3, 0, 1], [0, 3, 2, 0]])}
    weights, info = fit_pooled(parts, data, k=1, steps=4)
    blend = fit_blend(parts, data, (1, 2), k=1, steps=4, min_users=3)
    np.testing.assert_array_equal(weights, blend.report["all"]["weights"])
    assert info["objective"] == pytest.approx(blend.report["all"]["objective"])
    assert info["users"] == 3 and info["only_popularity"] == blend.report["all"]["only_popularity"]
    with pytest.raises(ValueError, match="no validation users"):
        fit_pooled(parts, data.subset(np.zeros(3, bool)))


def test_new_users_are_blended_with_weights_fitted_from_first_reviews():
    data = synthetic_split()
    trained = _learned(trained_full())
    trained.config = dataclasses.replace(trained.config, blend_min_users=5)
    trained.fit_blend(_NoTest(data.split))
    assert trained.new_user_blend is None  # the exported model's extra step
    new, known = trained.fit_new_user_blend(_NoTest(data.split)), trained.blend
    assert new.components == known.components and new.bounds == known.bounds
    assert new.report["0"]["source"] == "as known users"
    np.testing.assert_array_equal(new.weights[0], known.weights[0])
    assert new.report["1"]["source"] == "fitted (first reviews)"
    history = pd.Series(data.split.train["user_id"]).value_counts()
    eligible = history.reindex(data.split.validation["user_id"].unique()).fillna(0) >= 1
    assert new.report["1"]["users"] == int(eligible.sum())
    # The fit scores a user's first training review as the served new-user path does:
    # dated at the end of training, without helpful votes.
    train = data.split.train
    user = train["user_id"].iloc[0]
    rows = np.flatnonzero((train["user_id"] == user).to_numpy())
    first = rows[np.lexsort((tie_break_keys(train.iloc[rows]),
                             train["timestamp"].to_numpy()[rows]))][:1]
    parts = trained.components_from_reviews(first, np.zeros(1, np.int64), 1)
    picked = data.split.train_rows[first]
    reviews = {
        "probabilities": tf.constant(data.reviews.probabilities[picked]),
        "rating": tf.constant(train["rating"].to_numpy(np.float32)[first]),
        "helpful_votes": tf.zeros([1]),
        "timestamp": tf.constant([int(train["timestamp"].max())], tf.int64),
        "embedding": tf.constant(data.reviews.embeddings[picked]),
        "segment_ids": tf.zeros([1], tf.int32), "num_users": tf.constant(1),
        "item_id": tf.constant(train["item_id"].to_numpy().astype(str)[first])}
    served = trained.serving.score_catalogue_from_reviews(**reviews).numpy()
    np.testing.assert_allclose(served, new.apply(parts, parts["history"]), atol=1e-4)
    # ... with the new users' weights, not the known users': popularity alone here.
    # Few users (under blend_min_users): the one-SE rule picks the bucket's point.
    trained.config = dataclasses.replace(trained.config, blend_min_users=10_000)
    few = trained.fit_new_user_blend(data.split)
    assert few.report["1"]["source"] == "fitted (first reviews, few users)"
    assert few.report["1"]["rule"] == "one_se" and new.report["1"]["rule"] == "best"
    trained.new_user_blend = BlendWeights.single("popularity", new.components, new.bounds)
    trained._serving = None
    served = trained.serving.score_catalogue_from_reviews(**reviews).numpy()[0]
    counts = np.log1p(np.bincount(trained.tables.rows["item_index"],
                                  minlength=len(trained.tables.ids["item"])))
    np.testing.assert_allclose(served, standardize_rows(counts[None])[0], atol=1e-4)


@pytest.mark.parametrize("given", ["latest", "first"])
def test_new_user_weights_are_fitted_on_the_reviews_config_names(given, monkeypatch):
    # Bucket "1": each validation user is given ONE training review, their latest
    # (just before the validation item) or their first, by time then tie-break key.
    data = synthetic_split()
    trained = _learned(trained_full())
    trained.fit_blend(_NoTest(data.split))
    trained.config = dataclasses.replace(trained.config, new_user_given=given)
    calls = []
    served = trained.components_from_reviews

    def spy(rows, segment, num_users, users_per_batch=256):
        calls.append((np.asarray(rows), np.asarray(segment), num_users))
        return served(rows, segment, num_users, users_per_batch)

    monkeypatch.setattr(trained, "components_from_reviews", spy)
    new = trained.fit_new_user_blend(_NoTest(data.split))
    assert new.report["1"]["source"].startswith(f"fitted ({given} reviews")
    rows, segment, num_users = calls[0]  # bucket "1", the first fitted
    train = data.split.train.assign(key=tie_break_keys(data.split.train))
    train = train.iloc[np.lexsort((train["key"], train["timestamp"]))]
    validation_users = set(data.split.validation["user_id"])
    picked = train[train["user_id"].isin(validation_users)].groupby("user_id", sort=False)
    expected = (picked.tail(1) if given == "latest" else picked.head(1)).index
    assert num_users == len(rows) == len(expected)
    assert sorted(rows.tolist()) == sorted(expected.tolist())
    assert sorted(segment.tolist()) == list(range(num_users))
    # Two reviews given (bucket "2-4"): each user's two, in time order.
    rows, segment, _ = calls[1]
    times = data.split.train["timestamp"].to_numpy()[rows]
    assert (np.diff(segment) >= 0).all() and (np.diff(times)[np.diff(segment) == 0] >= 0).all()


def test_new_user_weights_are_stored_by_component_name(monkeypatch):
    # The served new-user path builds its components in another order than the blend's
    # (rating last); a fitted weight must land on the component it was fitted for.
    data = synthetic_split()
    trained = _learned(trained_full())
    trained.fit_blend(_NoTest(data.split))
    from tfrec_sentiment.recsys import trained as trained_module

    def popularity_only(parts, subset, **options):
        return (np.array([1.0 if name == "popularity" else 0.0 for name in parts]),
                {"users": len(subset.users), "objective": 0.0})

    monkeypatch.setattr(trained_module, "fit_pooled", popularity_only)
    new = trained.fit_new_user_blend(_NoTest(data.split))
    column = list(new.components).index("popularity")
    fitted = [b for b, label in enumerate(new.labels) if new.report[label]["source"].startswith(
        "fitted")]
    assert fitted
    for b in fitted:
        expected = np.zeros(len(new.components))
        expected[column] = 1.0
        np.testing.assert_array_equal(new.weights[b], expected)


def test_cross_fit_chooses_the_way_of_fitting_that_holds_out():
    # Bucket 0 (users 0-3): point 0 is right for user 0 only (a lucky fit), point 1 is
    # steady; bucket 1 (users 4-7): point 0 is right for all. A fit on a half that holds
    # user 0 but few of bucket 1 picks point 0 for bucket 0 (or, pooled, point 1 for
    # everyone), which the other half pays for; component a alone never does.
    per_user = np.array([[0.9, 0, 0, 0, 1, 1, 1, 1], [0.4] * 4 + [0.0] * 4])
    grid = np.array([[1.0, 0.0], [0.0, 1.0]])
    buckets = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    name, scores = cross_fit_procedure(per_user, buckets, 2, grid, ("a", "b"), min_users=2)
    assert scores["only_a"] == pytest.approx((0.9 + 4) / 8)  # the mean: every half counts
    assert scores["only_b"] == pytest.approx(0.2)
    assert scores["per bucket"] < scores["only_a"] and scores["pooled"] < scores["only_a"]
    assert name == "only_a"
    # fit_blend applies the chosen way on all users and reports every held-out score.
    train, validation = _toy()
    data = ValidationSet.build(train, validation, np.array(["i0", "i1", "i2", "i3"]), 4.0)
    components = {"retrieval": np.array([[0, 3, 2, 1], [0, 1, 3, 2], [0, 0, 0, 1.0]]),
                  "popularity": np.array([[0, 1, 0, 3.0], [0, 3, 0, 1], [0, 3, 2, 0]])}
    blend = fit_blend(components, data, (1, 2), k=1, steps=4, min_users=1, rule="cross_fit")
    report = blend.report["all"]
    assert set(report["cross_fit_held_out"]) == {"per bucket", "pooled", "only_retrieval",
                                                 "only_popularity"}
    chosen = report["cross_fit"]
    assert report["cross_fit_held_out"][chosen] == max(report["cross_fit_held_out"].values())
    assert {blend.report[label]["source"] for label in blend.labels} == {f"cross-fit: {chosen}"}
    weights, info = fit_pooled(components, data, k=1, steps=4, rule="cross_fit")
    assert "per bucket" not in info["cross_fit_held_out"] and weights.sum() == 1.0
