import json

import pytest

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.mentions import AspectExtractor
from tfrec_sentiment.aspects.vocabulary import AspectVocabulary, VocabularyError

# Generic nouns ("thing", "time", "way") are praised twice as often as the domain nouns;
# "product" and "star" are frequent too. Each review ends with a sentence without a noun,
# as real reviews hold many more tokens than aspect nouns.
FILLER = " I would say so, and I would do it again if I could, honestly."
CORPUS = [text + FILLER for text in (
    ["Great thing, I had a good time with it.", "Nice thing overall, a good way to play.",
     "The thing is awesome and the time was great.", "Great product, five stars."] * 2
    + ["The tuner is accurate.", "The strap is sturdy.", "Great tuner, bad strap.",
       "The pedal is noisy.", "I love the pedal and the tuner.", "A comfortable strap.",
       "The pedal feels solid."])]


@pytest.fixture(scope="module")
def vocabulary(spacy_pipeline):
    return AspectExtractor(AspectConfig(size=3, min_reviews=2), spacy_pipeline).fit(CORPUS)


def test_generic_nouns_do_not_win(spacy_pipeline, vocabulary):
    assert set(vocabulary.terms) == {"tuner", "strap", "pedal"}
    assert vocabulary.settings["tokens"] > 300
    # Without the background and the non-aspect rules the generic nouns lead; each of
    # the two demotes them on its own.
    plain = AspectExtractor(AspectConfig(size=3, min_reviews=2, background="none",
                                         non_aspects=()), spacy_pipeline).fit(CORPUS)
    assert plain.terms[:2] == ("thing", "time")
    ruled = AspectExtractor(AspectConfig(size=3, min_reviews=2, background="none"),
                            spacy_pipeline).fit(CORPUS)
    assert set(ruled.terms) == {"tuner", "strap", "pedal"}
    assert ruled.settings["non_aspects"] == list(AspectConfig().non_aspects)
    # "product" and "star" never compete: they are domain stop words.
    assert not {"product", "star"} & set(plain.table["term"])


def test_mentions_of_vocabulary_terms(spacy_pipeline, vocabulary):
    extractor = AspectExtractor(AspectConfig(), spacy_pipeline)
    texts = ["I love the pedal and the tuner.", "Nice thing.", "Guitar strap is too short"]
    table = extractor.mentions(texts, vocabulary)
    assert table[["review", "aspect", "opinion"]].values.tolist() == [
        [0, "pedal", "love"], [0, "tuner", "love"], [2, "strap", "short"]]
    # "guitar strap" is not in the vocabulary: the mention is its head, "strap".
    assert [texts[r][s:e] for r, s, e in table[["review", "start", "end"]].values] == [
        "pedal", "tuner", "strap"]


def test_save_and_load_round_trip_and_bad_files(vocabulary, tmp_path):
    path = vocabulary.save(tmp_path / "aspects.json")
    loaded = AspectVocabulary.load(path)
    assert loaded.terms == vocabulary.terms
    assert loaded.table["score"].tolist() == pytest.approx(vocabulary.table["score"].tolist())
    assert loaded.settings["size"] == 3 and "tuner" in loaded and "thing" not in loaded
    body = json.loads(path.read_text())
    del body["terms"][1]["mentions"]
    path.write_text(json.dumps(body))
    with pytest.raises(VocabularyError, match=r"aspects\.json: terms\[1\] lacks mentions"):
        AspectVocabulary.load(path)
    path.write_text("{not json")
    with pytest.raises(VocabularyError, match="aspects.json: not a readable JSON"):
        AspectVocabulary.load(path)
