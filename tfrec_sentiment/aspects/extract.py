"""Aspect-term candidates in a parsed review and the opinion words linked to them.

A candidate is a noun phrase core: a head noun (not a stop word) with the nouns that
modify it as a compound ("battery life", "guitar strings"), read as the lower-case lemmas
of those tokens ("battery life", "guitar string"). Determiners and adjectives are not
part of it: SemEval-2014 Task 4 marks "battery life" in "the good battery life".

A candidate is opinionated when the dependency parse links it to an opinion word, in
the spirit of the rules of Hu & Liu (KDD 2004: frequent nouns next to adjectives) and
Qiu et al. (Computational Linguistics 37(1), 2011: double propagation over dependency
relations), kept to one step:

- `amod`: an adjective modifies the noun ("great sound");
- subject: the noun is the subject of a predicative adjective ("the sound is great",
  "the strings feel cheap") or of an opinion verb ("the cable broke");
- object: the noun is the object of an opinion verb ("I love the tone");
- preposition: the noun is the object of a preposition under an adjective ("happy with
  the tuner");
- conjunction: the noun is a conjunct (or apposition) of a linked noun ("the sound and
  the build are great").

Opinion words are adjectives (any, stop words aside) and verbs whose lemma is in VADER's
lexicon (Hutto & Gilbert 2014) with a valence of at least 1 in absolute value, or in a
configurable list of product-failure verbs ("break", "crack", "buzz", ...); VADER only
says here which words carry opinion, never the polarity of a mention.

Some nouns name no aspect however often reviews praise or blame them; `non_aspect` says
why, by rule (`NON_ASPECT_RULES`, each one switchable, measured in docs/aspects.md):

- "adverbial": the noun phrase modifies a verb or an adjective as an adverb would,
  dependency `npadvmod` ("a bit loose", "a lot better", "this time", "every day");
- "quantity": a noun with an indefinite article quantifies the noun of its "of"
  phrase ("a lot of strings", "a couple of knobs", "a pair of picks"); the aspect is
  the noun after "of" ("the quality of the sound" stays: a definite article);
- "light_verb": the noun is the object of "do", a light-verb idiom that judges the
  whole product ("does the job", "did a great job", "does the trick");
- "opinion_noun": a one-word term whose lemma has a negative valence of at least 1 in
  VADER's lexicon ("problem", "complaint", "trouble", "defect") is itself an opinion
  about an aspect, not one. Positive nouns of the lexicon stay: many are qualities that
  reviews rate ("value", "comfort", "support", "ease");
- "general_noun": a one-word term in the closed class of general nouns of Halliday &
  Hasan (Cohesion in English, 1976, chapter 6), nouns of generalised reference that
  stand for any member of their class ("thing", "stuff", "people", "matter", "idea");
- "time": a one-word term naming a unit or point of time (`TIME_NOUNS`: "time", "day",
  "week", ...), which says when or how long, not what; a compound keeps its head
  ("battery time", "wait time").

Example:

>>> from tfrec_sentiment.text.linguistic import LinguisticPipeline
>>> pipeline = LinguisticPipeline()
>>> doc = next(pipeline.docs(["I love the battery life, but the cable broke."]))
>>> [(m.term, m.opinion) for m in candidates(doc, pipeline.is_stop, OpinionWords())]
[('battery life', 'love'), ('cable', 'break')]
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# Verbs that judge a product part without being in a general sentiment lexicon.
DEFAULT_OPINION_VERBS = ("break", "crack", "buzz", "rattle", "hum", "squeak", "leak",
                         "wobble", "slip", "snap", "fray", "malfunction", "last", "work",
                         "hold", "return", "recommend", "love", "like", "hate", "enjoy")
# VADER valences at least this large (in absolute value) mark an opinion verb.
MIN_VERB_VALENCE = 1.0
# Determiners with which reviews name the reviewed thing ("this laptop", "my guitar").
DEICTIC_WORDS = ("this", "these", "that", "those", "my", "our", "your")
# Why a noun occurrence is no aspect candidate (module docstring); all on by default.
NON_ASPECT_RULES = ("adverbial", "quantity", "light_verb", "opinion_noun", "general_noun",
                    "time")
# The general nouns of Halliday & Hasan (1976, chapter 6), by lemma.
GENERAL_NOUNS = ("people", "person", "man", "woman", "child", "boy", "girl", "creature",
                 "thing", "object", "stuff", "business", "affair", "matter", "move",
                 "place", "question", "idea", "fact")
# Units and points of time, by lemma.
TIME_NOUNS = ("time", "moment", "minute", "hour", "day", "night", "morning", "evening",
              "week", "weekend", "month", "year")
# The largest (most negative) VADER valence of an opinion noun.
MAX_NOUN_VALENCE = -1.0
_SUBJECT_DEPS = ("nsubj", "nsubjpass")
_PREDICATE_DEPS = ("acomp", "attr", "oprd", "xcomp")
# Dependents of a clause head that start another clause (cut from a mention's clause).
CLAUSE_DEPS = ("conj", "advcl", "ccomp", "parataxis", "relcl", "csubj")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One aspect-term candidate in a parsed review.

    Attributes:
        term: lower-case lemmas of the compound and the head noun, space-joined.
        head: the head noun's lower-case lemma.
        start / end: token span of the term in its doc (end exclusive).
        start_char / end_char: character span of the term in the doc's text.
        head_index: token index of the head noun.
        head_start_char: character offset of the head noun.
        opinion: lemma of the linked opinion word, or None.
        deictic: the head has a demonstrative or possessive determiner ("this laptop",
            "my guitar"): the way reviews name the reviewed thing itself.
        clause: (start_char, end_char) of the clause holding the term (`clause_span`).
        sentence: (start_char, end_char) of its sentence.
    """

    term: str
    head: str
    start: int
    end: int
    start_char: int
    end_char: int
    head_index: int
    head_start_char: int
    opinion: str | None
    deictic: bool = False
    clause: tuple[int, int] = (0, 0)
    sentence: tuple[int, int] = (0, 0)


class OpinionWords:
    """Decides which tokens are opinion words (see the module docstring).

    Args:
        verbs: product-failure and judging verbs besides VADER's lexicon (lemmas).
        min_verb_valence: the smallest |VADER valence| of an opinion verb.
    """

    def __init__(self, verbs: Iterable[str] = DEFAULT_OPINION_VERBS,
                 min_verb_valence: float = MIN_VERB_VALENCE):
        self.verbs = frozenset(v.lower() for v in verbs)
        self.min_verb_valence = float(min_verb_valence)

    @functools.cached_property
    def _lexicon(self) -> dict[str, float]:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer().lexicon

    def is_verb(self, token: Token) -> bool:
        if token.pos_ != "VERB":
            return False
        lemma = token.lemma_.lower()
        return lemma in self.verbs or abs(self._lexicon.get(lemma, 0.0)) >= self.min_verb_valence

    def is_adjective(self, token: Token, is_stop: Callable[[Token], bool]) -> bool:
        return token.pos_ == "ADJ" and not is_stop(token)

    def is_negative_noun(self, lemma: str) -> bool:
        """Whether the noun `lemma` has a VADER valence <= `MAX_NOUN_VALENCE`."""
        return self._lexicon.get(lemma, 0.0) <= MAX_NOUN_VALENCE


def term_tokens(head: Token, is_stop: Callable[[Token], bool]) -> list[Token]:
    """The head noun with its contiguous compound modifiers on the left, stop words cut."""
    tokens = [head]
    left = head.i - 1
    compounds = {child.i for child in _compound_children(head)}
    while left >= 0 and left in compounds:
        tokens.insert(0, head.doc[left])
        left -= 1
    while len(tokens) > 1 and (is_stop(tokens[0]) or not tokens[0].is_alpha):
        tokens.pop(0)
    return tokens


def _compound_children(token: Token) -> list[Token]:
    found = []
    for child in token.children:
        if child.dep_ == "compound" and child.pos_ in ("NOUN", "PROPN"):
            found.append(child)
            found.extend(_compound_children(child))
    return found


def opinion_of(head: Token, opinion: OpinionWords,
               is_stop: Callable[[Token], bool], depth: int = 0) -> str | None:
    """Lemma of an opinion word the parse links to the noun `head`, or None."""
    for child in head.children:
        if child.dep_ == "amod" and opinion.is_adjective(child, is_stop):
            return child.lemma_.lower()
    governor = head.head
    if head.dep_ in _SUBJECT_DEPS:
        if opinion.is_adjective(governor, is_stop):
            return governor.lemma_.lower()
        for child in governor.children:
            if child.dep_ in _PREDICATE_DEPS and opinion.is_adjective(child, is_stop):
                return child.lemma_.lower()
        if opinion.is_verb(governor):
            return governor.lemma_.lower()
    if head.dep_ == "dobj" and opinion.is_verb(governor):
        return governor.lemma_.lower()
    if (head.dep_ == "pobj" and governor.dep_ == "prep"
            and opinion.is_adjective(governor.head, is_stop)):
        return governor.head.lemma_.lower()
    if head.dep_ in ("conj", "appos") and governor.pos_ in ("NOUN", "PROPN") and depth < 3:
        return opinion_of(governor, opinion, is_stop, depth + 1)
    return None


def non_aspect(head: Token, tokens: list[Token], opinion: OpinionWords,
               rules: tuple[str, ...] = NON_ASPECT_RULES) -> str | None:
    """The first rule of `rules` by which the term `tokens` (head noun `head`) names no
    aspect (module docstring), or None."""
    lemma = head.lemma_.lower()
    one_word = len(tokens) == 1
    for rule in rules:
        if rule == "adverbial":
            hit = head.dep_ == "npadvmod"
        elif rule == "quantity":
            hit = (any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in head.children)
                   and any(c.dep_ == "prep" and c.lower_ == "of"
                           and any(g.dep_ == "pobj" for g in c.children)
                           for c in head.children))
        elif rule == "light_verb":
            hit = head.dep_ == "dobj" and head.head.lemma_.lower() == "do"
        elif rule == "opinion_noun":
            hit = one_word and opinion.is_negative_noun(lemma)
        elif rule == "general_noun":
            hit = one_word and lemma in GENERAL_NOUNS
        elif rule == "time":
            hit = one_word and lemma in TIME_NOUNS
        else:
            raise ValueError(f"non-aspect rule {rule!r}: choose from "
                             f"{', '.join(NON_ASPECT_RULES)}")
        if hit:
            return rule
    return None


def candidates(doc: Doc, is_stop: Callable[[Token], bool], opinion: OpinionWords,
               head_pos: tuple[str, ...] = ("NOUN",),
               rules: tuple[str, ...] = NON_ASPECT_RULES) -> list[Candidate]:
    """Every aspect-term candidate of `doc`, in text order.

    Args:
        doc: a parsed review (tagger, lemmatizer and parser run).
        is_stop: the stop-word test (`LinguisticPipeline.is_stop`).
        opinion: the opinion-word test.
        head_pos: universal POS tags a head noun may have.
        rules: the `NON_ASPECT_RULES` that leave a noun out (`non_aspect`).
    """
    found = []
    for token in doc:
        if token.pos_ not in head_pos or token.dep_ == "compound" or is_stop(token):
            continue
        if not any(ch.isalpha() for ch in token.text):
            continue
        tokens = term_tokens(token, is_stop)
        if rules and non_aspect(token, tokens, opinion, rules) is not None:
            continue
        clause = clause_span(doc, token.i)
        found.append(Candidate(
            term=" ".join(t.lemma_.lower() for t in tokens),
            head=token.lemma_.lower(),
            start=tokens[0].i, end=token.i + 1,
            start_char=tokens[0].idx, end_char=token.idx + len(token),
            head_index=token.i, head_start_char=token.idx,
            opinion=opinion_of(token, opinion, is_stop),
            deictic=any(child.dep_ in ("det", "poss") and child.lower_ in DEICTIC_WORDS
                        for child in token.children),
            clause=(clause.start_char, clause.end_char),
            sentence=(token.sent.start_char, token.sent.end_char),
        ))
    return found


def clause_span(doc: Doc, index: int) -> Span:
    """The clause holding token `index`: the subtree of its nearest clause head, less
    the subtrees of dependents that start another clause (and their conjunctions).

    The span runs from the first to the last token kept that is contiguous with the
    token; a clause of one token falls back to the sentence.
    """
    token = doc[index]
    head = token
    while head.dep_ != "ROOT" and head.pos_ not in ("VERB", "AUX"):
        head = head.head
    removed: set[int] = set()
    for child in head.children:
        if child.dep_ in CLAUSE_DEPS and token not in child.subtree:
            removed.update(t.i for t in child.subtree)
        elif child.dep_ == "cc":
            removed.add(child.i)
    kept = {t.i for t in head.subtree} - removed
    start = end = index
    while start - 1 in kept:
        start -= 1
    while end + 1 in kept:
        end += 1
    span = doc[start:end + 1]
    if len(span) <= 1:
        return token.sent
    return span
