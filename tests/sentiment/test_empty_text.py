"""The defined answer for empty texts, and emoji read as words, on every scoring path.

The exported `sentiment` signature (served by plain TensorFlow in a fresh process) and
batch scoring (`score_texts`) give the same numbers: the class prior, a zero embedding
and the label "none" for an empty or whitespace-only text. The exported signature's
case is in tests/sentiment/test_export.py, which saves and serves one SavedModel for
its own texts and these. That fine-tuning sets the prior from its training labels is
checked on tests/sentiment/test_training.py's fine-tune (one training fewer).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.sentiment.test_export import EMPTY, EMPTY_TEXTS, PRIOR
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.empty_text import (
    NO_TEXT_LABEL,
    check_prior,
    prior_from_labels,
    uniform_prior,
)
from tfrec_sentiment.sentiment.model import SentimentModel

TEXTS = EMPTY_TEXTS


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    config = SentimentConfig(preset="tiny", tiny_layers=1, tiny_hidden_dim=8, sequence_length=32,
                             bucket_boundaries=(8, 16, 32))
    built = SentimentModel.from_config(config)
    built.set_class_prior(PRIOR)
    return built


def test_prior_helpers():
    assert prior_from_labels([2, 2, 0, 1]).tolist() == [0.25, 0.25, 0.5]
    assert prior_from_labels([0, 2]).tolist() == [0.5, 0.0, 0.5]  # a binary set
    assert prior_from_labels([]).tolist() == uniform_prior().tolist()
    assert check_prior([2, 1, 1]).tolist() == [0.5, 0.25, 0.25]
    for bad in ([0.5, 0.5], [-1, 1, 1], [0, 0, 0], [np.nan, 1, 1]):
        with pytest.raises(ValueError, match="class prior"):
            check_prior(bad)


def test_batch_scoring_answers_empty_texts_with_the_prior(model):
    scores = model.score(TEXTS, batch_size=4)
    n = len(EMPTY)
    np.testing.assert_allclose(scores.probabilities[:n], [PRIOR] * n, atol=1e-7)
    assert not scores.embedding[:n].any()
    np.testing.assert_allclose(np.linalg.norm(scores.embedding[n:], axis=1), 1.0, rtol=1e-5)
    assert scores.labels[:n] == [NO_TEXT_LABEL] * n
    assert set(scores.labels[n:]) <= {"negative", "neutral", "positive"}


def test_prior_survives_save_load_and_keys_the_fingerprint(model, tmp_path):
    model.save(tmp_path / "model")
    restored = SentimentModel.load(tmp_path / "model")
    np.testing.assert_allclose(restored.class_prior, PRIOR)
    assert restored.fingerprint() == model.fingerprint()
    np.testing.assert_allclose(restored.score([""]).probabilities, [PRIOR], atol=1e-7)
    restored.set_class_prior([1, 1, 2])  # the scorer is built: its weight follows
    np.testing.assert_allclose(restored.score([""]).probabilities, [[0.25, 0.25, 0.5]],
                               atol=1e-7)
    assert restored.fingerprint() != model.fingerprint()


def test_a_model_without_prior_answers_uniform(tiny_model):
    # tests/sentiment/conftest.py's shared model: no prior was ever set on it
    np.testing.assert_allclose(tiny_model.class_prior, [1 / 3] * 3)
    np.testing.assert_allclose(tiny_model.score(["  "]).probabilities, [[1 / 3] * 3],
                               atol=1e-7)
