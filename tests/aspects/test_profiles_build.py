"""build_profiles on a hand-made mention table, and the aspects stage's leakage rule."""

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.profiles import AspectProfiles, build_profiles
from tfrec_sentiment.aspects.stage import explanation_mentions, parsed_rows, run_aspects
from tfrec_sentiment.aspects.vocabulary import AspectVocabulary

ASPECTS = ["sound", "cable", "price"]
# Reviews (rows): u1-a, u1-b, u2-a, u3-b (u3 never names an aspect).
REVIEWS = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u3"], "item_id": ["a", "b", "a", "b"]})
MENTIONS = pd.DataFrame({
    "review": [0, 0, 1, 2, 2],
    "aspect": ["sound", "sound", "cable", "sound", "price"],
    "bert_polarity": [0.8, 0.4, -0.6, -0.2, 0.5],
    "vader_compound": [0.5, 0.5, -0.5, 0.0, 0.1],
})


def test_item_quality_is_the_mean_polarity_shrunk_to_the_aspects_mean():
    p = build_profiles(MENTIONS, REVIEWS, ASPECTS, prior_strength=2.0, attention_strength=0.0)
    assert p.item_ids.tolist() == ["a", "b"] and p.aspects.tolist() == ASPECTS
    assert p.item_mentions.tolist() == [[3, 0, 1], [0, 1, 0]]
    # priors: sound (0.8 + 0.4 - 0.2) / 3 = 1/3, cable -0.6, price 0.5
    sound_a = (0.8 + 0.4 - 0.2 + 2 * (1 / 3)) / (3 + 2)
    cable_b = (-0.6 + 2 * -0.6) / (1 + 2)
    price_a = (0.5 + 2 * 0.5) / (1 + 2)
    np.testing.assert_allclose(p.item_polarity, [[sound_a, 0.0, price_a], [0.0, cable_b, 0.0]],
                               atol=1e-6)
    assert p.item_polarity.dtype == np.float32 and p.item_mentions.dtype == np.int32
    # VADER is the other source: its own numbers
    vader = build_profiles(MENTIONS, REVIEWS, ASPECTS, polarity="vader", prior_strength=0.0)
    np.testing.assert_allclose(vader.item_polarity[0], [(0.5 + 0.5 + 0.0) / 3, 0.0, 0.1],
                               atol=1e-6)


def test_user_attention_rows_and_the_population():
    raw = build_profiles(MENTIONS, REVIEWS, ASPECTS, attention_strength=0.0)
    assert raw.user_ids.tolist() == ["u1", "u2", "u3"]
    np.testing.assert_allclose(raw.user_attention, [[2 / 3, 1 / 3, 0], [0.5, 0, 0.5], [0, 0, 0]],
                               atol=1e-6)
    np.testing.assert_allclose(raw.population_attention, [3 / 5, 1 / 5, 1 / 5], atol=1e-6)
    smooth = build_profiles(MENTIONS, REVIEWS, ASPECTS, attention_strength=1.0)
    population = np.array([0.6, 0.2, 0.2])
    np.testing.assert_allclose(smooth.user_attention[0], (np.array([2, 1, 0]) + population) / 4,
                               atol=1e-6)
    # a user who never wrote about an aspect gets the population's row
    np.testing.assert_allclose(smooth.user_attention[2], population, atol=1e-6)
    np.testing.assert_allclose(smooth.user_attention.sum(axis=1), 1.0, atol=1e-6)


def test_a_mention_table_that_does_not_fit_is_refused(tmp_path):
    with pytest.raises(ValueError, match="0..3"):
        build_profiles(MENTIONS.assign(review=[0, 0, 1, 2, 9]), REVIEWS, ASPECTS)
    with pytest.raises(ValueError, match="missing values"):
        build_profiles(MENTIONS.assign(bert_polarity=np.nan), REVIEWS, ASPECTS)
    with pytest.raises(ValueError, match="choose one of bert, vader"):
        build_profiles(MENTIONS, REVIEWS, ASPECTS, polarity="stars")
    empty = build_profiles(MENTIONS.iloc[:0], REVIEWS, ASPECTS)
    assert empty.item_mentions.sum() == 0 and empty.population_attention.sum() == 0
    loaded = AspectProfiles.load(empty.save(tmp_path).parent)
    assert loaded.user_ids.tolist() == ["u1", "u2", "u3"]


class WordExtractor:
    """A stand-in for the spaCy extractor: every word of the fixed vocabulary is a
    mention (so the test sees which reviews reach the profiles, without spaCy)."""

    def __init__(self, terms):
        from collections import Counter
        self.pipeline = type("P", (), {"counts": Counter()})()
        self.terms = terms

    def candidates(self, texts, progress=False):
        from types import SimpleNamespace
        self.pipeline.counts["reviews"] += len(texts)
        found = []
        for text in texts:
            found.append([SimpleNamespace(term=w, head=w, start_char=text.find(w),
                                          end_char=text.find(w) + len(w), head_start_char=0,
                                          opinion="", clause=(0, len(text)),
                                          sentence=(0, len(text)))
                          for w in text.lower().replace(".", "").split() if w in self.terms])
        return found

    def vocabulary(self, found, tokens):
        return AspectVocabulary(pd.DataFrame({"term": self.terms}))


def test_the_stage_reads_training_reviews_only_and_the_newest_when_capped(tmp_path):
    train = pd.DataFrame({"user_id": ["u1", "u2", "u1"], "item_id": ["a", "a", "b"],
                          "text": ["Great sound.", "Bad cable.", "Nice sound."], "title": "",
                          "timestamp": [3, 1, 2]})
    test = pd.DataFrame({"user_id": ["u1"], "item_id": ["a"], "text": ["The price hurts."],
                         "title": "", "timestamp": [9]})
    extractor = WordExtractor(["sound", "cable", "price"])
    run = run_aspects(AspectConfig(polarity="vader"), train, None, tmp_path, extractor=extractor)
    assert run.profiles.item_mentions.tolist() == [[1, 1, 0], [1, 0, 0]]
    # the test review's "price" is in no profile, no feature array, no summary
    assert run.counts[:, 2].sum() == 0 and run.profiles.population_attention[2] == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "vocabulary.json", "aspect_profiles.npz", "mentions.csv", "summary.json"}
    assert run.summary["parsed_reviews"] == 3 and run.summary["spacy"]["reviews"] == 3
    assert explanation_mentions(run, test) == [{"price"}]
    # max_reviews: the newest two (timestamps 3 and 2), in row order
    assert parsed_rows(train, 2).tolist() == [0, 2]
    capped = run_aspects(AspectConfig(polarity="vader", max_reviews=2), train, None,
                         extractor=WordExtractor(["sound", "cable", "price"]))
    assert capped.counts.sum(axis=1).tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="aspects.polarity=vader"):
        run_aspects(AspectConfig(polarity="bert"), train, None, extractor=extractor)


def test_the_run_configs_aspects_section_round_trips_and_refuses_bad_values(tmp_path):
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.config_checks import ConfigError

    config = config_lib.resolve("demo", ["aspects.polarity=vader", "aspects.max_reviews=500",
                                         "aspects.attention_strength=0"])
    assert config.aspects.enabled and config_lib.resolve("smoke").aspects.enabled is False
    loaded = config_lib.load(config_lib.save(config, tmp_path / "config.json"))
    assert loaded.aspects == config.aspects and loaded.aspects.max_reviews == 500
    for override, message in [
            ("aspects.polarity=stars", "aspects.polarity='stars': choose one of bert, vader"),
            ("aspects.prior_strength=-1", "aspects.prior_strength=-1.0: must be >= 0.0"),
            ("aspects.explanation_k=0", "aspects.explanation_k=0: must be >= 1"),
            ("aspects.max_reviews=-5", "aspects.max_reviews=-5: must be >= 0")]:
        with pytest.raises(ConfigError) as error:
            config_lib.resolve("demo", [override])
        assert str(error.value) == message
