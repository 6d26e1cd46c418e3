import numpy as np
import tensorflow as tf

from tests.layer_test_case import assert_allclose_nested
from tests.recsys.trained_fixture import synthetic_split, trained_full


def _reviews_of(user):
    data = synthetic_split()
    train = data.split.train
    rows = np.flatnonzero((train["user_id"] == user).to_numpy())
    picked = data.split.train_rows[rows]
    return {
        "probabilities": tf.constant(data.reviews.probabilities[picked]),
        "rating": tf.constant(train["rating"].to_numpy(np.float32)[rows]),
        "helpful_votes": tf.constant(train["helpful_votes"].to_numpy(np.float32)[rows]),
        "timestamp": tf.constant(train["timestamp"].to_numpy()[rows]),
        "embedding": tf.constant(data.reviews.embeddings[picked]),
        "segment_ids": tf.zeros([len(rows)], tf.int32),
        "num_users": tf.constant(1),
    }


def test_profile_from_raw_reviews_matches_the_feature_table():
    serving = trained_full().serving
    user = synthetic_split().split.train["user_id"].iloc[0]
    profile = serving.profile_from_reviews(**_reviews_of(user))
    table = serving.user_features(tf.constant([user]))
    assert set(profile) == {"activity", "rating", "helpful", "sentiment", "text"}
    assert_allclose_nested(profile, {g: table[g] for g in profile}, atol=1e-4)


def test_new_user_from_reviews_is_scored_like_an_unknown_id_with_that_profile():
    trained = trained_full()
    serving = trained.serving
    user = synthetic_split().split.train["user_id"].iloc[3]
    scores = serving.score_catalogue_from_reviews(**_reviews_of(user)).numpy()
    assert scores.shape == (1, len(synthetic_split().tables.ids["item"]))
    # Same features as the known user, but the OOV id row: close, not identical.
    known = serving.score_catalogue(tf.constant([user])).numpy()
    assert np.corrcoef(scores[0], known[0])[0, 1] > 0.5
    assert not np.allclose(scores, known)


def test_saved_model_round_trip_matches_in_process(tmp_path):
    serving = trained_full().serving
    tf.saved_model.save(serving, str(tmp_path / "serving"))
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    users = tf.constant(["u001", "u002", "nobody"])
    items = tf.constant(["i003", "i010", "nothing"])
    assert_allclose_nested(loaded.rank(users, items), serving.rank(users, items))
    assert_allclose_nested(loaded.score_catalogue(users), serving.score_catalogue(users))
    reviews = _reviews_of("u001")
    assert_allclose_nested(loaded.score_catalogue_from_reviews(**reviews),
                           serving.score_catalogue_from_reviews(**reviews), atol=1e-4)
    catalogue = loaded.catalogue()
    assert catalogue["embeddings"].shape[0] == catalogue["item_ids"].shape[0]
    np.testing.assert_allclose(loaded.impute_ratings(tf.constant([[0.0, 0.0, 1.0]])),
                               serving.impute_ratings(tf.constant([[0.0, 0.0, 1.0]])))
