import dataclasses

import pytest

from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.text.linguistic import (
    LinguisticConfig,
    LinguisticPipeline,
    PipelineError,
    load_pipeline,
)


def test_sentences_tokens_lemmas_pos_and_noun_chunks(spacy_pipeline):
    text = "The new strings sound great on my old guitar. I returned the broken cables!"
    review = spacy_pipeline.annotate([text])[0]
    assert review.sentence_texts == ["The new strings sound great on my old guitar.",
                                     "I returned the broken cables!"]
    tags = dict(zip(review.tokens, review.pos))
    assert tags["strings"] == "NOUN" and tags["great"] == "ADJ" and tags["guitar"] == "NOUN"
    assert tags["sound"] == "VERB" and tags["The"] == "DET"
    lemmas = dict(zip(review.tokens, review.lemmas))
    assert lemmas["strings"] == "string" and lemmas["cables"] == "cable"
    assert lemmas["returned"] == "return"
    assert review.noun_chunk_texts == ["The new strings", "my old guitar", "I",
                                       "the broken cables"]
    assert [text[o:o + len(t)] for o, t in zip(review.offsets, review.tokens)] == \
        list(review.tokens)


def test_stop_words_spacy_and_domain_list_are_removed(spacy_pipeline):
    text = "This is the best product, five stars: the tone is very warm."
    content = spacy_pipeline.annotate([text])[0].content_lemmas
    assert content == ["good", "tone", "warm"]  # spaCy: this, is, the, very, five
    # "product" and "star" are in the default domain list, so gone; a custom list
    # replaces it.
    custom = LinguisticPipeline(LinguisticConfig(domain_stop_words=("Tone",)),
                                nlp=spacy_pipeline.nlp)
    assert custom.annotate([text])[0].content_lemmas == ["good", "product", "star", "warm"]


def test_counts_and_long_texts_cut(spacy_pipeline):
    config = dataclasses.replace(spacy_pipeline.config, max_chars=20)
    pipeline = LinguisticPipeline(config, nlp=spacy_pipeline.nlp)
    docs = list(pipeline.docs(["short one.", "a much longer text than twenty characters",
                               None]))
    assert [d.text for d in docs] == ["short one.", "a much longer text", ""]
    assert pipeline.counts["reviews"] == 3 and pipeline.counts["truncated"] == 1
    assert pipeline.counts["tokens"] == 3 + 4


def test_unused_components_are_not_loaded(spacy_pipeline):
    names = spacy_pipeline.nlp.pipe_names
    assert "ner" not in names and "parser" in names and "lemmatizer" in names


def test_config_validates_itself():
    with pytest.raises(ConfigError, match="n_process=0: must be >= 1"):
        LinguisticConfig(n_process=0)
    with pytest.raises(ConfigError, match="pipeline"):
        LinguisticConfig(pipeline=" ")
    with pytest.raises(ConfigError, match="domain_stop_words"):
        LinguisticConfig(domain_stop_words=("ok", ""))
    assert LinguisticConfig(domain_stop_words=(" Star ",)).domain_stop_words == ("star",)


def test_a_pipeline_that_is_not_installed_is_named():
    with pytest.raises(PipelineError, match="'no_such_pipeline_xx'.*pip install"):
        load_pipeline(LinguisticConfig(pipeline="no_such_pipeline_xx"))
