"""The aspects stage of a training run: training reviews -> vocabulary, mentions, profiles.

`run_aspects` reads the TRAINING reviews only (the newest `max_reviews` of them when
set): spaCy parses them once (`text.linguistic`), the vocabulary is fitted on them,
their mentions are listed and scored (the run's BERT classifier through the run's score
cache, so a context met twice, or already scored as a whole review, is not scored
again; VADER beside it), and `profiles.build_profiles` turns the mentions into the
`AspectProfiles` that the `explain` signature reads. The per-review arrays of the same
mentions feed the "aspect" feature group (`features/aspects.py`). No validation or
test review enters anything here: `explanation_mentions` parses the test reviews
later, for the evaluation only.

Writes `<run>/aspects/`: `vocabulary.json` (`AspectVocabulary.save`),
`aspect_profiles.npz` (`AspectProfiles.save`), `mentions.csv` (one row per aspect: its
mentions, reviews, users, items, mean BERT and VADER polarity and the shares of
positive and negative mentions; no text, no id) and `summary.json` (the spaCy step's
counts, the number of mentions, the polarity source, seconds per step).

Example:

>>> run = run_aspects(config.aspects, split.train, sentiment, run_dir / "aspects",
...                   cache=cache)                                    # doctest: +SKIP
>>> run.profiles.num_aspects, run.summary["spacy"]["reviews"]        # doctest: +SKIP
(100, 6197)
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.mentions import AspectExtractor, mention_table, parse_candidates
from tfrec_sentiment.aspects.parsed import load_parsed, parsed_rows
from tfrec_sentiment.aspects.polarity import score_mentions
from tfrec_sentiment.aspects.profiles import (
    PROFILES_FILE,
    AspectProfiles,
    build_profiles,
    review_aspect_arrays,
)
from tfrec_sentiment.aspects.vocabulary import AspectVocabulary
from tfrec_sentiment.io import atomic_write
from tfrec_sentiment.sentiment.labels import review_texts

if TYPE_CHECKING:
    from tfrec_sentiment.sentiment.model import SentimentModel

VOCABULARY_FILE = "vocabulary.json"
MENTIONS_FILE = "mentions.csv"
SUMMARY_FILE = "summary.json"
# What the stage leaves in `<run>/aspects/` (the parse's own file is read, then deleted).
RESULT_FILES = (VOCABULARY_FILE, MENTIONS_FILE, PROFILES_FILE, SUMMARY_FILE)
# `summary.json`'s "spacy_parse" when the parse ran in `pipeline.background`'s child.
PARSED_IN_BACKGROUND = "a background process"


@dataclasses.dataclass
class AspectRun:
    """What the stage produced (also on disk, module docstring).

    Attributes:
        vocabulary: the training reviews' aspect vocabulary.
        mentions: the mention table with polarity (`review` = row of the train frame).
        profiles: the `AspectProfiles` of the training period.
        counts, polarity: float32 [N, A] per training row (`review_aspect_arrays`).
        summary: what `summary.json` holds.
        extractor: the loaded spaCy step, reused by `explanation_mentions`.
    """

    vocabulary: AspectVocabulary
    mentions: pd.DataFrame
    profiles: AspectProfiles
    counts: np.ndarray
    polarity: np.ndarray
    summary: dict
    extractor: AspectExtractor


def run_aspects(config: AspectConfig, train: pd.DataFrame, model: SentimentModel | None,
                out_dir: str | Path | None = None, *, cache=None, score_options: dict | None = None,
                progress: bool = False, extractor: AspectExtractor | None = None,
                encryption=None, parsed: str | Path | None = None) -> AspectRun:
    """Vocabulary, scored mentions and profiles of the training reviews `train`.

    Args:
        config: the run's `AspectConfig`.
        train: the TRAIN split (canonical columns; `text`, `title`, ids, `timestamp`).
        model: the run's sentiment model (None: only VADER; then `polarity` must be
            "vader").
        out_dir: where to write the files (module docstring); None = nowhere.
        cache: the run's `ScoreCache` for the BERT scores.
        score_options: `SentimentModel.score` keywords (`inference.scoring_options`).
        progress: progress bars (spaCy, BERT).
        extractor: a loaded `AspectExtractor` to reuse (tests pass a stand-in).
        encryption: the run's `TableEncryption`, for the profiles' user part.
        parsed: the file of these reviews' parse, made beforehand (`aspects.parsed`, in
            a background process): read (after `load_parsed` checks it is this parse)
            and deleted, no parse here.

    Raises:
        ValueError: `polarity` "bert" without a model.
        ParsedMismatchError: `parsed` is the parse of other reviews or settings.
    """
    if config.polarity == "bert" and model is None:
        raise ValueError("aspects.polarity='bert' needs the run's sentiment model; "
                         "use aspects.polarity=vader")
    seconds = {}
    start = time.perf_counter()
    extractor = extractor or AspectExtractor(config)
    rows = parsed_rows(train, config.max_reviews)
    texts = review_texts(train.iloc[rows])
    if parsed is not None:  # checked to be these reviews' parse, then deleted
        found, counts = load_parsed(parsed, texts, rows, repr(config))
        Path(parsed).unlink()
    else:
        found, counts = parse_candidates(extractor, texts, progress)
    vocabulary = extractor.vocabulary(found, counts.get("tokens", 0))
    table = mention_table(found, vocabulary)
    seconds["spacy"] = time.perf_counter() - start
    start = time.perf_counter()
    scored = score_mentions(table, texts, model if config.polarity == "bert" else None,
                            config.context, progress, cache=cache, **(score_options or {}))
    scored["review"] = rows[scored["review"].to_numpy()] if len(scored) else scored["review"]
    seconds["polarity"] = time.perf_counter() - start
    start = time.perf_counter()
    terms = vocabulary.terms
    review_counts, review_polarity = review_aspect_arrays(scored, len(train), terms,
                                                          config.polarity)
    profiles = build_profiles(scored, train, terms, polarity=config.polarity,
                              prior_strength=config.prior_strength,
                              attention_strength=config.attention_strength)
    seconds["profiles"] = time.perf_counter() - start
    summary = {"polarity": config.polarity, "training_reviews": len(train),
               "parsed_reviews": len(rows), "aspects": len(terms), "mentions": len(scored),
               "reviews_with_mentions": int(scored["review"].nunique()) if len(scored) else 0,
               "spacy": counts, "seconds": {k: round(v, 2) for k, v in seconds.items()},
               "spacy_parse": PARSED_IN_BACKGROUND if parsed is not None else "this process"}
    run = AspectRun(vocabulary, scored, profiles, review_counts, review_polarity, summary,
                    extractor)
    if out_dir is not None:
        save_aspect_run(run, train, out_dir, encryption)
    return run


def mention_summary(mentions: pd.DataFrame, train: pd.DataFrame,
                    aspects: tuple[str, ...]) -> pd.DataFrame:
    """One row per aspect, vocabulary order: mentions, reviews, users, items, mean
    polarity (BERT, VADER) and the shares of positive / negative BERT and VADER labels."""
    columns = ["aspect", "mentions", "reviews", "users", "items", "bert_mean", "vader_mean",
               "bert_positive", "bert_negative", "vader_positive", "vader_negative"]
    if not len(mentions):
        return pd.DataFrame({c: pd.Series(dtype=object if c == "aspect" else float)
                             for c in columns})
    frame = mentions.assign(user=train["user_id"].to_numpy()[mentions["review"].to_numpy()],
                            item=train["item_id"].to_numpy()[mentions["review"].to_numpy()])
    grouped = frame.groupby("aspect", sort=False)
    out = pd.DataFrame({
        "mentions": grouped.size(), "reviews": grouped["review"].nunique(),
        "users": grouped["user"].nunique(), "items": grouped["item"].nunique(),
        "bert_mean": grouped["bert_polarity"].mean(),
        "vader_mean": grouped["vader_compound"].mean(),
        "bert_positive": grouped["bert_label"].apply(lambda s: (s == "positive").mean()),
        "bert_negative": grouped["bert_label"].apply(lambda s: (s == "negative").mean()),
        "vader_positive": grouped["vader_label"].apply(lambda s: (s == "positive").mean()),
        "vader_negative": grouped["vader_label"].apply(lambda s: (s == "negative").mean()),
    }).reindex(list(aspects)).fillna({"mentions": 0, "reviews": 0, "users": 0, "items": 0})
    return out.rename_axis("aspect").reset_index()[columns]


def save_aspect_run(run: AspectRun, train: pd.DataFrame, out_dir: str | Path,
                    encryption=None) -> Path:
    """Writes the stage's four files into `out_dir` (module docstring); the profiles'
    user part encrypted with `encryption` (`AspectProfiles.save`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run.vocabulary.save(out_dir / VOCABULARY_FILE)
    run.profiles.save(out_dir, encryption)
    summary = mention_summary(run.mentions, train, run.vocabulary.terms)
    atomic_write(out_dir / MENTIONS_FILE, summary.to_csv(index=False, float_format="%.4f"))
    atomic_write(out_dir / SUMMARY_FILE, json.dumps(run.summary, indent=1) + "\n")
    return out_dir


def explanation_mentions(run: AspectRun, frame: pd.DataFrame,
                         progress: bool = False) -> list[set[str]]:
    """Per row of `frame` (e.g. the test split), the vocabulary aspects its review
    mentions (spaCy with the training vocabulary; no polarity, nothing stored)."""
    found = run.extractor.candidates(review_texts(frame), progress)
    table = mention_table(found, run.vocabulary)
    out: list[set[str]] = [set() for _ in range(len(frame))]
    for review, aspect in zip(table["review"].to_numpy(), table["aspect"].to_numpy()):
        out[int(review)].add(str(aspect))
    return out
