import numpy as np
import pandas as pd
import pytest

from tests.features.synthetic import leave_last_out, synthetic_reviews
from tests.layer_test_case import assert_allclose_nested
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.profile import SIGNALS
from tfrec_sentiment.features.tables import FeatureError, FeatureTables, build_feature_tables

GROUPS = ("activity", "rating", "helpful", "sentiment", "text")
FEATURE_KEYS = tuple(f"{side}_{g}" for side in ("user", "item") for g in GROUPS)
MODES = ("past_only", "leave_one_out")


@pytest.fixture(scope="module")
def data():
    reviews = synthetic_reviews(num_users=20, num_items=12, per_user=6, text_dim=4, seed=1)
    split = leave_last_out(reviews.frame)
    return reviews, split


def _build(train, probabilities, embeddings, profile=None, **config):
    return build_feature_tables(train, probabilities, embeddings, FeatureConfig(**config),
                                profile=profile)


def _train_arrays(data):
    reviews, split = data
    rows = split.train_rows
    return split.train, reviews.probabilities[rows], reviews.embeddings[rows]


def _reviews(train, probabilities, embeddings, rows):
    return {"rating": train["rating"].to_numpy(np.float32)[rows],
            "helpful_votes": train["helpful_votes"].to_numpy(np.float32)[rows],
            "timestamp": train["timestamp"].to_numpy()[rows],
            "probabilities": probabilities[rows], "embedding": embeddings[rows]}


@pytest.mark.parametrize("mode", MODES)
def test_training_features_never_contain_the_rows_own_review(data, mode):
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings, training_features=mode)
    before = tables.training_examples()
    # The first review of a user: in both modes the user's later rows see it.
    user = train["user_id"].iloc[0]
    same_user = np.flatnonzero((train["user_id"] == user).to_numpy())
    row = same_user[np.argmin(train["timestamp"].to_numpy()[same_user])]
    changed = train.copy()
    changed.loc[row, "rating"] = 1.0 if changed.loc[row, "rating"] >= 3 else 5.0
    changed.loc[row, "helpful_votes"] += 40
    probabilities, embeddings = probabilities.copy(), embeddings.copy()
    probabilities[row] = probabilities[row][::-1]
    embeddings[row] += 5.0
    # The training-wide prior moves by 1/N with any review (documented); hold it
    # fixed to see that nothing else of the row reaches its own features.
    after = _build(changed, probabilities, embeddings, tables.profile,
                   training_features=mode).training_examples()
    keys = FEATURE_KEYS + ("user_history", "user_history_rating", "user_history_sentiment")
    for key in keys:
        np.testing.assert_allclose(after[key][row], before[key][row], atol=1e-5, err_msg=key)
    # The same review IS a feature of the user's other rows: the test can see changes.
    others = [r for r in same_user if r != row]
    for key in ("user_rating", "user_helpful", "user_sentiment", "user_text",
                "user_history_rating"):
        assert not np.allclose(after[key][others], before[key][others]), key


def test_leave_one_out_equals_tables_built_without_that_review(data):
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings, training_features="leave_one_out")
    examples = tables.training_examples()
    for row in (0, 11, len(train) - 1):
        keep = np.arange(len(train)) != row
        without = _build(train[keep].reset_index(drop=True), probabilities[keep],
                         embeddings[keep], tables.profile, training_features="leave_one_out")
        looked_up = without.lookup_examples(train.iloc[[row]])
        for key in FEATURE_KEYS:
            np.testing.assert_allclose(looked_up[key][0], examples[key][row], atol=1e-4,
                                       err_msg=f"row {row} {key}")


def test_past_only_features_are_the_profile_of_strictly_earlier_reviews(data):
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings, history_length=3)
    examples = tables.training_examples()
    time = train["timestamp"].to_numpy()
    for row in (3, 17, len(train) - 2):
        for side in ("user", "item"):
            ids = train[f"{side}_id"].to_numpy()
            earlier = np.flatnonzero((ids == ids[row]) & (time < time[row]))
            direct = tables.profile.finalize(tables.profile.summarize(
                _reviews(train, probabilities, embeddings, earlier)))
            for group, value in direct.items():
                np.testing.assert_allclose(examples[f"{side}_{group}"][row], value.numpy()[0],
                                           atol=1e-4, err_msg=f"row {row} {side} {group}")
        users = train["user_id"].to_numpy()
        earlier = np.flatnonzero((users == users[row]) & (time < time[row]))
        latest = earlier[np.argsort(-time[earlier], kind="stable")][:3]
        items = tables.index_of("item", train["item_id"].to_numpy()[latest]) + 1
        assert sorted(examples["user_history"][row][:len(latest)]) == sorted(items)
        assert (examples["user_history"][row][len(latest):] == 0).all()


def test_candidate_features_are_the_items_full_features(data):
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings)
    examples = tables.training_examples()
    full = tables.lookup_examples(train)
    for group in GROUPS:
        np.testing.assert_allclose(examples[f"candidate_item_{group}"], full[f"item_{group}"])
        # ... while the rating features of the same rows are held out.
        assert not np.allclose(examples[f"item_{group}"], full[f"item_{group}"])


def test_later_splits_get_the_full_training_aggregates(data):
    _, split = data
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings)
    validation = tables.lookup_examples(split.validation)
    # Full aggregates = the profile of all of the user's training reviews.
    user = split.validation["user_id"].iloc[0]
    rows = np.flatnonzero((train["user_id"] == user).to_numpy())
    direct = tables.profile(_reviews(train, probabilities, embeddings, rows))
    for group, value in direct.items():
        np.testing.assert_allclose(validation[f"user_{group}"][0], value.numpy()[0], atol=1e-4)
    latest = rows[np.argsort(-train["timestamp"].to_numpy()[rows], kind="stable")]
    history = validation["user_history"][0]
    assert sorted(history[history > 0]) == sorted(
        tables.index_of("item", train["item_id"].to_numpy()[latest]) + 1)
    # The held-out rows' own content never enters: change it, features stay.
    changed = split.validation.assign(rating=6.0 - split.validation["rating"], helpful_votes=99)
    again = tables.lookup_examples(changed)
    for key in FEATURE_KEYS + ("user_history",):
        np.testing.assert_array_equal(again[key], validation[key])
    np.testing.assert_array_equal(again["rating"], changed["rating"].to_numpy(np.float32))


def test_unknown_ids_get_the_prior_profile(data):
    tables = _build(*_train_arrays(data))
    examples = tables.lookup_examples(pd.DataFrame({"user_id": ["nobody"], "item_id": ["new"]}))
    empty = tables.feature_table("user")
    for group in tables.groups:
        np.testing.assert_allclose(examples[f"user_{group}"][0], empty[group][0])
    assert examples["user_activity"][0, 0] == 0.0  # log(1 + no reviews)
    assert (examples["user_history"][0] == 0).all()
    assert "rating" not in examples


def test_statistics_are_fitted_on_training_examples(data):
    tables = _build(*_train_arrays(data))
    examples = tables.training_examples()
    for side in ("user", "item"):
        for group, stats in tables.statistics[side].items():
            values = examples[f"{side}_{group}"]
            standardized = (values - stats["mean"]) / np.sqrt(stats["variance"])
            np.testing.assert_allclose(standardized.mean(0), 0.0, atol=1e-4)
            varying = values.std(0) > 1e-6
            np.testing.assert_allclose(standardized.std(0)[varying], 1.0, atol=1e-3)
    assert set(tables.statistics["item"]) == set(GROUPS)


def test_save_load_round_trip(data, tmp_path):
    tables = _build(*_train_arrays(data))
    tables.save(tmp_path / "features")
    assert tables.path == tmp_path / "features"
    written = pd.read_parquet(tmp_path / "features" / "item_features.parquet")
    assert {"item_id", "count", "sentiment_polarity_mean", "rating_rating_mean"} <= set(written)
    loaded = FeatureTables.load(tmp_path / "features")
    assert_allclose_nested(_numeric(loaded.training_examples()),
                           _numeric(tables.training_examples()))
    assert loaded.statistics == tables.statistics
    assert list(loaded.ids["user"]) == list(tables.ids["user"])


def _numeric(examples):
    return {k: v for k, v in examples.items() if v.dtype != object}


def test_misaligned_or_missing_arrays_are_named(data):
    train, probabilities, embeddings = _train_arrays(data)
    with pytest.raises(FeatureError, match=r"probabilities has shape \(3, 3\)"):
        _build(train, probabilities[:3], embeddings)
    with pytest.raises(FeatureError, match="embedding is None"):
        _build(train, probabilities, None)
    bad = probabilities.copy()
    bad[5, 1] = np.nan
    with pytest.raises(FeatureError, match="probabilities row 5"):
        _build(train, bad, embeddings)
    with pytest.raises(FeatureError, match="empty"):
        _build(train.iloc[:0], probabilities[:0], embeddings[:0])
    # A bad config value is refused when the config is built, before any table work.
    with pytest.raises(ConfigError, match="training_features='random': choose one of"):
        _build(train, probabilities, embeddings, training_features="random")


def test_ablation_configs_build_fewer_groups(data):
    train, _, _ = _train_arrays(data)
    tables = _build(train, None, None, use_sentiment=False, use_text=False, history_length=0)
    assert tables.groups == ("activity", "rating", "helpful")
    assert sorted(k for k in tables.training_examples() if k.startswith("user_")) == [
        "user_activity", "user_helpful", "user_id", "user_rating"]
    assert tables.rating_calibration is None and tables.history_groups == ()


def test_with_reviews_gives_new_items_aggregates(data):
    reviews, _ = data
    train, probabilities, embeddings = _train_arrays(data)
    tables = _build(train, probabilities, embeddings)
    new = reviews.frame.iloc[:3].assign(item_id="brand-new", rating=[5.0, 5.0, 4.0],
                                        user_id=["u000", "u000", "newbie"])
    grown = tables.with_reviews(new, reviews.probabilities[:3], reviews.embeddings[:3])
    found = grown.lookup_examples(pd.DataFrame({"user_id": ["u000", "newbie"],
                                                "item_id": ["brand-new"] * 2}))
    assert found["item_activity"][0, 0] == pytest.approx(np.log1p(3))
    prior = tables.profile.signal_prior[SIGNALS.index("rating")]
    k = tables.config.prior_strength
    assert found["item_rating"][0, 0] == pytest.approx((14.0 + k * prior) / (3 + k), rel=1e-5)
    # The new reviews lead the users' histories.
    new_item = grown.index_of("item", np.array(["brand-new"]))[0] + 1
    assert list(found["user_history"][0][:2]) == [new_item, new_item]
    assert list(found["user_history"][1][:2]) == [new_item, 0]
    assert "brand-new" not in set(tables.ids["item"])  # the original is untouched
