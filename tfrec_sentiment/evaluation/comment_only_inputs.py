"""What the comment-only protocol reads from a run: its config, split and sentiment scores.

The sentiment comes from the run's fine-tuned classifier (through its score cache) or,
star-free from the start, from the VADER lexicon.

Example:

>>> config, split, train, validation = load_run_scores("runs/x", "vader")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SENTIMENT_SOURCES = ("classifier", "vader")  # the run's fine-tuned BERT, or VADER


def score_reviews(sentiment: Any, frame: pd.DataFrame, config: Any, run_dir: str | Path,
                  progress: bool = False) -> Any:
    """The classifier's `Scores` of `frame`'s reviews, through the run's score cache."""
    from tfrec_sentiment.privacy import table_encryption
    from tfrec_sentiment.sentiment import inference

    settings = config.sentiment
    cache = inference.run_score_cache(settings, run_dir, table_encryption(config.privacy))
    return inference.score_reviews(sentiment, frame, settings, cache, progress)


def load_run_scores(run_dir: str | Path, sentiment_source: str = "classifier"
                    ) -> tuple[Any, Any, Any, Any]:
    """A finished run's config, split and the train / validation `Scores`.

    "classifier": the run's fine-tuned model (training rows from the score cache,
    validation rows scored and cached); "vader": the VADER lexicon, with empty
    [N, 0] embeddings and the config's text features switched off (features.use_text,
    recsys.use_text).
    """
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.privacy import table_encryption
    from tfrec_sentiment.sentiment.model import Scores, SentimentModel

    if sentiment_source not in SENTIMENT_SOURCES:
        raise ValueError(f"sentiment_source {sentiment_source!r} not in {SENTIMENT_SOURCES}")
    run = Path(run_dir)
    config = config_lib.load(run / "config.json")
    split = Split.load(run / "data", table_encryption(config.privacy))
    if sentiment_source == "vader":
        from tfrec_sentiment.sentiment.baselines import vader_probabilities
        from tfrec_sentiment.sentiment.labels import review_texts

        config = config_lib.apply_overrides(config, ["features.use_text=false",
                                                     "recsys.use_text=false"])
        scores = [Scores(vader_probabilities(review_texts(frame)),
                         np.zeros((len(frame), 0), np.float32))
                  for frame in (split.train, split.validation)]
        return config, split, *scores
    sentiment = SentimentModel.load(run / "sentiment" / "model")
    return (config, split, score_reviews(sentiment, split.train, config, run),
            score_reviews(sentiment, split.validation, config, run))
