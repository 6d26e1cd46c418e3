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
    assert data.train_available > 20 and data.kept == "the newest"
    assert len(data.train) + len(data.validation) + len(held_out) <= 60
    assert len(held_out) > 0 and len(data.validation) > 0
    # Review i has i % 5 + 1 stars and the i-th day: the newest are the test rows.
    test_ids = sorted(int(t.rsplit(" ", 1)[1]) for t in held_out.texts)
    train_ids = [int(t.rsplit(" ", 1)[1]) for t in data.train.texts]
    assert min(test_ids) > max(train_ids)
    expected = [0 if i % 5 < 2 else 1 if i % 5 == 2 else 2 for i in train_ids]
    assert data.train.labels.tolist() == expected
    assert all(t.startswith("title ") for t in data.train.texts)


def test_sst3_keeps_neutral_and_caps_by_an_even_stride(tmp_path):
    # 20 trees in label blocks (0, 1, 2, 3, 4 four times each), as SST's file runs.
    (tmp_path / "sst").mkdir()
    lines = [f"({label} (2 word{label}) (2 tree{i}))" for label in range(5) for i in range(4)]
    (tmp_path / "sst" / "train.txt").write_text("\n".join(lines) + "\n")
    config = SentimentConfig(max_train_examples=6)
    data = load_sentiment_data("sst3", config, tmp_path)
    # 18 training trees (the last 10% held out), 6 kept at an even stride: every class.
    assert len(data.train) == 6 and set(data.train.labels.tolist()) == {0, 1, 2}
    assert data.train_available == 18 and data.kept == "an even stride over the file"
    assert not data.train.binary and data.validation.name == "sst3-train-heldout"
    binary = load_sentiment_data("sst2", SentimentConfig(), tmp_path)
    assert set(binary.train.labels.tolist()) == {0, 2}  # SST-2 drops the neutral trees
