"""From review texts to an aspect vocabulary and a table of aspect mentions.

`AspectExtractor` runs the spaCy step once per text (`text.linguistic`), finds the
candidates of each review (`extract.candidates`), fits the vocabulary on the training
reviews (`vocabulary.build_vocabulary`) and lists every mention of a vocabulary term:
one row per (review, mention), the table that aspect polarity (`polarity`) scores and
that aspect profiles are built from.

A candidate whose whole term is in the vocabulary is a mention of that term; otherwise,
a candidate whose head noun is in the vocabulary is a mention of the head ("guitar
string" counts for "string" where only "string" was kept), spanning the head alone.

Mention table columns (`MENTION_COLUMNS`): `review` (the position of the review in the
texts given), `aspect`, `start` / `end` (character span of the mention), `opinion` (the
linked opinion word, "" if none), `clause_start` / `clause_end`, `sentence_start` /
`sentence_end` (character spans of its clause and sentence).

Example:

>>> extractor = AspectExtractor(AspectConfig(min_reviews=1, background="none"))
>>> texts = ["Great tone and a solid tuner.", "The tuner broke.", "Tone is warm."]
>>> vocabulary = extractor.fit(texts)
>>> vocabulary.terms
('tone', 'tuner')
>>> table = extractor.mentions(texts, vocabulary)
>>> table[["review", "aspect", "opinion"]].values.tolist()
[[0, 'tone', 'great'], [0, 'tuner', 'solid'], [1, 'tuner', 'break'], [2, 'tone', 'warm']]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.extract import Candidate, OpinionWords, candidates
from tfrec_sentiment.aspects.vocabulary import AspectVocabulary, build_vocabulary
from tfrec_sentiment.text.linguistic import LinguisticPipeline

MENTION_COLUMNS = ("review", "aspect", "start", "end", "opinion", "clause_start",
                   "clause_end", "sentence_start", "sentence_end")


class AspectExtractor:
    """The spaCy step, candidate extraction, vocabulary fitting and mention listing.

    Args:
        config: the `AspectConfig`.
        pipeline: a loaded `LinguisticPipeline` to share (default: load
            `config.linguistic`).
    """

    def __init__(self, config: AspectConfig | None = None,
                 pipeline: LinguisticPipeline | None = None):
        self.config = config or AspectConfig()
        self.pipeline = pipeline or LinguisticPipeline(self.config.linguistic)
        self.opinion = OpinionWords(self.config.opinion_verbs, self.config.min_verb_valence)

    def candidates(self, texts: Sequence[str], progress: bool = False) -> list[list[Candidate]]:
        """Per text, its aspect-term candidates (one spaCy pass over `texts`)."""
        config = self.config
        return [candidates(doc, self.pipeline.is_stop, self.opinion, config.head_pos,
                           config.non_aspects)
                for doc in self.pipeline.docs(texts, progress)]

    def fit(self, texts: Sequence[str], progress: bool = False) -> AspectVocabulary:
        """The vocabulary of the training reviews `texts`."""
        before = self.pipeline.counts["tokens"]
        found = self.candidates(texts, progress)
        return self.vocabulary(found, self.pipeline.counts["tokens"] - before)

    def vocabulary(self, found: Sequence[Sequence[Candidate]],
                   tokens: int) -> AspectVocabulary:
        """The vocabulary of the candidates `found` in training reviews of `tokens` tokens."""
        config = self.config
        return build_vocabulary(
            found, tokens, size=config.size, min_reviews=config.min_reviews,
            max_words=config.max_words, background=config.background,
            floor=config.background_floor, max_deictic_share=config.max_deictic_share,
            settings={"reviews": len(found), "pipeline": config.linguistic.pipeline,
                      "head_pos": list(config.head_pos),
                      "non_aspects": list(config.non_aspects),
                      "domain_stop_words": list(config.linguistic.domain_stop_words)})

    def mentions(self, texts: Sequence[str], vocabulary: AspectVocabulary,
                 progress: bool = False,
                 found: list[list[Candidate]] | None = None) -> pd.DataFrame:
        """The mention table of `texts` (module docstring), in text order."""
        if found is None:
            found = self.candidates(texts, progress)
        return mention_table(found, vocabulary)


def parse_candidates(extractor: AspectExtractor, texts: Sequence[str],
                     progress: bool = False) -> tuple[list, dict]:
    """The aspect candidates of each text and the spaCy step's counts for these texts
    (`LinguisticPipeline.counts`, as differences: a shared pipeline counts every parse)."""
    before = dict(extractor.pipeline.counts)
    found = extractor.candidates(texts, progress)
    return found, {k: int(v - before.get(k, 0)) for k, v in extractor.pipeline.counts.items()}


def mention_table(found: Sequence[Sequence[Candidate]],
                  vocabulary: AspectVocabulary) -> pd.DataFrame:
    """One row per candidate that names a vocabulary term (see the module docstring)."""
    rows = []
    for review, review_candidates in enumerate(found):
        for c in review_candidates:
            if c.term in vocabulary:
                aspect, start = c.term, c.start_char
            elif c.head in vocabulary:
                aspect, start = c.head, c.head_start_char
            else:
                continue
            rows.append((review, aspect, start, c.end_char, c.opinion or "", *c.clause,
                         *c.sentence))
    table = pd.DataFrame(rows, columns=list(MENTION_COLUMNS))
    for column in MENTION_COLUMNS:
        if column not in ("aspect", "opinion"):
            table[column] = table[column].astype(np.int64)
    return table
