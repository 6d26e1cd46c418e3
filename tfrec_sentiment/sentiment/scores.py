"""What the sentiment scorer reads and gives: its token feature names and `Scores`.

Both the model (`model.py`: builds the scorer, `SentimentModel.score`) and batch
inference (`inference.py`: traces and runs the scorer) use these; they live here so
that neither of those modules imports the other's internals (no import circle:
`model` imports `inference`, `inference` imports only this module and the labels).

Example:

>>> import numpy as np
>>> scores = Scores(np.array([[0.1, 0.2, 0.7], [0.2, 0.5, 0.3]], np.float32),
...                 np.array([[0.6, 0.8], [0.0, 0.0]], np.float32))
>>> scores.labels, scores.empty.tolist()
(['positive', 'none'], [False, True])
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfrec_sentiment.sentiment.empty_text import NO_TEXT_LABEL
from tfrec_sentiment.sentiment.labels import LABELS

# The packed token features (int32 [B, L] each) the scorer takes, by input name.
FEATURE_NAMES = ("token_ids", "segment_ids", "padding_mask")


@dataclasses.dataclass
class Scores:
    """Per-text outputs, rows aligned with the input texts.

    Attributes:
        probabilities: float32 [N, 3], columns in LABELS order, rows sum to 1; the
            class prior for an empty text.
        embedding: float32 [N, D], unit L2 norm; zeros for an empty text.
    """

    probabilities: np.ndarray
    embedding: np.ndarray

    @property
    def empty(self) -> np.ndarray:
        """bool [N]: the text had no token (its embedding is the zero vector)."""
        return ~np.any(self.embedding != 0, axis=1)

    @property
    def labels(self) -> list[str]:
        """Arg-max class name per text, "none" for an empty text."""
        empty = self.empty
        return [NO_TEXT_LABEL if e else LABELS[i]
                for i, e in zip(self.probabilities.argmax(axis=1), empty)]
