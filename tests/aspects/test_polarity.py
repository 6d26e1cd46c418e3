import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.mentions import AspectExtractor
from tfrec_sentiment.aspects.polarity import POLARITY_COLUMNS, mention_contexts, score_mentions
from tfrec_sentiment.aspects.vocabulary import AspectVocabulary

TEXTS = ["Great sound, but the cable broke.", "The sound is great.", "The cable broke."]


@pytest.fixture(scope="module")
def mentions(spacy_pipeline):
    vocabulary = AspectVocabulary(pd.DataFrame({"term": ["sound", "cable"]}))
    return AspectExtractor(AspectConfig(), spacy_pipeline).mentions(TEXTS, vocabulary)


def test_contexts_are_the_clauses_and_sentences_of_the_mentions(mentions):
    assert mentions[["review", "aspect"]].values.tolist() == [
        [0, "sound"], [0, "cable"], [1, "sound"], [2, "cable"]]
    assert mention_contexts(mentions, TEXTS, "clause") == [
        "Great sound,", "the cable broke.", "The sound is great.", "The cable broke."]
    assert mention_contexts(mentions, TEXTS, "sentence")[:2] == [TEXTS[0], TEXTS[0]]
    with pytest.raises(ValueError, match="context 'review'"):
        mention_contexts(mentions, TEXTS, "review")


def test_vader_sign_of_great_sound_and_a_broken_cable(mentions):
    # On clauses: "Great sound," and "the cable broke." are apart even in one sentence.
    scored = score_mentions(mentions, TEXTS, model=None, context="clause")
    assert list(scored.columns[-len(POLARITY_COLUMNS):]) == list(POLARITY_COLUMNS)
    sound = scored[scored["aspect"] == "sound"]
    cable = scored[scored["aspect"] == "cable"]
    assert (sound["vader_compound"] > 0.05).all() and (sound["vader_label"] == "positive").all()
    assert (cable["vader_compound"] < -0.05).all() and (cable["vader_label"] == "negative").all()
    assert scored["bert_positive"].isna().all()  # no model, no BERT scores
    # On sentences (the default) both mentions of the mixed sentence share one score.
    by_sentence = score_mentions(mentions, TEXTS, model=None)
    assert by_sentence["vader_compound"][0] == by_sentence["vader_compound"][1]


def test_the_classifier_scores_each_clause_once(mentions):
    # The tiny random classifier: the plumbing, not the sign (tools/eval_aspects.py
    # measures the fine-tuned one on SemEval-2014).
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    model = SentimentModel.from_config(SentimentConfig(preset="tiny", tiny_layers=1,
                                                       tiny_hidden_dim=8, sequence_length=32,
                                                       bucket_boundaries=(8, 16, 32)))
    scored = score_mentions(mentions, TEXTS, model, batch_size=8)
    probabilities = scored[["bert_negative", "bert_neutral", "bert_positive"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(scored["bert_polarity"], probabilities[:, 2] - probabilities[:, 0],
                               rtol=1e-6)
    # Rows are aligned with their own contexts: the same clause, the same scores.
    same = scored.groupby("context")["bert_positive"].nunique()
    assert (same == 1).all() and scored["bert_positive"].nunique() > 1
    assert set(scored["bert_label"]) <= {"negative", "neutral", "positive"}
