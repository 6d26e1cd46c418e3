import pytest

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.extract import OpinionWords, candidates, clause_span, non_aspect
from tfrec_sentiment.config_checks import ConfigError

# text: (a noun that names no aspect, the rule that says so, the aspect the text names)
NON_ASPECTS = {
    "The strap is a bit short.": ("bit", "adverbial", "strap"),
    "A couple of knobs are loose.": ("couple", "quantity", "knob"),
    "The tuner does a great job.": ("job", "light_verb", "tuner"),
    "The only problem is the cable.": ("problem", "opinion_noun", "cable"),
    "The best thing is the tone.": ("thing", "general_noun", "tone"),
    "The cable broke after a day.": ("day", "time", "cable"),
}


def _candidates(pipeline, text):
    doc = next(pipeline.docs([text]))
    return doc, candidates(doc, pipeline.is_stop, OpinionWords())


def test_terms_are_compounds_of_lemmas_with_their_opinion_words(spacy_pipeline):
    text = "I love the battery life, but the cable broke and the strings sound tinny."
    doc, found = _candidates(spacy_pipeline, text)
    assert [(c.term, c.opinion) for c in found] == [
        ("battery life", "love"), ("cable", "break"), ("string", "tinny")]
    first = found[0]
    assert text[first.start_char:first.end_char] == "battery life"
    assert text[first.head_start_char:first.end_char] == "life"
    assert text[slice(*first.sentence)] == text


def test_nouns_without_opinion_and_deictic_mentions(spacy_pipeline):
    _, found = _candidates(spacy_pipeline, "My guitar arrived on a Tuesday.")
    # "Tuesday" is a proper noun: heads are common nouns by default (`head_pos`).
    assert [(c.term, c.opinion, c.deictic) for c in found] == [("guitar", None, True)]


def test_clause_span_cuts_the_other_clauses(spacy_pipeline):
    text = "The sound is great but the cable broke after a week."
    doc = next(spacy_pipeline.docs([text]))
    sound = [t.i for t in doc if t.text == "sound"][0]
    cable = [t.i for t in doc if t.text == "cable"][0]
    assert clause_span(doc, sound).text == "The sound is great"
    assert clause_span(doc, cable).text == "the cable broke after a week."


def test_nouns_that_name_no_aspect_are_left_out_by_their_rule(spacy_pipeline):
    opinion = OpinionWords()
    for doc, (noun, rule, aspect) in zip(spacy_pipeline.docs(list(NON_ASPECTS)),
                                         NON_ASPECTS.values()):
        every = {c.term: c for c in candidates(doc, spacy_pipeline.is_stop, opinion, rules=())}
        assert set(every) == {noun, aspect}, doc.text
        found = every[noun]
        assert non_aspect(doc[found.head_index], list(doc[found.start:found.end]),
                          opinion) == rule, doc.text
        assert [c.term for c in candidates(doc, spacy_pipeline.is_stop, opinion)] == [aspect]


def test_compounds_and_definite_of_phrases_stay(spacy_pipeline):
    doc = next(spacy_pipeline.docs(["The quality of the sound is great and the battery "
                                    "time is long, but I like the value."]))
    found = candidates(doc, spacy_pipeline.is_stop, OpinionWords())
    # "battery time" keeps its head "time"; "value" has a positive VADER valence.
    assert [c.term for c in found] == ["quality", "sound", "battery time", "value"]
    assert AspectConfig(non_aspects=()).non_aspects == ()
    with pytest.raises(ConfigError, match="non_aspects"):
        AspectConfig(non_aspects=("star",))
