"""SentimentConfig defaults, validation and overrides through the run config."""

from __future__ import annotations

import pytest

from tfrec_sentiment.config import ConfigError, resolve
from tfrec_sentiment.sentiment.config import SentimentConfig


def test_buckets_are_sorted_capped_and_end_at_sequence_length():
    config = SentimentConfig(sequence_length=100, bucket_boundaries=[64, 16, 256, 3, 64])
    assert config.bucket_boundaries == (64, 16, 256, 3, 64)
    assert config.buckets == (3, 16, 64, 100)


@pytest.mark.parametrize("kwargs, line", [
    ({"sequence_length": 2}, "sequence_length=2: must be >= 3"),
    ({"bucket_boundaries": (16, 2)}, "bucket_boundaries=(16, 2): each item must be >= 3"),
    ({"dropout": 1.0}, "dropout=1.0: must be < 1.0"),
    ({"attention_dropout": -0.1}, "attention_dropout=-0.1: must be >= 0.0"),
    ({"max_train_examples": 0}, "max_train_examples=0: must be >= 1"),
    ({"tiny_hidden_dim": 10, "tiny_heads": 4}, "tiny_hidden_dim=10: must be a multiple of "
                                               "tiny_heads=4"),
    ({"sequence_length": 16, "tail_tokens": 14}, "tail_tokens=14: must be at most "
                                                 "sequence_length - 3 = 13"),
    ({"tail_tokens": -1}, "tail_tokens=-1: must be >= 0"),
])
def test_bad_values_are_refused_when_built(kwargs, line):
    with pytest.raises(ConfigError) as caught:
        SentimentConfig(**kwargs)
    assert str(caught.value) == line


def test_overrides_are_checked_at_once_with_the_section_named():
    with pytest.raises(ConfigError) as caught:
        resolve("demo", ["sentiment.sequence_length=1"])
    assert str(caught.value) == "sentiment.sequence_length=1: must be >= 3"
    with pytest.raises(ConfigError) as caught:
        resolve("demo", ["sentiment.class_weighting=inverse"])
    assert str(caught.value) == ("sentiment.class_weighting='inverse': choose one of "
                                 "balanced, sqrt, none")


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
    assert config.sentiment.buckets == (8, 24, config.sentiment.sequence_length)
