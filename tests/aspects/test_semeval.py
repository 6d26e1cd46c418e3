import pytest

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.aspects.mentions import AspectExtractor
from tfrec_sentiment.aspects.semeval import (
    SemEvalError,
    evaluate_semeval,
    polarity_scores,
    read_semeval,
    results_table,
    span_scores,
)

GOOD = """ <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sentences>
    <sentence id="10">
        <text>The battery life is great but the keyboard is awful.</text>
        <aspectTerms>
            <aspectTerm term="battery life" polarity="positive" from="4" to="16"/>
            <aspectTerm term="keyboard" polarity="negative" from="34" to="42"/>
        </aspectTerms>
    </sentence>
    <sentence id="11">
        <text>I love the keyboard &amp; the battery life.</text>
        <aspectTerms>
            <aspectTerm term="keyboard" polarity="positive" from="11" to="19"/>
            <aspectTerm term="battery life" polarity="conflict" from="26" to="38"/>
        </aspectTerms>
        <aspectCategories><aspectCategory category="misc" polarity="neutral"/></aspectCategories>
    </sentence>
    <sentence id="12"><text>I bought it in May.</text></sentence>
</sentences>
"""


def _write(tmp_path, body, name="set.xml"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_reader_reads_sentences_terms_and_a_leading_space(tmp_path):
    sentences = read_semeval(_write(tmp_path, GOOD))
    assert [s.id for s in sentences] == ["10", "11", "12"]
    assert sentences[1].text == "I love the keyboard & the battery life."
    assert [(t.term, t.polarity, t.start, t.end) for t in sentences[0].terms] == [
        ("battery life", "positive", 4, 16), ("keyboard", "negative", 34, 42)]
    assert sentences[2].terms == () and sentences[0].line == 3


@pytest.mark.parametrize("change, message", [
    (('polarity="negative"', 'polarity="bad"'), r"set\.xml:7: polarity 'bad' is not one of"),
    (('from="34" to="42"', 'from="33" to="42"'), r"set\.xml:7: term 'keyboard' differs"),
    (('from="4" to="16"', 'from="4" to="99"'), r"set\.xml:6: span 4:99 is outside"),
    (('from="4"', 'from="four"'), r"set\.xml:6: from='four'"),
    (('<sentence id="11">', '<sentence id="10">'), r"set\.xml:10: sentence id '10' is repeated"),
    (('</sentences>', ''), r"set\.xml:20: not well-formed XML"),
])
def test_reader_names_file_and_line_of_a_fault(tmp_path, change, message):
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SemEvalError, match=message):
        read_semeval(path)


def test_span_and_polarity_scores():
    gold = {("1", 0, 5), ("1", 10, 15), ("2", 0, 3)}
    scores = span_scores(gold, {("1", 0, 5), ("2", 0, 4)})
    assert (scores["precision"], scores["recall"]) == (0.5, pytest.approx(1 / 3))
    assert scores["f1"] == pytest.approx(0.4)
    assert span_scores(gold, set())["f1"] == 0.0
    result = polarity_scores(["positive", "negative", "neutral", "positive"],
                             ["positive", "negative", "positive", "positive"])
    assert result["accuracy"] == 0.75 and result["macro_f1"] == pytest.approx((0.8 + 1 + 0) / 3)


def test_evaluate_on_a_small_file(tmp_path, spacy_pipeline):
    config = AspectConfig(min_reviews=1, background="none")
    result = evaluate_semeval(_write(tmp_path, GOOD), config, model=None,
                              contexts=("clause", "sentence"),
                              extractor=AspectExtractor(config, spacy_pipeline))
    assert result["sentences"] == 3 and result["terms"] == 4
    ours = result["extraction"]["aspects"]
    # battery life (twice) and keyboard (twice): all found; "May" is no common noun.
    assert (ours["precision"], ours["recall"]) == (1.0, 1.0)
    assert result["extraction"]["frequent nouns"]["recall"] == 0.5  # "life", not "battery life"
    assert result["conflict_terms_left_out"] == 1
    vader = result["polarity"]["clause"]["vader"]
    assert vader["n"] == 3 and vader["accuracy"] == 1.0
    # One sentence praises the battery and blames the keyboard: on sentences one is wrong.
    assert result["polarity"]["sentence"]["vader"]["accuracy"] == pytest.approx(2 / 3)
    assert "| laptops | aspects (size 100) | 1.000 |" in results_table({"laptops": result})
