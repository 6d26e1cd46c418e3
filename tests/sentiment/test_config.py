"""SentimentConfig defaults, validation and overrides through the run config."""

from __future__ import annotations

import pytest

from tfrec_sentiment.config import resolve
from tfrec_sentiment.sentiment.config import SentimentConfig


def test_buckets_are_sorted_capped_and_end_at_sequence_length():
    config = SentimentConfig(sequence_length=100, bucket_boundaries=(64, 16, 256, 2, 64))
    assert config.buckets == (16, 64, 100)


def test_unknown_class_weighting_is_refused():
    with pytest.raises(ValueError, match="class_weighting"):
        SentimentConfig(class_weighting="inverse")


def test_run_config_overrides_reach_sentiment_fields():
    config = resolve("demo", ["sentiment.bucket_boundaries=8,24", "sentiment.batch_size=7",
                              "sentiment.max_train_examples=none", "sentiment.preset=tiny"])
    assert config.sentiment.bucket_boundaries == (8, 24)
    assert config.sentiment.batch_size == 7
    assert config.sentiment.max_train_examples is None
    assert config.sentiment.preset == "tiny"
    assert config.sentiment.buckets == (8, 24, 128)
