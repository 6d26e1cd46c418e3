"""Fixtures of the sentiment tests: tiny configs, a tiny model and small labelled sets."""

from __future__ import annotations

import numpy as np
import pytest

from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE

POSITIVE_TEXTS = ["great strings, love them", "works fine and sounds good", "love this cable",
                  "great guitar, great sound", "good and works", "the sound is great"]
NEGATIVE_TEXTS = ["bad cable, it broke", "hate it, not good", "broke after a day, bad",
                  "the strings are bad", "not fine at all", "bad bad bad sound"]
NEUTRAL_TEXTS = ["ok", "it is okay", "the cable is a cable", "fine i guess, ok"]


@pytest.fixture
def tiny_config() -> SentimentConfig:
    return SentimentConfig(preset="tiny", epochs=2, batch_size=4, inference_batch_size=8,
                           sequence_length=32, bucket_boundaries=(8, 16, 32),
                           learning_rate=1e-3, warmup_fraction=0.0)


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny BERT shared by the sentiment tests that only read it (score, save, trace):
    one build and one set of traced scoring graphs (its tests share an xdist worker,
    tests/conftest.py). A test that changes a model builds its own. One layer, 8 wide:
    its tests read shapes, contracts and agreements, not the model's size, and tracing
    its scoring graphs is most of their cost."""
    from tfrec_sentiment.sentiment.model import SentimentModel

    config = SentimentConfig(preset="tiny", tiny_layers=1, tiny_hidden_dim=8, sequence_length=32,
                             bucket_boundaries=(8, 16, 32))
    return SentimentModel.from_config(config)


def labelled(n_repeat: int = 2, name: str = "toy") -> LabelledTexts:
    texts = (POSITIVE_TEXTS + NEGATIVE_TEXTS + NEUTRAL_TEXTS) * n_repeat
    labels = ([POSITIVE] * len(POSITIVE_TEXTS) + [NEGATIVE] * len(NEGATIVE_TEXTS)
              + [NEUTRAL] * len(NEUTRAL_TEXTS)) * n_repeat
    return LabelledTexts(name, texts, np.array(labels, np.int32), binary=False)
