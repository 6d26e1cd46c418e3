"""The aspect vocabulary of a data set: opinionated noun terms, ranked against a background.

From the candidates of the training reviews (`extract.candidates`), a term t gets

- `reviews` (df): training reviews that mention it; `mentions`: its occurrences;
- `opinion_reviews` (odf): reviews in which the parse links it to an opinion word;
- `weirdness` w(t) = p_domain(t) / p_general(t), the ratio of its relative frequency in
  these reviews (mentions / tokens) to its frequency in general English (Ahmad, Gillam &
  Tostevin, "University of Surrey participation in TREC8: weirdness indexing for logical
  document extrapolation and retrieval", TREC 1999). The general-English frequencies
  come from `wordfreq` (Speer 2022, doi:10.5281/zenodo.7199437: Wikipedia, subtitles,
  news, books, web text, Twitter and Reddit merged), floored at `background_floor`;
- score(t) = odf(t) x ln w(t) where w(t) > 1, else 0: an opinion frequency weighted
  like TF-IDF, by how much more the term is used here than in English at large.

Generic nouns are frequent everywhere ("thing", "way", "time", "lot", "problem"): their
weirdness stays near 1 and their score near 0, however often reviews praise them;
domain nouns ("pedal", "fretboard", "tuner") are rare in general English and rise.
Nouns that name no aspect at all ("a bit", "a lot of", "problem", "thing", "day") never
reach the counts: `extract.non_aspect` leaves them out of the candidates.
`background="none"` ranks by odf alone (the baseline the weighting is measured
against). Terms need `min_reviews` opinionated reviews; the best `size` are kept.

The reviewed thing itself is no aspect of it (SemEval-2014 Task 4 annotates the aspects
of a laptop or a restaurant, not "laptop" or "place"), and reviews name it with a
demonstrative or a possessive: "this laptop", "my guitar", "this place". A term whose
share of such mentions (`deictic_share`) exceeds `max_deictic_share` (0.2) is left
out. Measured on the SemEval training sentences: laptop 0.37, computer 0.32, netbook
0.35, place 0.44, restaurant 0.25 against screen 0.01, keyboard 0.02, battery 0.05,
food 0.02, service 0.0 (our heuristic, not from the literature).

Saved as one JSON file (`save` / `load`): the terms with their statistics, ranked, and
the settings that built them.

Example:

>>> from tfrec_sentiment.aspects.extract import Candidate
>>> def c(term, opinion):
...     return Candidate(term, term.split()[-1], 0, 1, 0, 1, 0, 0, opinion)
>>> reviews = [[c("thing", "great"), c("tuner", "accurate")]] * 3 + [[c("thing", "good")]] * 5
>>> vocabulary = build_vocabulary(reviews, total_tokens=20_000, size=5, min_reviews=2)
>>> vocabulary.terms
('tuner',)
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from tfrec_sentiment.aspects.config import BACKGROUNDS
from tfrec_sentiment.aspects.extract import Candidate
from tfrec_sentiment.io import atomic_write

FORMAT = "tfrec_sentiment.aspect_vocabulary"
FORMAT_VERSION = 1
COLUMNS = ("term", "score", "opinion_reviews", "reviews", "mentions", "deictic_share",
           "background_frequency", "weirdness")


class VocabularyError(ValueError):
    """A saved vocabulary file is malformed (named with the file and the field)."""


@dataclasses.dataclass
class AspectVocabulary:
    """Ranked aspect terms and their statistics.

    Attributes:
        table: one row per kept term, best first; columns `COLUMNS`.
        settings: what built it (background, size, min_reviews, reviews, tokens, ...).
    """

    table: pd.DataFrame
    settings: dict = dataclasses.field(default_factory=dict)

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.table["term"])

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, term: object) -> bool:
        return term in self._index

    @property
    def _index(self) -> dict[str, int]:
        return {term: i for i, term in enumerate(self.table["term"])}

    def save(self, path: str | Path) -> Path:
        """Writes the vocabulary as JSON (atomically); returns the path."""
        rows = self.table.to_dict(orient="records")
        body = {"format": FORMAT, "version": FORMAT_VERSION, "settings": self.settings,
                "terms": rows}
        return atomic_write(path, json.dumps(body, indent=1, default=float) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> AspectVocabulary:
        """Reads a file written by `save`.

        Raises:
            VocabularyError: naming the file and what is wrong (not JSON, another
                format, a term without a name, a missing column).
        """
        path = Path(path)
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise VocabularyError(f"{path}: not a readable JSON vocabulary ({error})") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise VocabularyError(f"{path}: format is not {FORMAT!r}")
        if body.get("version") != FORMAT_VERSION:
            raise VocabularyError(f"{path}: version {body.get('version')!r} is not "
                                  f"{FORMAT_VERSION}")
        rows = body.get("terms")
        if not isinstance(rows, list):
            raise VocabularyError(f"{path}: field 'terms' must be a list")
        for number, row in enumerate(rows):
            missing = [c for c in COLUMNS if not isinstance(row, dict) or c not in row]
            if missing:
                raise VocabularyError(f"{path}: terms[{number}] lacks {', '.join(missing)}")
            if not isinstance(row["term"], str) or not row["term"].strip():
                raise VocabularyError(f"{path}: terms[{number}].term must be a non-empty string")
        table = pd.DataFrame(rows, columns=list(COLUMNS))
        return cls(table, dict(body.get("settings") or {}))


def background_frequency(terms: Sequence[str]) -> dict[str, float]:
    """General-English frequency of each term (wordfreq, "en"); 0.0 where unknown.

    A term of several words gets wordfreq's phrase estimate (its words' frequencies
    combined as if independent).
    """
    from wordfreq import word_frequency

    return {term: float(word_frequency(term, "en")) for term in terms}


def term_statistics(reviews: Iterable[Sequence[Candidate]],
                    max_words: int = 3) -> pd.DataFrame:
    """Per-term counts over the reviews' candidates: `term`, `mentions`, `reviews`,
    `opinion_reviews`, `deictic_share` (share of mentions with "this", "my", ...), sorted
    by term. Terms longer than `max_words` count as their head.
    """
    mentions, df, odf, deictic = Counter(), Counter(), Counter(), Counter()
    for candidates in reviews:
        seen, opinionated = set(), set()
        for candidate in candidates:
            term = candidate.term
            if len(term.split()) > max_words:
                term = candidate.head
            mentions[term] += 1
            deictic[term] += candidate.deictic
            seen.add(term)
            if candidate.opinion is not None:
                opinionated.add(term)
        df.update(seen)
        odf.update(opinionated)
    terms = sorted(mentions)
    return pd.DataFrame({"term": terms, "mentions": [mentions[t] for t in terms],
                         "reviews": [df[t] for t in terms],
                         "opinion_reviews": [odf[t] for t in terms],
                         "deictic_share": [deictic[t] / mentions[t] for t in terms]})


def term_scores(stats: pd.DataFrame, total_tokens: int, background: str = "wordfreq",
                floor: float = 1e-7) -> pd.DataFrame:
    """`stats` with `background_frequency`, `weirdness` and `score` (module docstring)."""
    if background not in BACKGROUNDS:
        raise ValueError(f"background {background!r}: choose one of {', '.join(BACKGROUNDS)}")
    out = stats.copy()
    if background == "none" or out.empty:
        out["background_frequency"] = float("nan")
        out["weirdness"] = float("nan")
        out["score"] = out["opinion_reviews"].astype(float)
        return out
    general = background_frequency(out["term"].tolist())
    out["background_frequency"] = [general[t] for t in out["term"]]
    domain = out["mentions"] / max(int(total_tokens), 1)
    out["weirdness"] = domain / out["background_frequency"].clip(lower=floor)
    out["score"] = [odf * math.log(w) if w > 1 else 0.0
                    for odf, w in zip(out["opinion_reviews"], out["weirdness"])]
    return out


def build_vocabulary(reviews: Iterable[Sequence[Candidate]], total_tokens: int, size: int = 100,
                     min_reviews: int = 3, max_words: int = 3, background: str = "wordfreq",
                     floor: float = 1e-7, max_deictic_share: float = 0.2,
                     settings: dict | None = None) -> AspectVocabulary:
    """The `size` best terms of the training reviews' candidates.

    Args:
        reviews: per training review, its candidates (`extract.candidates`).
        total_tokens: tokens of those reviews (the domain frequency's denominator).
        size, min_reviews, max_words, background, floor, max_deictic_share: see
            `AspectConfig`.
        settings: extra entries saved with the vocabulary.

    Returns:
        an `AspectVocabulary`, best first (ties by opinion reviews, then by term).
    """
    stats = term_statistics(reviews, max_words)
    stats = stats[(stats["opinion_reviews"] >= min_reviews)
                  & (stats["deictic_share"] <= max_deictic_share)]
    scored = term_scores(stats, total_tokens, background, floor)
    scored = scored[scored["score"] > 0]
    ranked = scored.sort_values(["score", "opinion_reviews", "term"],
                                ascending=[False, False, True], kind="stable").head(size)
    meta = {"background": background, "size": size, "min_reviews": min_reviews,
            "max_words": max_words, "floor": floor, "max_deictic_share": max_deictic_share,
            "tokens": int(total_tokens),
            **(settings or {})}
    return AspectVocabulary(ranked[list(COLUMNS)].reset_index(drop=True), meta)
