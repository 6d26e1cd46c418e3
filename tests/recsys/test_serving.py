import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import assert_allclose_nested
from tests.recsys.trained_fixture import synthetic_split, trained_full
from tfrec_sentiment.features import profiles as profiles_lib
from tfrec_sentiment.recsys import serving as serving_lib
from tfrec_sentiment.recsys import serving_candidates as candidates_lib
from tfrec_sentiment.recsys.blend_weights import BlendWeights
from tfrec_sentiment.recsys.serving import RecommenderServing, blend_components


def _reviews_of(user):
    """The user's training reviews in time order, as `score_catalogue_from_reviews` takes them."""
    data = synthetic_split()
    train = data.split.train
    rows = np.flatnonzero((train["user_id"] == user).to_numpy())
    rows = rows[np.argsort(train["timestamp"].to_numpy()[rows], kind="stable")]
    picked = data.split.train_rows[rows]
    return {
        "probabilities": tf.constant(data.reviews.probabilities[picked]),
        "rating": tf.constant(train["rating"].to_numpy(np.float32)[rows]),
        "helpful_votes": tf.constant(train["helpful_votes"].to_numpy(np.float32)[rows]),
        "timestamp": tf.constant(train["timestamp"].to_numpy()[rows]),
        "embedding": tf.constant(data.reviews.embeddings[picked]),
        "segment_ids": tf.zeros([len(rows)], tf.int32),
        "num_users": tf.constant(1),
        "item_id": tf.constant(train["item_id"].to_numpy().astype(str)[rows]),
    }


def _profile_only(reviews):
    return {k: v for k, v in reviews.items() if k != "item_id"}


def test_profile_from_raw_reviews_matches_the_feature_table():
    serving = trained_full().serving
    user = synthetic_split().split.train["user_id"].iloc[0]
    profile = serving.profile_from_reviews(**_profile_only(_reviews_of(user)))
    table = serving.user_features(tf.constant([user]))
    assert set(profile) == {"activity", "rating", "helpful", "sentiment", "text"}
    assert_allclose_nested(profile, {g: table[g] for g in profile}, atol=1e-4)


def test_new_user_from_reviews_is_an_unknown_id_with_that_users_profile_and_history():
    trained = trained_full()
    serving, tables = trained.serving, synthetic_split().tables
    user = synthetic_split().split.train["user_id"].iloc[3]
    scores = serving.score_catalogue_from_reviews(**_reviews_of(user)).numpy()
    assert scores.shape == (1, len(tables.ids["item"]))
    # What a training user's row holds, from the reviews alone: the profile, the
    # review history (latest first) and its similarity profile, which for a user
    # outside training leaves nothing out (a training row leaves its own user out).
    known = serving.user_features(tf.constant([user]))
    empty = serving.user_features(tf.constant(["nobody"]))
    history = {"history", "history_rating", "history_sentiment"}
    assert history | {"similarity"} <= set(known)
    assert int(np.count_nonzero(known["history"].numpy())) == len(_reviews_of(user)["rating"])
    item_sets = profiles_lib.user_item_sets(tables.rows["user_index"],
                                            tables.rows["item_index"], len(tables.ids["user"]))
    similarity = profiles_lib.similarity_profiles(
        known["history"].numpy(), np.array([-1]), item_sets, tables.co_reviews,
        tables.config.similarity_shrinkage)
    assert not np.allclose(similarity, known["similarity"].numpy())  # leave-user-out differs
    profile = {"activity", "rating", "helpful", "sentiment", "text"} | history
    inputs = {"user_id": tf.constant(["nobody"]), "user_similarity": tf.constant(similarity)}
    inputs.update({f"user_{g}": known[g] if g in profile else empty[g]
                   for g in known if g != "similarity"})
    embedding = trained.model.user_tower(inputs, training=False)["embedding"].numpy()
    expected = embedding @ serving.catalogue()["embeddings"].numpy().T
    np.testing.assert_allclose(scores, expected, atol=1e-3)
    assert not np.allclose(scores, serving.score_catalogue(tf.constant([user])).numpy())


def test_new_users_of_one_request_get_their_own_known_items_only():
    serving = trained_full().serving
    users = synthetic_split().split.train["user_id"].unique()[:2]
    alone = [serving.score_catalogue_from_reviews(**_reviews_of(u)).numpy()[0] for u in users]
    first, second = _reviews_of(users[0]), _reviews_of(users[1])
    # user 0 also reviewed an item outside the catalogue (and one with no id): no history
    extra = {"probabilities": tf.constant([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]),
             "rating": tf.constant([3.0, 3.0]), "helpful_votes": tf.zeros([2]),
             "timestamp": first["timestamp"][:2], "embedding": first["embedding"][:2],
             "segment_ids": tf.zeros([2], tf.int32), "item_id": tf.constant(["nothing", ""])}
    joined = {key: tf.concat([first[key], extra[key], second[key] if key != "segment_ids"
                              else tf.ones_like(second[key])], axis=0)
              for key in extra}
    scores = serving.score_catalogue_from_reviews(**joined, num_users=tf.constant(2)).numpy()
    np.testing.assert_allclose(scores[1], alone[1], atol=1e-4)
    assert not np.allclose(scores[0], alone[0], atol=1e-4)  # the extra stars and texts count
    # ... but not as history: each user's is the known user's table row
    given = serving._given_history(joined["probabilities"], joined["rating"],
                                   serving._item_index(joined["item_id"]),
                                   joined["segment_ids"], tf.constant(2))
    known = serving.user_features(tf.constant(users))
    for group in ("history", "history_rating", "history_sentiment"):
        np.testing.assert_allclose(given[group].numpy(), known[group].numpy(), atol=1e-6)
    without = dict(joined, item_id=tf.fill([tf.size(joined["item_id"])], ""))
    plain = serving.score_catalogue_from_reviews(**without, num_users=tf.constant(2)).numpy()
    assert not np.allclose(scores[0], plain[0], atol=1e-4)  # without items: no history


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


def test_the_projected_path_with_the_identity_basis_scores_as_the_exact_one():
    # Q = identity: the user block is the profile itself and the item block the
    # one-hot, now read as "item_similarity" rows; every score path (components and the
    # learned blend, known and new users, candidate columns) must give the same numbers.
    trained, tables = trained_full(), synthetic_split().tables
    config = dataclasses.replace(trained.config, score_mode="learned")
    components = blend_components(tables)
    single = BlendWeights.single("knn", components, config.blend_history_bounds)
    blend = BlendWeights(components, single.bounds,
                         np.full_like(single.weights, 1.0 / len(components)))
    identity = dataclasses.replace(
        tables, similarity_basis=np.eye(len(tables.ids["item"]), dtype=np.float32))
    exact, projected = (RecommenderServing(trained.model, t, config, blend)
                        for t in (tables, identity))
    assert projected._projected and not exact._projected and "knn" in components
    users = tf.constant(list(tables.ids["user"][:5]) + ["nobody"])
    items = tf.constant(tables.ids["item"].astype(str))
    assert_allclose_nested(projected.score_components(users, items),
                           exact.score_components(users, items), atol=1e-6)
    np.testing.assert_allclose(projected.score_catalogue(users), exact.score_catalogue(users),
                               atol=1e-5)
    reviews = _reviews_of(synthetic_split().split.train["user_id"].iloc[3])
    np.testing.assert_allclose(projected.score_catalogue_from_reviews(**reviews),
                               exact.score_catalogue_from_reviews(**reviews), atol=1e-5)
    columns = tf.constant(np.arange(12, dtype=np.int32).reshape(6, 2))
    for serving in (exact, projected):
        serving.prepare_candidate_scoring()
    np.testing.assert_allclose(projected.score_columns(projected.user_outputs(users), columns,
                                                       users),
                               exact.score_columns(exact.user_outputs(users), columns, users),
                               atol=1e-4)


@pytest.mark.parametrize("rating_weight", [0.0, 0.4])
def test_the_rating_head_runs_only_where_a_bucket_weighs_it(monkeypatch, rating_weight):
    # A rating head that returns NaN: wherever it runs, the blend is NaN (0 x NaN too).
    trained, tables = trained_full(), synthetic_split().tables
    config = dataclasses.replace(trained.config, score_mode="learned")
    components = blend_components(tables)
    weights = np.full((len(config.blend_history_bounds) + 1, len(components)),
                      (1.0 - rating_weight) / (len(components) - 1))
    weights[:, components.index("rating")] = rating_weight
    blend = BlendWeights(components, config.blend_history_bounds, weights)
    serving = RecommenderServing(trained.model, tables, config, blend, blend)
    users = tf.constant(list(tables.ids["user"][:5]) + ["nobody"])
    expected = serving.score_catalogue(users).numpy()
    assert np.isfinite(expected).all()

    def broken(model, user, item):
        return tf.fill([tf.shape(user["bias"])[0], tf.shape(item["bias"])[0]], np.nan)

    def broken_candidates(model, user, item):
        return tf.fill(tf.shape(item["bias"]), np.nan)

    monkeypatch.setattr(serving_lib, "rating_matrix", broken)
    monkeypatch.setattr(candidates_lib, "rating_matrix", broken)
    monkeypatch.setattr(candidates_lib, "candidate_ratings", broken_candidates)
    patched = RecommenderServing(trained.model, tables, config, blend, blend)
    patched.prepare_candidate_scoring()
    columns = tf.constant(np.arange(12, dtype=np.int32).reshape(6, 2))
    scores = {"catalogue": patched.score_catalogue(users).numpy(),
              "columns": patched.score_columns(patched.user_outputs(users), columns,
                                               users).numpy(),
              "from reviews": patched.score_catalogue_from_reviews(
                  **_reviews_of(synthetic_split().split.train["user_id"].iloc[3])).numpy()}
    for name, values in scores.items():
        assert np.isnan(values).all() == (rating_weight > 0), name
    if rating_weight == 0:  # skipped: the same scores as with the head run
        np.testing.assert_allclose(scores["catalogue"], expected, atol=1e-5)
