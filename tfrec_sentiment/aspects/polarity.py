"""Aspect-level polarity: the package's BERT classifier on each mention's clause, and VADER.

Each mention (a row of the mention table, `mentions.MENTION_COLUMNS`) is scored on the
text around it, `context`: its sentence (the default: it scored better on SemEval-2014,
docs/aspects.md) or its clause ("The sound is great" of "The sound is great but the
cable broke"; `extract.clause_span`). The scorer is the
package's own fine-tuned 3-class classifier (`sentiment.model.SentimentModel`), batch
scoring with its cache (`SentimentModel.score`): a clause met twice is scored once.
VADER (Hutto & Gilbert 2014) reads the same context, side by side, as the lexicon
baseline.

Columns added (`POLARITY_COLUMNS`): `context` (the text scored), `bert_negative`,
`bert_neutral`, `bert_positive` (probabilities), `bert_polarity` = P(positive) -
P(negative) in [-1, 1], `bert_label`; `vader_compound` in [-1, 1] and `vader_label`
(the authors' rule: positive at >= 0.05, negative at <= -0.05, else neutral).

Example (VADER only: `model=None`):

>>> import pandas as pd
>>> texts = ["Great sound, but the cable broke."]
>>> table = pd.DataFrame({"review": [0, 0], "clause_start": [0, 17],
...                       "clause_end": [11, 33], "sentence_start": [0, 0],
...                       "sentence_end": [33, 33]})
>>> scored = score_mentions(table, texts, model=None, context="clause")
>>> scored["context"].tolist(), scored["vader_label"].tolist()
(['Great sound', 'the cable broke.'], ['positive', 'negative'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.aspects.config import CONTEXTS
from tfrec_sentiment.sentiment.baselines import VADER_NEUTRAL_BAND, vader_compound
from tfrec_sentiment.sentiment.labels import LABELS

if TYPE_CHECKING:
    from tfrec_sentiment.sentiment.model import SentimentModel

POLARITY_COLUMNS = ("context", "bert_negative", "bert_neutral", "bert_positive",
                    "bert_polarity", "bert_label", "vader_compound", "vader_label")


def mention_contexts(table: pd.DataFrame, texts: Sequence[str],
                     context: str = "sentence") -> list[str]:
    """The text each mention is scored on: its clause or its sentence, stripped."""
    if context not in CONTEXTS:
        raise ValueError(f"context {context!r}: choose one of {', '.join(CONTEXTS)}")
    starts = table[f"{context}_start"].to_numpy()
    ends = table[f"{context}_end"].to_numpy()
    return [texts[review][start:end].strip()
            for review, start, end in zip(table["review"].to_numpy(), starts, ends)]


def vader_labels(compound: np.ndarray) -> list[str]:
    """VADER's authors' rule on compound scores [N] -> label names."""
    compound = np.asarray(compound, np.float64)
    return [LABELS[2] if c >= VADER_NEUTRAL_BAND else LABELS[0] if c <= -VADER_NEUTRAL_BAND
            else LABELS[1] for c in compound]


def score_mentions(table: pd.DataFrame, texts: Sequence[str],
                   model: SentimentModel | None, context: str = "sentence",
                   progress: bool = False, **score_options) -> pd.DataFrame:
    """The mention table with `POLARITY_COLUMNS` added (module docstring).

    Args:
        table: mentions with `review` and the `<context>_start` / `_end` columns.
        texts: the review texts the table's `review` positions index.
        model: the fine-tuned `SentimentModel`; None leaves the BERT columns NaN / "".
        context: "sentence" or "clause".
        progress: a progress bar while BERT scores.
        score_options: passed to `SentimentModel.score` (batch_size, cache, ...).

    Returns:
        a copy of `table` with the new columns, rows in the same order.
    """
    out = table.copy()
    contexts = mention_contexts(out, texts, context)
    out["context"] = contexts
    if model is not None and len(contexts):
        probabilities = model.score(contexts, progress=progress, **score_options).probabilities
    else:
        probabilities = np.full((len(contexts), len(LABELS)), np.nan, np.float32)
    for column, name in enumerate(LABELS):
        out[f"bert_{name}"] = probabilities[:, column]
    out["bert_polarity"] = probabilities[:, 2] - probabilities[:, 0]
    out["bert_label"] = ([LABELS[i] for i in probabilities.argmax(axis=1)]
                         if model is not None else [""] * len(out))
    compound = vader_compound(contexts) if len(contexts) else np.zeros(0)
    out["vader_compound"] = compound
    out["vader_label"] = vader_labels(compound)
    return out
