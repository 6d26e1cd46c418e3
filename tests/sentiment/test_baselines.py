"""VADER pseudo-probabilities follow the authors' thresholds."""

from __future__ import annotations

import numpy as np

from tfrec_sentiment.sentiment.baselines import compound_to_probabilities, vader_probabilities
from tfrec_sentiment.sentiment.metrics import to_binary


def test_argmax_is_the_authors_rule_and_binary_is_the_sign():
    compound = np.array([-0.9, -0.06, -0.04, 0.0, 0.04, 0.06, 0.9])
    probabilities = compound_to_probabilities(compound)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert probabilities.argmax(axis=1).tolist() == [0, 0, 1, 1, 1, 2, 2]
    positive = to_binary(probabilities)[:, 1]
    assert (positive[compound > 0] > 0.5).all() and (positive[compound < 0] < 0.5).all()


def test_vader_scores_plain_sentences():
    probabilities = vader_probabilities(["I love this guitar", "Terrible, it broke"])
    assert probabilities.argmax(axis=1).tolist() == [2, 0]
