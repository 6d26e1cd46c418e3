import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.data import schema
from tfrec_sentiment.data.demo import generate_demo
from tfrec_sentiment.text.clean import clean_reviews


@pytest.fixture(scope="module")
def demo():
    return generate_demo()


@pytest.fixture(scope="module")
def cleaned(demo):
    kept, stats = clean_reviews(demo)
    kept = kept.drop_duplicates(["user_id", "item_id", "text", "timestamp"])
    return kept.reset_index(drop=True), stats


def test_deterministic_and_canonical(demo):
    pd.testing.assert_frame_equal(generate_demo(), demo)
    other = generate_demo(seed=1)
    assert len(other) != len(demo) or not other["text"].equals(demo["text"])
    schema.validate_reviews(demo)
    assert (demo["source"] == "demo").all()
    assert demo["line"].tolist() == list(range(1, len(demo) + 1))


def test_shape_like_a_five_core_file(demo, cleaned):
    kept, _ = cleaned
    assert 5_000 <= len(demo) <= 7_000
    assert demo["user_id"].nunique() == 600 and 280 <= demo["item_id"].nunique() <= 300
    assert kept.groupby("user_id").size().min() >= 5  # after cleaning + de-duplication
    shares = kept["rating"].value_counts(normalize=True)
    assert 0.45 <= shares[5.0] <= 0.6 and shares[1.0] + shares[2.0] > 0.08
    words = (kept["title"] + " " + kept["text"]).str.split().str.len()
    assert 15 <= words.mean() <= 60 and words.max() <= 80


def test_time_is_day_granular_per_user_and_spans_two_years(demo):
    assert (demo["timestamp"] % 86_400 == 0).all()
    span = (demo["timestamp"].max() - demo["timestamp"].min()) / 86_400
    assert 600 <= span <= 730
    same_day = demo.duplicated(["user_id", "timestamp"], keep=False)
    assert same_day.mean() > 0.05  # ties, as in Amazon data


def test_cleaning_and_dedup_have_work(demo, cleaned):
    kept, stats = cleaned
    assert sum(stats.removed.values()) >= 10
    for edit in ("email_scrubbed", "phone_scrubbed", "url_scrubbed", "html_unescaped",
                 "html_tags_removed", "unicode_normalized"):
        assert stats.edits[edit] > 0, edit
    assert demo.duplicated(["user_id", "item_id", "text"]).sum() > 0


def test_helpful_votes_heavy_tailed_and_follow_length(cleaned):
    kept, _ = cleaned
    votes = kept["helpful_votes"]
    assert 0.5 <= (votes == 0).mean() <= 0.8
    assert votes.max() >= 20 * max(votes[votes > 0].median(), 1)
    words = (kept["title"] + " " + kept["text"]).str.split().str.len()
    assert words.rank().corr(votes.rank()) > 0.1  # Spearman, without scipy


def test_text_sentiment_follows_stars_beyond_user_and_item_means(cleaned):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    kept, _ = cleaned
    analyzer = SentimentIntensityAnalyzer()
    score = np.array([analyzer.polarity_scores(f"{t}. {x}")["compound"]
                      for t, x in zip(kept["title"], kept["text"])])
    stars = kept["rating"].to_numpy(float)
    assert 0.3 < np.corrcoef(stars, score)[0, 1] < 0.8  # signal, not a copy of the stars
    # Contradictions exist both ways.
    assert ((stars >= 4) & (score < -0.3)).sum() > 20
    assert ((stars <= 2) & (score > 0.3)).sum() > 20
    # The text says something the user's and item's mean ratings do not.
    mean = stars.mean()
    user_mean = kept.groupby("user_id")["rating"].transform("mean").to_numpy()
    item_mean = kept.groupby("item_id")["rating"].transform("mean").to_numpy()
    residual = stars - (user_mean + item_mean - mean)
    assert np.corrcoef(residual, score)[0, 1] > 0.2


def test_near_duplicates_edit_the_latest_earlier_body_of_user_and_category():
    from types import SimpleNamespace

    from tfrec_sentiment.data.demo import _near_duplicates

    user = np.array([0, 1, 0, 0, 1, 0])
    item = np.array([0, 1, 2, 1, 3, 0])
    world = SimpleNamespace(item_category=np.array([5, 5, 6, 6]))  # items 0,1: 5; 2,3: 6
    bodies = [f"body {n}." for n in range(len(user))]
    _near_duplicates(np.random.default_rng(0), user, item, bodies, world, share=1.0)
    sources = {0: None, 1: None, 2: None, 3: 0, 4: None, 5: 3}  # row -> earlier row
    for row, source in sources.items():
        if source is None:
            assert bodies[row] == f"body {row}."
        else:  # an edit of the (possibly already edited) earlier body
            assert bodies[row] != f"body {row}."
            assert bodies[source].rstrip(".") in bodies[row]
