"""ServingModule in process: what each signature computes, and its odd-input behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import SEQUENCE_LENGTH, TOP_K
from tfrec_sentiment.export.index import EMPTY_SCORE
from tfrec_sentiment.export.module import build_serving_module
from tfrec_sentiment.sentiment.preprocessor import BYTES_PER_TOKEN

LONG = "the strings sound great and the cable works fine " * 2100  # ~100 KB


def _seen_items(trained, user):
    tables = trained.tables
    row = list(tables.ids["user"]).index(user)
    reviewed = tables.rows["item_index"][tables.rows["user_index"] == row]
    return {tables.ids["item"][i] for i in reviewed}


def test_recommend_is_the_top_k_of_the_catalogue_scores_without_reviewed_items(
        serving_module, trained):
    users = ["u001", "u017", "u120"]
    out = serving_module.recommend(tf.constant(users))
    scores = trained.serving.score_catalogue(tf.constant(users)).numpy()
    items = np.asarray(trained.tables.ids["item"])
    for row, user in enumerate(users):
        seen = _seen_items(trained, user)
        assert seen  # every synthetic user reviewed something
        order = [j for j in np.argsort(-scores[row], kind="stable") if items[j] not in seen]
        got = [v.decode() for v in out["item_ids"].numpy()[row]]
        assert got == list(items[order[:TOP_K]])
        assert not set(got) & seen
        np.testing.assert_allclose(out["scores"].numpy()[row], scores[row][order[:TOP_K]])


def test_unknown_empty_and_odd_user_ids_are_the_oov_user_with_nothing_excluded(
        serving_module, trained):
    odd = ["nobody", "", "x" * 100_000, "\ud800".encode("utf-8", "surrogatepass")]
    out = serving_module.recommend(tf.constant(odd, tf.string))
    ids = out["item_ids"].numpy()
    assert (ids == ids[0]).all() and (ids != b"").all()
    oov = trained.serving.score_catalogue(tf.constant([""])).numpy()[0]
    np.testing.assert_allclose(out["scores"].numpy()[0], np.sort(oov)[::-1][:TOP_K], rtol=1e-6)


def test_rank_passes_the_recommenders_rating_and_score_through(serving_module, trained):
    users, items = tf.constant(["u001", "nobody", ""]), tf.constant(["i003", "i010", "zz"])
    out = serving_module.rank(users, items)
    want = trained.serving.rank(users, items)
    assert set(out) == {"predicted_rating", "score"}
    np.testing.assert_allclose(out["predicted_rating"], want["predicted_rating"])
    np.testing.assert_allclose(out["score"], want["score"])
    assert ((out["predicted_rating"].numpy() >= 1) & (out["predicted_rating"].numpy() <= 5)).all()
    with pytest.raises(tf.errors.InvalidArgumentError, match="same length"):
        serving_module.rank(tf.constant(["u001", "u002"]), tf.constant(["i003"]))


def test_sentiment_cuts_long_texts_and_replaces_invalid_utf8(serving_module):
    cut = LONG.encode()[: SEQUENCE_LENGTH * BYTES_PER_TOKEN]
    texts = [LONG.encode(), cut, b"bad \xff\xfe cable \xc3(",
             "bad \ufffd\ufffd cable \ufffd(".encode(), b"", "caf\u00e9 \u2603".encode()]
    out = serving_module.sentiment(tf.constant(texts, tf.string))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (6, 3) and out["embedding"].shape == (6, 8)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(out["embedding"].numpy()).all()
    np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-6)  # cut first
    np.testing.assert_allclose(probabilities[2], probabilities[3], atol=1e-6)  # U+FFFD
    labels = [v.decode() for v in out["label"].numpy()]
    expected = [("negative", "neutral", "positive")[i] for i in probabilities.argmax(1)]
    expected[4] = "none"  # the empty text: the class prior, no class (empty_text.py)
    assert labels == expected
    np.testing.assert_allclose(probabilities[4], [1 / 3] * 3, atol=1e-6)  # uniform prior
    assert not out["embedding"].numpy()[4].any()


def _reviews(texts, users, ratings, items):
    return (tf.constant(texts, tf.string), tf.constant(users, tf.int32),
            tf.constant(ratings, tf.float32), tf.constant(items, tf.string))


def test_recommend_from_reviews_scores_new_users_from_their_texts(serving_module, trained):
    texts = ["great strings, love them", "the cable broke", "ok"]
    out = serving_module.recommend_from_reviews(
        *_reviews(texts, [0, 1, 1], [5, 0, 0], ["", "", ""]))
    scored = serving_module.sentiment(tf.constant(texts))
    probabilities = scored["probabilities"]
    stars = trained.serving.impute_ratings(probabilities).numpy()
    scores = trained.serving.score_catalogue_from_reviews(
        probabilities, tf.constant([5.0, stars[1], stars[2]]), tf.zeros([3]),
        tf.fill([3], serving_module.review_time), scored["embedding"],
        tf.constant([0, 1, 1]), tf.constant(2), tf.constant(["", "", ""])).numpy()
    items = np.asarray(trained.tables.ids["item"])
    for user in range(2):
        best = np.argsort(-scores[user], kind="stable")[:TOP_K]
        assert [v.decode() for v in out["item_ids"].numpy()[user]] == list(items[best])
        np.testing.assert_allclose(out["scores"].numpy()[user], scores[user][best], rtol=1e-5)


def test_recommend_from_reviews_excludes_the_reviewed_items_and_ignores_bad_rows(serving_module):
    texts, ratings = ["great strings", "bad cable"], [4.0, 0.0]
    base = serving_module.recommend_from_reviews(*_reviews(texts, [0, 1], ratings, ["", ""]))
    top = base["item_ids"].numpy()[0, 0]
    excluded = serving_module.recommend_from_reviews(
        *_reviews(texts, [0, 1], ratings, [top, "not-an-item"]))
    assert top not in excluded["item_ids"].numpy()[0]
    # The given item is the user's history now (scores change) and is left out.
    scores = serving_module._score_new_users(*_reviews(texts, [0, 1], ratings,
                                                       [top, "not-an-item"]),
                                             tf.constant(2)).numpy()[0]
    items = serving_module.recommender.catalogue()["item_ids"].numpy()
    scores[items == top] = -np.inf
    expected = items[np.argsort(-scores, kind="stable")[:TOP_K]]
    np.testing.assert_array_equal(excluded["item_ids"].numpy()[0], expected)
    np.testing.assert_array_equal(excluded["item_ids"].numpy()[1], base["item_ids"].numpy()[1])
    # Rows with a negative or too large user index are ignored.
    noisy = serving_module.recommend_from_reviews(*_reviews(
        [*texts, "junk", "more junk"], [0, 1, -1, 4], [*ratings, 1.0, 1.0], ["", "", "", ""]))
    np.testing.assert_array_equal(noisy["item_ids"], base["item_ids"])
    np.testing.assert_allclose(noisy["scores"], base["scores"])
    # Out-of-range stars are treated as missing, like 0.
    missing = serving_module.recommend_from_reviews(*_reviews(texts, [0, 1], [4.0, 9.0], ["", ""]))
    np.testing.assert_allclose(missing["scores"], base["scores"])


def test_recommend_from_reviews_edge_batches(serving_module):
    empty = serving_module.recommend_from_reviews(*_reviews([], [], [], []))
    assert empty["item_ids"].shape == (0, TOP_K)
    # User 1 has no review: the prior profile, still K real recommendations.
    gap = serving_module.recommend_from_reviews(
        *_reviews(["good", "fine", "ok"], [0, 2, 2], [0, 0, 0], ["", "", ""]))
    assert gap["item_ids"].shape == (3, TOP_K) and (gap["item_ids"].numpy() != b"").all()
    long = serving_module.recommend_from_reviews(
        *_reviews([LONG, b"\xff"], [0, 0], [0, 0], ["", ""]))
    assert np.isfinite(long["scores"].numpy()).all()
    with pytest.raises(tf.errors.InvalidArgumentError, match="same length"):
        serving_module.recommend_from_reviews(*_reviews(["a", "b"], [0], [0, 0], ["", ""]))
    assert EMPTY_SCORE not in gap["scores"].numpy()


def test_models_of_different_runs_are_refused(trained):
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    wider = SentimentModel.from_config(SentimentConfig(preset="tiny", tiny_hidden_dim=16,
                                                 sequence_length=SEQUENCE_LENGTH))
    with pytest.raises(ValueError, match="not trained together"):
        build_serving_module(wider, trained, top_k=TOP_K)
