from tfrec_sentiment.aspects.extract import OpinionWords, candidates, clause_span


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
