"""The sentiment stage of `tools/train.py` (`pipeline.train`): fine-tune or reuse the
classifier, evaluate it beside VADER, score the training reviews, distil the student.

Writes `<run>/sentiment/`: `model/`, `scores/` (the score cache), `metrics.json` /
`metrics.md`, `training_curves.png` and, with `sentiment.student_layers`, `student/`.
`plot_history` draws the training curves of this stage and of the recommender's.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.plots import plot_training_curves
from tfrec_sentiment.privacy import TableEncryption
from tfrec_sentiment.sentiment.evaluate import evaluate_sets, labelled_reviews, write_report
from tfrec_sentiment.sentiment.inference import run_score_cache, score_reviews, scoring_options
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import Scores, SentimentModel
from tfrec_sentiment.sentiment.student import train_student
from tfrec_sentiment.sentiment.training import train_classifier


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
    if settings.model_dir:
        model = SentimentModel.load(settings.model_dir)
        summary["reused_model"] = str(settings.model_dir)
    else:
        train = labelled_reviews(split.train.sort_values("timestamp", kind="stable"),
                                 "train", settings.label_column)
        validation = labelled_reviews(split.validation, "validation", settings.label_column)
        result = train_classifier(settings, train.newest(settings.max_train_examples),
                                  validation, folder, strategy=strategy, seed=config.seed,
                                  verbose="auto" if progress else 0)
        model = result.model
        summary.update(best_epoch=result.best_epoch, best_validation_macro_f1=result.best_macro_f1,
                       class_weights=result.class_weights, history=result.history,
                       calibration=result.calibration)
        plot_history(result.history, folder / "training_curves.png", "sentiment fine-tuning")
    model.save(folder / "model")
    cache = run_score_cache(settings, run_dir, encryption)
    held_out = labelled_reviews(split.test, "test (time split)", settings.label_column)
    results = evaluate_sets(model, [held_out], cache=cache, progress=progress,
                            **scoring_options(settings))
    scores = score_reviews(model, split.train, settings, cache, progress)
    if settings.student_layers:  # a distilled student to serve (sentiment/student.py)
        student, summary["student"] = train_student(model, review_texts(split.train), scores,
                                                    settings, folder / "student", config.seed,
                                                    progress)
        results[held_out.name]["student"] = evaluate_sets(
            student, [held_out], vader=False, **scoring_options(settings))[held_out.name]["bert"]
    write_report(results, folder, extra={**summary, "fingerprint": model.fingerprint()})
    return model, scores


def plot_history(history: dict | list, path: Path, title: str) -> Path | None:
    """Training curves PNG from a Keras history (dict of lists, or a list of per-epoch
    dicts); curves that never leave zero (metrics switched off) are left out."""
    if isinstance(history, list):
        history = {key: [epoch.get(key, float("nan")) for epoch in history]
                   for key in dict.fromkeys(k for epoch in history for k in epoch)}
    curves = {k: v for k, v in history.items() if any(value for value in v)}
    return plot_training_curves(curves, path, title) if curves else None
