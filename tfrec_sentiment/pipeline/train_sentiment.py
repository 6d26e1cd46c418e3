"""The sentiment stage of `tools/train.py` (`pipeline.train`): fine-tune or reuse the
classifier, evaluate it beside VADER, score the training reviews, distil the student.

Writes `<run>/sentiment/`: `model/`, `scores/` (the score cache), `metrics.json` /
`metrics.md`, `training_curves.png` and, with `sentiment.student_layers`, `student/`.
`add_student` distils that student for a finished run afterwards (`tools/distil_student.py`);
`measure_student` reads the test part once for a student chosen on the validation part.
`plot_history` draws the training curves of this stage and of the recommender's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.plots import plot_training_curves
from tfrec_sentiment.privacy import TableEncryption
from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.distillation_texts import check_files, extra_texts, joined
from tfrec_sentiment.sentiment.evaluate import (
    METRICS_JSON,
    compute_record,
    data_record,
    evaluate_sets,
    labelled_reviews,
    write_report,
)
from tfrec_sentiment.sentiment.first_stage import first_stage
from tfrec_sentiment.sentiment.inference import run_score_cache, score_reviews, scoring_options
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import Scores, SentimentModel
from tfrec_sentiment.sentiment.student import train_student
from tfrec_sentiment.sentiment.training import train_classifier

# The name of the test part in `sentiment/metrics.json` (its key under "results").
HELD_OUT = "test (time split)"
# The validation part's name there: the student's settings are chosen on it.
VALIDATION = "validation (time split)"
# The validation part's texts with the teacher's classes as labels: the student's
# agreement with its teacher (what it is trained for), without the stars' noise.
AGREEMENT = "validation, the teacher's classes"


def sentiment_stage(config: config_lib.RunConfig, split: Split, run_dir: Path,
                    strategy: tf.distribute.Strategy, progress: bool,
                    encryption: TableEncryption | None = None) -> tuple[SentimentModel, Scores]:
    """Fine-tunes the classifier on the train split (or loads `sentiment.model_dir`),
    evaluates it on the test split with VADER beside it, and scores every training
    review; writes `sentiment/` (its score cache encrypted with `encryption`).

    Returns:
        The model and the scores of `split.train`'s rows (probabilities [N, 3],
        embeddings [N, D]), aligned with its rows.
    """
    folder = run_dir / "sentiment"
    settings = config.sentiment
    summary: dict = {}
    result = None  # a reused model was not trained here
    if settings.model_dir:
        model = SentimentModel.load(settings.model_dir)
        summary["reused_model"] = str(settings.model_dir)
    else:
        train = labelled_reviews(split.train.sort_values("timestamp", kind="stable"),
                                 "train", settings.label_column)
        validation = labelled_reviews(split.validation, "validation", settings.label_column)
        verbose = "auto" if progress else 0
        start, first = first_stage(settings, folder, strategy, config.seed, verbose)
        used = train.newest(settings.max_train_examples)
        result = train_classifier(start, used, validation, folder, strategy=strategy,
                                  seed=config.seed, verbose=verbose)
        model = result.model
        summary.update(first)
        summary.update(data_record(len(train), used, validation, settings.max_train_examples))
        summary.update(best_epoch=result.best_epoch, best_validation_macro_f1=result.best_macro_f1,
                       stopped_early=result.stopped_early,
                       class_weights=result.class_weights, history=result.history,
                       calibration=result.calibration)
        plot_history(result.history, folder / "training_curves.png", "sentiment fine-tuning")
    model.save(folder / "model")
    cache = run_score_cache(settings, run_dir, encryption)
    held_out = labelled_reviews(split.test, HELD_OUT, settings.label_column)
    options = scoring_options(settings)
    # The training reviews first: an int8 graph (`openvino_int8`) is calibrated on the
    # first texts it scores, and kept with the scores for every later stage.
    scores = score_reviews(model, split.train, settings, cache, progress)
    results = evaluate_sets(model, [held_out], cache=cache, progress=progress, **options)
    if settings.student_layers:  # a distilled student to serve (sentiment/student.py)
        summary["student"] = distil_student(config, split, model, scores, folder, results,
                                            progress, cache)
    summary["compute"] = compute_record(options, result)
    write_report(results, folder, extra={**summary, "fingerprint": model.fingerprint()})
    return model, scores


def distil_student(config: config_lib.RunConfig, split: Split, teacher: SentimentModel,
                   scores: Scores, folder: Path, results: dict, progress: bool,
                   cache=None) -> dict:
    """Distils the run's student (`sentiment.student_layers`) from `teacher` on the
    train split's texts and their teacher `scores`, saves it in `folder/student` and puts
    its held-out metrics in `results` (the "student" entry beside "bert" and "vader"),
    if `results` has the test part (`add_student(test=False)` leaves it out).

    With `sentiment.student_extra_texts`, texts of other review files join the
    training reviews (`distillation_texts.extra_texts`; texts of the run's own
    reviews left out); the summary's "extra_texts" says what was read and kept.

    The student's epoch is chosen on the validation part by `sentiment.student_selection`:
    its macro-F1 against the teacher's classes there ("agreement", AGREEMENT) or against
    the stars ("macro_f1", VALIDATION). Both parts' metrics of the student (and the
    stars' of the teacher, scored through `cache`) are put in `results`, so settings
    are compared there and the test part is read once.

    Returns:
        The student's summary (`student.train_student`: settings, losses, the
        selection's macro-F1 per epoch, best epoch, fingerprint, times; "selection").
    """
    settings = config.sentiment
    options = scoring_options(settings)
    validation = labelled_reviews(split.validation, VALIDATION, settings.label_column)
    agreement = None
    if len(validation):  # the teacher's classes as labels
        taught = teacher.score(validation.texts, cache=cache, **options).probabilities
        agreement = LabelledTexts(AGREEMENT, validation.texts, taught.argmax(axis=1),
                                  binary=False)
    chosen_on = agreement if settings.student_selection == "agreement" else validation

    def validation_macro_f1(student: SentimentModel) -> float:
        measured = evaluate_sets(student, [chosen_on], vader=False, **options)
        return measured[chosen_on.name]["bert"]["macro_f1"]

    texts, extra = review_texts(split.train), None
    if settings.student_extra_texts:  # other review files, read by the teacher
        own = {*texts, *validation.texts, *review_texts(split.test)}
        more, more_scores, extra = extra_texts(
            settings.student_extra_texts, settings.student_extra_sample,
            settings.student_extra_per_class, own, config.seed,
            lambda batch: teacher.score(batch, progress=progress, **options), progress)
        texts, scores = texts + more, joined(scores, more_scores)
    student, summary = train_student(teacher, texts, scores, settings,
                                     folder / "student", config.seed, progress,
                                     validation=validation_macro_f1 if len(validation) else None)
    summary["selection"] = settings.student_selection
    if extra is not None:
        summary["extra_texts"] = extra
    held_out = labelled_reviews(split.test, HELD_OUT, settings.label_column)
    parts = [validation] if len(validation) else []
    for part in parts + ([held_out] if HELD_OUT in results else []):
        if part.name not in results:
            results[part.name] = {"bert": evaluate_sets(teacher, [part], cache=cache,
                                                        vader=False, **options)[part.name]["bert"]}
        results[part.name]["student"] = evaluate_sets(
            student, [part], vader=False, **options)[part.name]["bert"]
    if agreement is not None:
        results[AGREEMENT] = {"student": evaluate_sets(
            student, [agreement], vader=False, **options)[AGREEMENT]["bert"]}
    return summary


def add_student(config: config_lib.RunConfig, run_dir: Path, progress: bool = True,
                encryption: TableEncryption | None = None, test: bool = True) -> dict:
    """Distils a student for a finished run, as its sentiment stage would have.

    Reads the run's split (`data/`), teacher (`sentiment/model`) and score cache (the
    training reviews' scores are cached there by the run: not scored again), distils
    `config.sentiment.student_layers` layers into `sentiment/student` (one there is
    removed first, its linked files untouched), scores the teacher (cached), the
    student and VADER on the test part, and rewrites `sentiment/metrics.json` / `.md`
    keeping the run's other facts. The caller saves `config` as the run's
    `config.json` (it records the student's settings). `test=False` compares settings:
    the test part is not read (an earlier student's test metrics are dropped).

    Returns:
        The metrics of the test part: {"bert": teacher, "student", "vader"}, each
        `metrics.classification_metrics` (none with `test=False`), plus "summary"
        (`distil_student`'s), "validation" (the validation part's {"bert",
        "student"}; empty if it has none) and "agreement" (the student's metrics
        against the teacher's classes there; absent without a validation part).

    Raises:
        FileNotFoundError: the run lacks its split or its teacher.
        ValueError: `student_layers` is 0 or not below the teacher's layers;
            `ConfigError` (a ValueError): a `student_extra_texts` file is missing.
    """
    settings = config.sentiment
    if not settings.student_layers:
        raise ValueError("sentiment.student_layers is 0: give the student's layers")
    folder = run_dir / "sentiment"
    if not (folder / "model").is_dir():
        raise FileNotFoundError(f"the run's sentiment model {folder / 'model'} is missing")
    check_files(settings.student_extra_texts)
    split = Split.load(run_dir / "data", encryption)
    teacher = SentimentModel.load(folder / "model")
    if settings.student_layers >= (layers := teacher.describe()["layers"]):
        raise ValueError(f"sentiment.student_layers={settings.student_layers}: the student "
                         f"needs fewer layers than its {layers}-layer teacher")
    # An update's student is hard-linked to its parent's files (`update_stages.link_tree`):
    # unlink the old one, never write through it.
    shutil.rmtree(folder / "student", ignore_errors=True)
    cache = run_score_cache(settings, run_dir, encryption)
    held_out = labelled_reviews(split.test, HELD_OUT, settings.label_column)
    results = evaluate_sets(teacher, [held_out], cache=cache, progress=progress,
                            **scoring_options(settings)) if test else {}
    scores = score_reviews(teacher, split.train, settings, cache, progress)
    summary = distil_student(config, split, teacher, scores, folder, results, progress, cache)
    record(folder, results, teacher, summary, replace_student=True)
    return {**results.get(held_out.name, {}), "summary": summary,
            "validation": results.get(VALIDATION, {}),
            **({"agreement": results[AGREEMENT]["student"]} if AGREEMENT in results else {})}


def measure_student(config: config_lib.RunConfig, run_dir: Path, progress: bool = True,
                    encryption: TableEncryption | None = None) -> dict:
    """The test part's metrics of a finished run's student, teacher and VADER, recorded.

    For a student distilled with `add_student(test=False)` and chosen on the validation
    part: the test part is read once, here. Updates `sentiment/metrics.json` / `.md`
    (the student's summary and validation metrics kept).

    Returns:
        {"bert": teacher, "student", "vader"}, each `metrics.classification_metrics`.

    Raises:
        FileNotFoundError: the run lacks its split, teacher or student.
    """
    settings = config.sentiment
    folder = run_dir / "sentiment"
    for part in ("model", "student"):
        if not (folder / part).is_dir():
            raise FileNotFoundError(f"the run's {folder / part} is missing")
    split = Split.load(run_dir / "data", encryption)
    teacher = SentimentModel.load(folder / "model")
    held_out = labelled_reviews(split.test, HELD_OUT, settings.label_column)
    options = scoring_options(settings)
    results = evaluate_sets(teacher, [held_out], progress=progress, **options,
                            cache=run_score_cache(settings, run_dir, encryption))
    results[HELD_OUT]["student"] = evaluate_sets(
        SentimentModel.load(folder / "student"), [held_out], vader=False,
        **options)[HELD_OUT]["bert"]
    record(folder, results, teacher)
    return results[HELD_OUT]


def record(folder: Path, results: dict, teacher: SentimentModel, summary: dict | None = None,
           replace_student: bool = False) -> None:
    """Rewrites `folder/metrics.json` / `.md` with `results` over the earlier ones (the
    run's other facts kept); `summary`, if given, as the "student" entry.
    `replace_student`: a new student, so an earlier one's test metrics are dropped."""
    previous = folder / METRICS_JSON
    extra = json.loads(previous.read_text()) if previous.is_file() else {}
    extra.pop("binary_mapping", None)  # write_report adds it again
    earlier = extra.pop("results", {})
    if replace_student:
        earlier.get(HELD_OUT, {}).pop("student", None)
    if summary is not None:
        extra["student"] = summary
    write_report({**earlier, **results}, folder,
                 extra={**extra, "fingerprint": teacher.fingerprint()})


def plot_history(history: dict | list, path: Path, title: str) -> Path | None:
    """Training curves PNG from a Keras history (dict of lists, or a list of per-epoch
    dicts); curves that never leave zero (metrics switched off) are left out."""
    if isinstance(history, list):
        history = {key: [epoch.get(key, float("nan")) for epoch in history]
                   for key in dict.fromkeys(k for epoch in history for k in epoch)}
    curves = {k: v for k, v in history.items() if any(value for value in v)}
    return plot_training_curves(curves, path, title) if curves else None
