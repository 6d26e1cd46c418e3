"""More texts for the student's distillation: other review files, read by the teacher.

A student learns from its teacher's answers, so any text serves, labelled or not. A
run's own training reviews are few and mostly positive (Musical Instruments: 6,197, of
which the stars call 4% negative), and a student distilled on them alone copies the
teacher's minority classes poorly: on that data set's validation part a 3-layer student
gave the teacher's class to 66% of the reviews the teacher reads as negative. With
texts of other review files (`sentiment.student_extra_texts`), drawn at random
(`student_extra_sample`) and kept up to `student_extra_per_class` per class the teacher
gives them, it gave it to 79%, its agreement macro-F1 rose from 0.764 to 0.847 and its
test macro-F1 from 93.1% to 98.6% of the teacher's (its epoch chosen by agreement;
README, "The student against the four-epoch teacher").

No star of those files is read: the teacher's probabilities and embeddings are the
targets. A text equal to one of the run's own reviews is left out and counted (a
validation or test text: the student's settings are chosen on the one and measured on
the other; a training text is there already), as are empty texts and repeats.

Example (two files of the package's formats; `score` is the teacher's scorer):

>>> texts, scores, report = extra_texts(["yelp.csv.zip", "beauty.json.gz"], sample=12000,
...     per_class=2000, exclude=set(), seed=0, score=teacher.score)  # doctest: +SKIP
>>> report["kept"]  # doctest: +SKIP
[1584, 2000, 2000]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.data.prepare import prepare_reviews
from tfrec_sentiment.sentiment.labels import LABELS, review_texts
from tfrec_sentiment.sentiment.scores import Scores


def extra_texts(paths: Sequence[str | Path], sample: int, per_class: int,
                exclude: Iterable[str], seed: int, score: Callable[[list[str]], Scores],
                progress: bool = False) -> tuple[list[str], Scores, dict]:
    """Texts of other review files for the distillation, with the teacher's scores.

    Args:
        paths: review files in any format the package reads (guessed from the file,
            as `tools/prepare_data.py` guesses it); each review's text is its title and
            body (`labels.review_texts`), as for the run's own reviews.
        sample: at most this many distinct texts are drawn, uniformly at random over
            every file's texts together, and scored by the teacher.
        per_class: of those, at most this many are kept per class the teacher gives
            them (its arg-max), so the minority classes are not drowned.
        exclude: texts left out (the run's own reviews' texts).
        seed: the draws.
        score: the teacher's scorer, texts -> `Scores` (e.g. `SentimentModel.score`).
        progress: progress bars while reading.

    Returns:
        (texts [M], their `Scores` [M rows], a report: "files" {path: reviews read},
        "read", "empty", "repeated", "in_run" (distinct texts in `exclude`), "drawn",
        "teacher_classes" (the drawn texts per class, LABELS order) and "kept" (per class);
        M = sum of "kept").

    Raises:
        ConfigError: a file is missing (`check_files`).
        ValueError: a file cannot be read as reviews (the reader's error, naming it),
            or no text is left to add (the report says why).
    """
    check_files(paths)
    files, pooled = {}, []
    for path in paths:
        texts = review_texts(prepare_reviews(path, progress=progress).reviews)
        files[str(path)] = len(texts)
        pooled += texts
    excluded = set(exclude)
    empty = sum(not text.strip() for text in pooled)
    distinct = list(dict.fromkeys(text for text in pooled if text.strip()))
    kept_texts = [text for text in distinct if text not in excluded]
    rng = np.random.default_rng(seed)
    drawn = np.sort(rng.permutation(len(kept_texts))[:sample])
    texts = [kept_texts[i] for i in drawn]
    report = {"files": files, "read": len(pooled), "empty": empty,
              "repeated": len(pooled) - empty - len(distinct),
              "in_run": len(distinct) - len(kept_texts), "drawn": len(texts)}
    if not texts:
        raise ValueError(f"sentiment.student_extra_texts: no text to add ({report})")
    scores = score(texts)
    classes = scores.probabilities.argmax(axis=1)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(classes == c))[:per_class]
                                   for c in range(len(LABELS))]))
    report.update(teacher_classes=np.bincount(classes, minlength=len(LABELS)).tolist(),
                  kept=np.bincount(classes[keep], minlength=len(LABELS)).tolist())
    return ([texts[i] for i in keep],
            Scores(scores.probabilities[keep], scores.embedding[keep]), report)


def check_files(paths: Iterable[str | Path]) -> None:
    """Raises `ConfigError` naming the first of `paths` that is not a file (a bad
    `sentiment.student_extra_texts` value): `tools/train.py`, `run_training`, and
    `tools/distil_student.py` call it before any work."""
    for path in paths:
        if not Path(path).is_file():
            raise ConfigError("no such file", "sentiment.student_extra_texts", str(path))


def joined(first: Scores, second: Scores) -> Scores:
    """The rows of `first`, then those of `second`.

    >>> one = Scores(np.eye(3, dtype=np.float32)[:1], np.ones((1, 2), np.float32))
    >>> joined(one, one).probabilities.shape
    (2, 3)
    """
    return Scores(np.concatenate([first.probabilities, second.probabilities]),
                  np.concatenate([first.embedding, second.embedding]))
