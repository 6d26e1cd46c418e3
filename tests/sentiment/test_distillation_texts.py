"""Other review files' texts for the student: what is read, left out, drawn and kept."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.sentiment.distillation_texts import extra_texts, joined
from tfrec_sentiment.sentiment.scores import Scores

# The stand-in teacher's class of a text: its first word.
CLASS_OF = {"bad": 0, "okay": 1, "good": 2}


def amazon_file(path, texts, stars=5.0):
    """An Amazon 2014 file (gzip JSON lines) of one review per text, one user each."""
    lines = [json.dumps({"reviewerID": f"U{path.stem}{i}", "asin": f"I{i % 4}",
                         "overall": stars, "helpful": [0, 0], "reviewText": text,
                         "summary": "", "unixReviewTime": 1400000000 + i})
             for i, text in enumerate(texts)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def stand_in_teacher(calls: list):
    """A scorer giving each text its first word's class (probability 0.8) and an
    embedding that encodes the text's number, so rows can be traced to texts."""
    def score(texts):
        calls.append(list(texts))
        probabilities = np.full((len(texts), 3), 0.1, np.float32)
        probabilities[np.arange(len(texts)), [CLASS_OF[t.split()[0]] for t in texts]] = 0.8
        embedding = np.array([[float(t.split()[-1]), 1.0] for t in texts], np.float32)
        return Scores(probabilities, embedding)
    return score


def texts_of(word, numbers):
    return [f"{word} item number {n}" for n in numbers]


def test_reads_leaves_out_draws_and_keeps_per_teacher_class(tmp_path):
    first = amazon_file(tmp_path / "a.json.gz", texts_of("good", range(0, 30))
                        + texts_of("bad", range(30, 36)) + ["good item number 0"])
    second = amazon_file(tmp_path / "b.json.gz", texts_of("okay", range(36, 46)), stars=1.0)
    held_out = {"bad item number 30", "okay item number 36", "not in any file"}
    calls = []
    texts, scores, report = extra_texts([first, str(second)], sample=40, per_class=5,
                                        exclude=held_out, seed=0,
                                        score=stand_in_teacher(calls))
    assert report["files"] == {str(first): 37, str(second): 10}
    assert report["read"] == 47 and report["empty"] == 0
    assert report["repeated"] == 1  # "good item number 0" twice: scored once
    assert report["in_run"] == 2  # the two excluded texts that are in the files
    assert report["drawn"] == 40 and len(calls) == 1 and len(calls[0]) == 40
    assert not held_out & set(calls[0]) and len(set(calls[0])) == 40
    # The teacher's classes of the drawn texts: 5 bad, 9 okay, the rest good; at most
    # 5 of each kept.
    drawn = np.bincount([CLASS_OF[t.split()[0]] for t in calls[0]], minlength=3)
    assert report["teacher_classes"] == drawn.tolist()
    assert report["kept"] == np.minimum(drawn, 5).tolist() and len(texts) == sum(report["kept"])
    # Each kept text keeps its own teacher row (the stand-in encodes the number).
    assert [int(row[0]) for row in scores.embedding] == [int(t.split()[-1]) for t in texts]
    assert scores.probabilities.argmax(axis=1).tolist() == [CLASS_OF[t.split()[0]]
                                                            for t in texts]
    # Stars are never read: the second file's 1-star reviews are kept as the teacher
    # reads them (neutral here).
    assert any(t.startswith("okay") for t in texts)

    # The same seed draws and keeps the same texts.
    again, _, _ = extra_texts([first, second], sample=40, per_class=5, exclude=held_out,
                              seed=0, score=stand_in_teacher([]))
    assert again == texts


def test_the_sample_bounds_what_the_teacher_scores(tmp_path):
    path = amazon_file(tmp_path / "a.json.gz", texts_of("good", range(50)))
    calls = []
    texts, _, report = extra_texts([path], sample=7, per_class=100, exclude=(), seed=1,
                                   score=stand_in_teacher(calls))
    assert len(calls[0]) == 7 and report["drawn"] == 7 and len(texts) == 7
    assert report["kept"] == [0, 0, 7]


def test_a_missing_file_or_nothing_to_add_fails_clearly(tmp_path):
    with pytest.raises(ConfigError, match="student_extra_texts=.*missing.json.gz.*no such file"):
        extra_texts([tmp_path / "missing.json.gz"], 10, 10, (), 0, stand_in_teacher([]))
    path = amazon_file(tmp_path / "a.json.gz", texts_of("good", range(3)))
    with pytest.raises(ValueError, match="no text to add.*'in_run': 3"):
        extra_texts([path], 10, 10, set(texts_of("good", range(3))), 0, stand_in_teacher([]))


def test_joined_scores_keep_row_order():
    first = Scores(np.eye(3, dtype=np.float32)[:2], np.ones((2, 4), np.float32))
    second = Scores(np.eye(3, dtype=np.float32)[2:], np.zeros((1, 4), np.float32))
    both = joined(first, second)
    assert both.probabilities.argmax(axis=1).tolist() == [0, 1, 2]
    assert both.embedding[:, 0].tolist() == [1.0, 1.0, 0.0]
