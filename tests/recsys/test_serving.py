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
    # The known user's profile features, but an unknown id and no history of known
    # items (so no item-to-item profile either): what a brand-new user has.
    known = serving.user_features(tf.constant([user]))
    empty = serving.user_features(tf.constant(["nobody"]))
    profile = {"activity", "rating", "helpful", "sentiment", "text"}
    inputs = {"user_id": tf.constant(["nobody"])}
    inputs.update({f"user_{g}": known[g] if g in profile else empty[g] for g in known})
    assert {"history", "similarity"} <= set(known) - profile
    embedding = trained.model.user_tower(inputs, training=False)["embedding"].numpy()
    expected = embedding @ serving.catalogue()["embeddings"].numpy().T
    np.testing.assert_allclose(scores, expected, atol=1e-3)
    assert not np.allclose(scores, serving.score_catalogue(tf.constant([user])).numpy())


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
