"""A lexicon baseline for the sentiment model: VADER (Hutto & Gilbert, 2014).

VADER gives a compound score c in [-1, 1]; its authors' rule is positive for
c >= 0.05, negative for c <= -0.05, neutral between. To put it through the same
metrics (calibration included) its score becomes pseudo-probabilities
softmax(3 * [-c, 0.1 - |c|, c]) over (negative, neutral, positive): the arg-max is
exactly the authors' rule, and on binary sets the renormalised positive share is
sigmoid(6c), i.e. positive iff c > 0. Its ECE is therefore indicative only.

Example:

>>> probabilities = vader_probabilities(["I love it", "I hate it", "It is a box"])
>>> probabilities.argmax(axis=1).tolist()
[2, 0, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VADER_TEMPERATURE = 3.0
VADER_NEUTRAL_BAND = 0.05


def vader_compound(texts: Sequence[str]) -> np.ndarray:
    """VADER compound scores [N] in [-1, 1]."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], np.float64)


def compound_to_probabilities(compound: np.ndarray) -> np.ndarray:
    """Compound scores [N] -> pseudo-probabilities [N, 3] (see module docstring)."""
    c = np.asarray(compound, np.float64)
    logits = VADER_TEMPERATURE * np.stack([-c, 2 * VADER_NEUTRAL_BAND - np.abs(c), c], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def vader_probabilities(texts: Sequence[str]) -> np.ndarray:
    """VADER's pseudo-probabilities [N, 3] in LABELS order."""
    return compound_to_probabilities(vader_compound(texts))
