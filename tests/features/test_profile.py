import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.features.synthetic import synthetic_reviews
from tests.layer_test_case import assert_allclose_nested, run_config_round_trip, run_save_load
from tfrec_sentiment.features.profile import GROUP_FEATURES, SIGNALS, ReviewProfile


@pytest.fixture(scope="module")
def data():
    return synthetic_reviews(num_users=12, num_items=10, per_user=5, text_dim=4, seed=3)


def _reviews(data, rows=slice(None)):
    return {
        "rating": data.frame["rating"].to_numpy(np.float32)[rows],
        "helpful_votes": data.frame["helpful_votes"].to_numpy(np.float32)[rows],
        "timestamp": data.frame["timestamp"].to_numpy()[rows],
        "probabilities": data.probabilities[rows],
        "embedding": data.embeddings[rows],
    }


def _profile(data, k=2.0):
    reviews = _reviews(data)
    return ReviewProfile(signal_prior=ReviewProfile.fit_prior(reviews),
                         text_prior=data.embeddings.mean(0).tolist(), prior_strength=k)


def _reference(frame, probabilities, embeddings, prior, text_prior, k):
    """Per-user features written out directly with pandas, as the docs define them."""
    polarity = probabilities[:, 2] - probabilities[:, 0]
    votes = frame["helpful_votes"].to_numpy(float)
    weight = 1 + np.log1p(votes)
    years = (frame["timestamp"].to_numpy(float) - 1_262_304_000) / 31_557_600
    table = pd.DataFrame({
        "user": frame["user_id"], "time": years, "time_sq": years ** 2,
        "rating": frame["rating"], "rating_sq": frame["rating"] ** 2,
        "helpful_any": (votes > 0).astype(float), "helpful_log": np.log1p(votes),
        "votes": votes, "weight": weight, "polarity": polarity, "polarity_sq": polarity ** 2,
        "p_neg": probabilities[:, 0], "p_neu": probabilities[:, 1], "p_pos": probabilities[:, 2],
        "wpol": weight * polarity,
        "gap": polarity - (frame["rating"] - 3) / 2,
    })
    prior_of = dict(zip(SIGNALS, prior))
    names = {"rating_sq": "rating_sq", "votes": "helpful_votes", "p_neg": "p_negative",
             "p_neu": "p_neutral", "p_pos": "p_positive", "wpol": "weighted_polarity"}
    sums = table.groupby("user").sum()
    n = table.groupby("user").size()

    def mean(col):
        return (sums[col] + k * prior_of[names.get(col, col)]) / (n + k)

    text = pd.DataFrame(embeddings).groupby(frame["user_id"].to_numpy()).sum()
    def spread(col):
        return np.sqrt(np.maximum(mean(f"{col}_sq") - mean(col) ** 2, 0))

    return {
        "activity": np.stack([np.log1p(n), mean("time"), spread("time")], 1),
        "rating": np.stack([mean("rating"), spread("rating")], 1),
        "helpful": np.stack([mean("helpful_any"), mean("helpful_log"),
                             np.log1p(sums["votes"])], 1),
        "sentiment": np.stack([
            mean("polarity"), spread("polarity"), mean("p_neg"), mean("p_neu"),
            mean("p_pos"), mean("wpol") / mean("weight"), mean("gap")], 1),
        "text": (text.to_numpy() + k * np.asarray(text_prior)) / (n.to_numpy()[:, None] + k),
    }, sums.index.to_numpy()


def test_profiles_match_a_direct_pandas_computation(data):
    profile = _profile(data, k=1.5)
    codes, users = pd.factorize(data.frame["user_id"], sort=True)
    features = profile(_reviews(data), segment_ids=codes, num_segments=len(users))
    expected, order = _reference(data.frame, data.probabilities, data.embeddings,
                                 profile.signal_prior, profile.text_prior, 1.5)
    assert list(order) == list(users)
    assert {g: v.shape[1] for g, v in features.items()} == {
        **{g: len(n) for g, n in GROUP_FEATURES.items()}, "text": 4}
    assert_allclose_nested(features, expected, atol=2e-4)


def test_empty_profile_is_the_prior_and_one_profile_needs_no_segments(data):
    profile = _profile(data)
    empty = profile.finalize({"signals": tf.zeros([1, len(SIGNALS)]), "text": tf.zeros([1, 4])})
    prior = dict(zip(SIGNALS, profile.signal_prior))
    assert float(empty["activity"][0, 0]) == 0.0  # log(1 + 0 reviews)
    np.testing.assert_allclose(empty["activity"][0, 1], prior["time"], rtol=1e-6)
    np.testing.assert_allclose(empty["rating"][0, 0], prior["rating"], rtol=1e-6)
    np.testing.assert_allclose(empty["helpful"][0, 0], prior["helpful_any"], rtol=1e-6)
    np.testing.assert_allclose(empty["sentiment"][0, 0], prior["polarity"], rtol=1e-5)
    np.testing.assert_allclose(empty["text"][0], profile.text_prior, rtol=1e-5)
    rows = np.flatnonzero(data.frame["user_id"] == data.frame["user_id"].iloc[0])
    alone = profile(_reviews(data, rows))
    codes, _ = pd.factorize(data.frame["user_id"], sort=True)
    grouped = profile(_reviews(data), segment_ids=codes, num_segments=codes.max() + 1)
    assert_allclose_nested(alone, {g: v[codes[rows[0]]][None] for g, v in grouped.items()})


def test_profile_runs_in_graph_with_a_fixed_signature(data):
    profile = _profile(data)

    @tf.function(input_signature=[tf.TensorSpec([None, 3]), tf.TensorSpec([None]),
                                  tf.TensorSpec([None]), tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None, 4])])
    def new_user(probabilities, rating, helpful_votes, timestamp, embedding):
        return profile({"probabilities": probabilities, "rating": rating,
                        "helpful_votes": helpful_votes, "timestamp": timestamp,
                        "embedding": embedding})

    reviews = _reviews(data, slice(0, 3))
    assert_allclose_nested(new_user(reviews["probabilities"], reviews["rating"],
                                    reviews["helpful_votes"], reviews["timestamp"],
                                    reviews["embedding"]),
                           profile(reviews))


def test_without_sentiment_or_text_the_groups_are_absent(data):
    reviews = {k: v for k, v in _reviews(data).items()
               if k in ("rating", "helpful_votes", "timestamp")}
    profile = ReviewProfile(signal_prior=ReviewProfile.fit_prior(reviews), use_sentiment=False)
    assert sorted(profile(reviews)) == ["activity", "helpful", "rating"]
    with pytest.raises(ValueError, match="probabilities"):
        ReviewProfile(signal_prior=profile.signal_prior)(reviews)
    with pytest.raises(ValueError, match="prior_strength"):
        ReviewProfile(signal_prior=profile.signal_prior, prior_strength=0.0)


def test_review_profile_config_round_trip_and_save_load(data, tmp_path):
    profile = _profile(data)
    rebuilt = run_config_round_trip(profile, tf.keras)
    reviews = _reviews(data, slice(0, 6))
    assert_allclose_nested(rebuilt(reviews), profile(reviews))
    inputs = {
        "probabilities": tf.keras.Input([3], name="probabilities"),
        "rating": tf.keras.Input([], name="rating"),
        "helpful_votes": tf.keras.Input([], name="helpful_votes"),
        "timestamp": tf.keras.Input([], dtype=tf.int64, name="timestamp"),
        "embedding": tf.keras.Input([4], name="embedding"),
    }
    model = tf.keras.Model(inputs, profile(inputs))
    run_save_load(model, reviews, tmp_path, tf.keras)
