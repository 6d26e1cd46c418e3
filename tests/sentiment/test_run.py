"""The stand-alone run's data: a review file split by time, labels from stars."""

from __future__ import annotations

import json

import numpy as np

from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.run import load_sentiment_data

WORDS = ["great", "bad", "fine", "love", "broke", "okay", "sound", "cable", "works", "strings"]


def write_reviews(path, n: int = 60) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        for i in range(n):
            record = {
                "reviewerID": f"U{i % 12}", "asin": f"I{i}", "overall": float(i % 5 + 1),
                "summary": f"title {i}", "helpful": [0, 0],
                "reviewText": " ".join(rng.choice(WORDS, size=6)) + f" review {i}",
                "unixReviewTime": 1_300_000_000 + 86_400 * i,
            }
            handle.write(json.dumps(record) + "\n")


def test_review_file_is_split_by_time_with_star_labels(tmp_path):
    path = tmp_path / "reviews.json"
    write_reviews(path)
    data = load_sentiment_data(str(path), SentimentConfig(max_train_examples=20), None,
                               data_format="amazon2014")
    held_out = data.held_out[0]
    assert len(data.train) == 20  # capped: the newest 20 of the training period
    assert len(data.train) + len(data.validation) + len(held_out) <= 60
    assert len(held_out) > 0 and len(data.validation) > 0
    # Review i has i % 5 + 1 stars and the i-th day: the newest are the test rows.
    test_ids = sorted(int(t.rsplit(" ", 1)[1]) for t in held_out.texts)
    train_ids = [int(t.rsplit(" ", 1)[1]) for t in data.train.texts]
    assert min(test_ids) > max(train_ids)
    expected = [0 if i % 5 < 2 else 1 if i % 5 == 2 else 2 for i in train_ids]
    assert data.train.labels.tolist() == expected
    assert all(t.startswith("title ") for t in data.train.texts)
