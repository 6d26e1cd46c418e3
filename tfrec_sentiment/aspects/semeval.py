"""SemEval-2014 Task 4 (Pontiki et al. 2014): reader and the aspect-term evaluation.

The files (`Laptop_Train_v2.xml`, `Restaurants_Train_v2.xml`) hold `<sentence id=...>`
elements, each with one `<text>` and optionally `<aspectTerms>` of `<aspectTerm term=
polarity= from= to=>` (character offsets into the text; polarity positive, negative,
neutral or conflict); `<aspectCategories>` (restaurants) are not read. The reader
checks every term against its text and stops at the first fault with the file and line
(`SemEvalError`). Leading whitespace before the XML declaration (the laptop file starts
with a space, which strict XML parsers refuse) is skipped.

Two evaluations, as the task defined them (subtasks 1 and 2):

- aspect-term extraction: precision, recall and F1 of the predicted term spans against
  the gold spans, exact character spans only. Unsupervised, the vocabulary is fitted on
  the set's own sentences (their text only, never the gold terms), then every mention
  is a prediction (`aspect_spans`). Baseline (`frequent_noun_spans`): the `size` most
  frequent noun lemmas (stop words aside), each noun occurrence of them predicted as a
  one-word term: frequency without opinion links, compounds or a background.
- aspect-term polarity: accuracy and macro-F1 over positive / negative / neutral on the
  gold terms (the "conflict" terms, 45 in laptops and 91 in restaurants, are left out,
  as most later work does), each term scored on its clause or sentence: the package's
  BERT classifier against VADER and the majority class.

Published reference points (the task's test sets; these files are the training sets,
so the numbers compare only roughly): best term-extraction F1 0.84 (restaurants) and
0.75 (laptops), both supervised; best polarity accuracy 0.81 / 0.70.

Example (a file written here, two sentences):

>>> import pathlib, tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(folder.name) / "mini.xml"
>>> _ = path.write_text('''<?xml version="1.0"?><sentences>
... <sentence id="1"><text>Great battery life.</text><aspectTerms>
... <aspectTerm term="battery life" polarity="positive" from="6" to="18"/>
... </aspectTerms></sentence>
... <sentence id="2"><text>I bought it.</text></sentence></sentences>''')
>>> sentences = read_semeval(path)
>>> [(s.id, [(t.term, t.polarity, t.start, t.end) for t in s.terms]) for s in sentences]
[('1', [('battery life', 'positive', 6, 18)]), ('2', [])]
>>> span_scores({("1", 6, 18)}, {("1", 6, 18), ("2", 2, 4)})
{'precision': 0.5, 'recall': 1.0, 'f1': 0.6666666666666666, 'predicted': 2, 'gold': 1}
>>> folder.cleanup()
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.parsers import expat

import numpy as np

from tfrec_sentiment.aspects.config import AspectConfig

if TYPE_CHECKING:
    from tfrec_sentiment.aspects.mentions import AspectExtractor
    from tfrec_sentiment.sentiment.model import SentimentModel

POLARITIES = ("positive", "negative", "neutral", "conflict")
SETS = {"laptops": "Laptop_Train_v2.xml", "restaurants": "Restaurants_Train_v2.xml"}
# Published best systems of SemEval-2014 Task 4 (test sets), for orientation only.
PUBLISHED_BEST = {"laptops": {"extraction_f1": 0.7455, "polarity_accuracy": 0.7049},
                  "restaurants": {"extraction_f1": 0.8401, "polarity_accuracy": 0.8095}}


class SemEvalError(ValueError):
    """A SemEval file is malformed; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class GoldTerm:
    """One annotated aspect term: its text, polarity and character span [start, end)."""

    term: str
    polarity: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class SemEvalSentence:
    """One `<sentence>`: its id, text, gold terms and the line it starts on."""

    id: str
    text: str
    terms: tuple[GoldTerm, ...]
    line: int


def read_semeval(path: str | Path) -> list[SemEvalSentence]:
    """Reads a SemEval-2014 Task 4 XML file (module docstring).

    Raises:
        SemEvalError: naming the file and line of the first fault: XML that does not
            parse, a sentence without an id or text, a term whose span is not an
            integer range inside the text or whose text differs from `term`, a
            polarity outside `POLARITIES`, a repeated sentence id.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    data = path.read_bytes().lstrip()
    sentences: list[SemEvalSentence] = []
    state: dict = {"sentence": None, "text": None, "terms": [], "pending": [], "ids": set()}
    parser = expat.ParserCreate("UTF-8")

    def fail(message: str, line: int | None = None) -> SemEvalError:
        return SemEvalError(f"{path}:{line or parser.CurrentLineNumber}: {message}")

    def start(name: str, attributes: dict) -> None:
        if name == "sentence":
            identifier = attributes.get("id")
            if not identifier:
                raise fail("<sentence> has no id")
            if identifier in state["ids"]:
                raise fail(f"sentence id {identifier!r} is repeated")
            state.update(sentence=(identifier, parser.CurrentLineNumber), text=None,
                         terms=[], pending=[])
        elif name == "text":
            if state["sentence"] is None:
                raise fail("<text> outside a <sentence>")
            state["text"] = []
        elif name == "aspectTerm":
            if state["sentence"] is None:
                raise fail("<aspectTerm> outside a <sentence>")
            state["pending"].append((dict(attributes), parser.CurrentLineNumber))

    def characters(content: str) -> None:
        if isinstance(state["text"], list):
            state["text"].append(content)

    def end(name: str) -> None:
        if name == "text" and isinstance(state["text"], list):
            state["text"] = "".join(state["text"])
        elif name == "sentence":
            identifier, line = state["sentence"]
            text = state["text"]
            if not isinstance(text, str):
                raise fail(f"sentence {identifier!r} has no <text>", line)
            terms = tuple(_gold_term(attributes, text, lambda m, n=number: fail(m, n))
                          for attributes, number in state["pending"])
            sentences.append(SemEvalSentence(identifier, text, terms, line))
            state["ids"].add(identifier)
            state["sentence"] = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise SemEvalError(f"{path}:{error.lineno}: not well-formed XML "
                           f"({expat.ErrorString(error.code)})") from None
    return sentences


def _gold_term(attributes: dict, text: str, fail) -> GoldTerm:
    missing = [k for k in ("term", "polarity", "from", "to") if k not in attributes]
    if missing:
        raise fail(f"<aspectTerm> lacks {', '.join(missing)}")
    polarity = attributes["polarity"]
    if polarity not in POLARITIES:
        raise fail(f"polarity {polarity!r} is not one of {', '.join(POLARITIES)}")
    try:
        start, end = int(attributes["from"]), int(attributes["to"])
    except ValueError:
        raise fail(f"from={attributes['from']!r} to={attributes['to']!r} are not "
                   "integers") from None
    if not 0 <= start < end <= len(text):
        raise fail(f"span {start}:{end} is outside the text ({len(text)} characters)")
    if text[start:end] != attributes["term"]:
        raise fail(f"term {attributes['term']!r} differs from the text at {start}:{end} "
                   f"({text[start:end]!r})")
    return GoldTerm(attributes["term"], polarity, start, end)


def gold_spans(sentences: Sequence[SemEvalSentence]) -> set[tuple[str, int, int]]:
    """(sentence id, start, end) of every gold term."""
    return {(s.id, t.start, t.end) for s in sentences for t in s.terms}


def span_scores(gold: set, predicted: set) -> dict:
    """Exact-span precision, recall, F1 and the two counts."""
    hits = len(gold & predicted)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "predicted": len(predicted), "gold": len(gold)}


def frequent_noun_spans(docs: Sequence, ids: Sequence[str], is_stop, size: int) -> set:
    """Baseline predictions: each occurrence of the `size` most frequent noun lemmas."""
    counts = Counter(t.lemma_.lower() for doc in docs for t in doc
                     if t.pos_ == "NOUN" and not is_stop(t) and t.is_alpha)
    kept = {term for term, _ in counts.most_common(size)}
    return {(i, t.idx, t.idx + len(t)) for doc, i in zip(docs, ids) for t in doc
            if t.pos_ == "NOUN" and t.lemma_.lower() in kept}


def polarity_scores(gold: Sequence[str], predicted: Sequence[str],
                    labels: Sequence[str] = ("negative", "neutral", "positive")) -> dict:
    """Accuracy and macro-F1 (over `labels`) of predicted polarity names."""
    from sklearn.metrics import f1_score

    gold, predicted = np.asarray(gold), np.asarray(predicted)
    recall = {label: float(np.mean(predicted[gold == label] == label))
              for label in labels if np.any(gold == label)}
    return {"accuracy": float(np.mean(gold == predicted)) if len(gold) else 0.0,
            "recall": recall,
            "macro_f1": float(f1_score(gold, predicted, labels=list(labels), average="macro",
                                       zero_division=0)),
            "n": int(len(gold))}


def evaluate_semeval(path: str | Path, config: AspectConfig | None = None,
                     model: SentimentModel | None = None,
                     contexts: Sequence[str] = ("sentence",), progress: bool = False,
                     extractor: AspectExtractor | None = None, **score_options) -> dict:
    """Both evaluations (module docstring) on one SemEval file.

    Args:
        path: the XML file.
        config: the aspect settings (vocabulary size, background, ...).
        model: the fine-tuned `SentimentModel` for BERT polarity (None: VADER only).
        contexts: the mention contexts to score polarity on ("clause", "sentence").
        progress: progress bars.
        extractor: an `AspectExtractor` to reuse (its spaCy pipeline is loaded once).
        score_options: passed to `SentimentModel.score`.

    Returns:
        {"sentences", "terms", "extraction": {method: span scores},
         "vocabulary": the first terms of ours, "polarity": {context: {method: scores}},
         "conflict_terms_left_out", "seconds": {...}}.
    """
    import time

    from tfrec_sentiment.aspects.extract import candidates, clause_span
    from tfrec_sentiment.aspects.mentions import AspectExtractor, mention_table
    from tfrec_sentiment.aspects.polarity import score_mentions

    started = time.perf_counter()
    config = config or AspectConfig()
    extractor = extractor or AspectExtractor(config)
    sentences = read_semeval(path)
    ids = [s.id for s in sentences]
    texts = [s.text for s in sentences]
    docs = list(extractor.pipeline.docs(texts, progress))
    parsed = time.perf_counter()
    is_stop = extractor.pipeline.is_stop
    found = [candidates(doc, is_stop, extractor.opinion, config.head_pos, config.non_aspects)
             for doc in docs]
    tokens = sum(len(doc) for doc in docs)
    gold = gold_spans(sentences)
    extraction, vocabularies = {}, {}
    for name, background in (("aspects", config.background), ("aspects, no background", "none")):
        variant = AspectExtractor(dataclasses.replace(config, background=background),
                                  extractor.pipeline)
        vocabulary = variant.vocabulary(found, tokens)
        table = mention_table(found, vocabulary)
        predicted = {(ids[r], s, e) for r, s, e in
                     zip(table["review"], table["start"], table["end"])}
        extraction[name] = span_scores(gold, predicted)
        vocabularies[name] = list(vocabulary.terms[:15])
    extraction["frequent nouns"] = span_scores(
        gold, frequent_noun_spans(docs, ids, is_stop, config.size))

    rows, labels, conflicts = [], [], 0
    for review, (sentence, doc) in enumerate(zip(sentences, docs)):
        for term in sentence.terms:
            if term.polarity == "conflict":
                conflicts += 1
                continue
            span = doc.char_span(term.start, term.end, alignment_mode="expand")
            clause = clause_span(doc, span.root.i)
            sent = span.root.sent
            rows.append((review, clause.start_char, clause.end_char, sent.start_char,
                         sent.end_char))
            labels.append(term.polarity)
    import pandas as pd

    table = pd.DataFrame(rows, columns=["review", "clause_start", "clause_end",
                                        "sentence_start", "sentence_end"])
    majority = Counter(labels).most_common(1)[0][0] if labels else "positive"
    polarity = {}
    for context in contexts:
        scored = score_mentions(table, texts, model, context, progress, **score_options)
        polarity[context] = {"majority class": polarity_scores(labels, [majority] * len(labels)),
                             "vader": polarity_scores(labels, scored["vader_label"])}
        if model is not None:
            polarity[context]["bert"] = polarity_scores(labels, scored["bert_label"])
    return {"file": str(path), "sentences": len(sentences), "terms": len(gold),
            "tokens": tokens, "vocabulary_size": config.size, "extraction": extraction,
            "vocabulary": vocabularies, "polarity": polarity,
            "conflict_terms_left_out": conflicts,
            "seconds": {"spacy": round(parsed - started, 1),
                        "total": round(time.perf_counter() - started, 1)}}


def results_table(results: dict[str, dict]) -> str:
    """Markdown tables of `evaluate_semeval` results keyed by set name."""
    lines = ["| set | term extraction | precision | recall | F1 | predicted | gold |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, result in results.items():
        for method, s in result["extraction"].items():
            lines.append(f"| {name} | {method} (size {result['vocabulary_size']}) | "
                         f"{s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                         f"{s['predicted']} | {s['gold']} |")
        best = PUBLISHED_BEST.get(name)
        if best:
            lines.append(f"| {name} | best SemEval-2014 system (supervised, test set) | | | "
                         f"{best['extraction_f1']:.3f} | | |")
    lines += ["", "| set | polarity on gold terms | context | n | accuracy | macro-F1 | "
              "recall per class |", "|---|---|---|---:|---:|---:|---|"]
    for name, result in results.items():
        for context, methods in result["polarity"].items():
            for method, s in methods.items():
                recall = ", ".join(f"{k} {v:.2f}" for k, v in s["recall"].items())
                lines.append(f"| {name} | {method} | {context} | {s['n']} | "
                             f"{s['accuracy']:.3f} | {s['macro_f1']:.3f} | {recall} |")
        best = PUBLISHED_BEST.get(name)
        if best:
            lines.append(f"| {name} | best SemEval-2014 system (supervised, test set) | | | "
                         f"{best['polarity_accuracy']:.3f} | | |")
    return "\n".join(lines)
