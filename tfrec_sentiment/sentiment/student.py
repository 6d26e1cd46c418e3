"""A small student of the fine-tuned classifier, for serving: fewer layers, same vocabulary.

The teacher (MiniLM-L6, 6 layers) costs most of a served `sentiment` or
`recommend_from_reviews` call. The student keeps the teacher's tokenizer, embeddings,
its first `num_layers` transformer layers, pooler and head (the layer-dropping start
of Sanh et al. 2019, DistilBERT, and Sajjad et al. 2023, "On the effect of dropping
layers of pre-trained transformer models", where the bottom layers are kept), then
learns to reproduce the teacher on the data set's review texts:

- the class probabilities, by cross-entropy against the teacher's soft labels
  (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"), optionally
  softened at a distillation temperature T > 1 on both sides, the loss scaled by T^2
  as the paper does so its gradients keep their size (`SoftTargetCrossEntropy`);
- the pooled text embedding, by mean squared error (weight `embedding_weight`), so a
  recommender trained on the teacher's embeddings can read the student's.

No star is read: the targets are the teacher's scores (with its calibration), so
unlabelled text serves as well as labelled. Empty texts are left out (both models
answer them with the class prior).

- `truncated_student(teacher, num_layers)`: the student `SentimentModel`.
- `distill(teacher, student, texts, ...)`: trains it; returns the loss per epoch and,
  given a validation function, its score per epoch (the best epoch's weights kept).
- `train_student(teacher, texts, scores, settings, folder)`: the pipeline's step
  (`sentiment.student_layers`), saved where `export.sentiment_model=student` finds it.

Example (a tiny teacher; the tests distil one for a few steps):

>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> teacher = SentimentModel.from_config(SentimentConfig(preset="tiny", tiny_layers=2))
>>> student = truncated_student(teacher, num_layers=1)
>>> student.classifier.backbone.num_layers, student.metadata["student_of"] == teacher.fingerprint()
(1, True)
>>> history = distill(teacher, student, ["great", "awful"] * 8, epochs=1)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfrec_sentiment.sentiment.checkpoints import patience_spent
from tfrec_sentiment.sentiment.labels import LABELS, class_weights
from tfrec_sentiment.sentiment.model import PRIOR_KEY, TEMPERATURE_KEY, SentimentModel
from tfrec_sentiment.sentiment.scorer import build_scorer
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES, Scores

STUDENT_KEY = "student_of"
# Probabilities are clipped here before their log (a softmax output can round to 0).
EPSILON = 1e-7


class SoftTargetCrossEntropy(keras.losses.Loss):
    """T^2 * cross-entropy between two probability rows [B, K], both softened at T.

    softmax(log p / T) equals softmax(logits / T) for p = softmax(logits), so the
    student's probabilities (the scorer's output, after its calibration temperature)
    stand for its logits. T = 1 is the plain soft-label cross-entropy; T > 1 weighs the
    small probabilities more (Hinton et al. 2015, section 2, who scale by T^2).

    Args:
        temperature: T > 0.

    Example:

    >>> loss = SoftTargetCrossEntropy(temperature=2.0)
    >>> same = [[0.7, 0.2, 0.1]]
    >>> round(float(loss(same, same)), 3) < round(float(loss(same, [[0.1, 0.2, 0.7]])), 3)
    True
    """

    def __init__(self, temperature: float = 1.0, name: str = "soft_target_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        def soften(p):
            return tf.math.log(tf.clip_by_value(p, EPSILON, 1.0)) / self.temperature

        target = tf.nn.softmax(soften(tf.cast(y_true, tf.float32)), axis=-1)
        log_student = tf.nn.log_softmax(soften(tf.cast(y_pred, tf.float32)), axis=-1)
        return -self.temperature ** 2 * tf.reduce_sum(target * log_student, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature}


def truncated_student(teacher: SentimentModel, num_layers: int) -> SentimentModel:
    """A `SentimentModel` with the teacher's bottom `num_layers` transformer layers.

    Embeddings, pooler and the 3-class head are copied too; the preprocessor (and so
    the vocabulary and cleaning) is the teacher's. The class prior and temperature
    are carried over.

    Raises:
        ValueError: `num_layers` is not in [1, the teacher's layers).
    """
    backbone = teacher.classifier.backbone
    if not 1 <= num_layers < backbone.num_layers:
        raise ValueError(f"num_layers must be in [1, {backbone.num_layers}) for a "
                         f"{backbone.num_layers}-layer teacher, got {num_layers}")
    config = {**backbone.get_config(), "num_layers": num_layers}
    small = type(backbone).from_config(config)
    for layer in small.layers:
        if layer.weights:
            layer.set_weights(backbone.get_layer(layer.name).get_weights())
    classifier = keras_hub.models.BertTextClassifier(
        backbone=small, num_classes=len(LABELS), preprocessor=teacher.preprocessor,
        dropout=teacher.classifier.dropout, name="sentiment_student")
    student = SentimentModel(classifier, {
        "preset": teacher.metadata.get("preset"), STUDENT_KEY: teacher.fingerprint(),
        PRIOR_KEY: [float(p) for p in teacher.class_prior],
        TEMPERATURE_KEY: teacher.temperature, "student_layers": num_layers})
    student.output_dense.set_weights(teacher.output_dense.get_weights())
    return student


def distill(teacher: SentimentModel, student: SentimentModel, texts: Sequence[str],
            teacher_scores: Scores | None = None, epochs: int = 2, batch_size: int = 32,
            learning_rate: float = 1e-4, embedding_weight: float = 1.0,
            temperature: float = 1.0, validation: Callable[[], float] | None = None,
            seed: int = 0, progress: bool = False, class_weighting: str = "none",
            patience: int | None = None) -> dict:
    """Trains `student` to reproduce `teacher` on `texts` (module docstring).

    Args:
        teacher, student: `SentimentModel`s sharing a tokenizer (`truncated_student`).
        texts: review texts (labels are not needed); empty ones are skipped.
        teacher_scores: the teacher's `Scores` of `texts`, if already computed (a run's
            score cache); scored here otherwise.
        epochs, batch_size, learning_rate: Adam on the student's weights.
        embedding_weight: weight of the embedding MSE beside the soft cross-entropy.
        temperature: the distillation temperature of the soft cross-entropy
            (`SoftTargetCrossEntropy`; 1 = the teacher's probabilities as they are).
        validation: called after each epoch, returns the student's score on held-out
            texts (higher is better, e.g. the validation part's macro-F1); the weights
            of the best epoch (the earliest on ties) are kept. None: the last epoch's.
        seed: the shuffle order.
        progress: a progress bar per epoch.
        class_weighting: each text's weight in both losses, by the teacher's class for
            it (`labels.class_weights` of its argmax: "none", "balanced", "sqrt").
        patience: with `validation`, stop once this many epochs in a row have not
            raised its best score (the fine-tune's `early_stopping_patience`); None
            runs every epoch.

    Returns:
        {"loss_per_epoch": mean training loss of each epoch run, "validation_per_epoch":
        `validation()` after each epoch (empty without it), "best_epoch": the kept
        epoch, 1-based, "stopped_early": the last epoch run when patience ended the
        distillation before `epochs`, else None}.

    Raises:
        ValueError: no non-empty text, or `teacher_scores` rows differ from `texts`.
    """
    texts = [str(t) for t in texts]
    if teacher_scores is None:
        teacher_scores = teacher.score(texts, batch_size=batch_size)
    if len(teacher_scores.probabilities) != len(texts):
        raise ValueError(f"{len(teacher_scores.probabilities)} teacher scores for "
                         f"{len(texts)} texts")
    keep = np.flatnonzero([bool(t.strip()) for t in texts])
    if not len(keep):
        raise ValueError("no non-empty text to distil on")
    targets = {"probabilities": teacher_scores.probabilities[keep].astype(np.float32),
               "embedding": teacher_scores.embedding[keep].astype(np.float32)}
    classes = targets["probabilities"].argmax(axis=1)
    weights = class_weights(classes, class_weighting)[classes]  # mean 1 per text
    # The training graph: the student's own layers and temperature (the teacher's, from
    # `truncated_student`: its logits / T learn the teacher's calibrated probabilities).
    scorer = build_scorer(student.classifier, student.class_prior, student.temperature)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in FEATURE_NAMES}
    outputs = scorer(inputs)
    trainer = keras.Model(inputs, {name: outputs[name] for name in targets})
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss={"probabilities": SoftTargetCrossEntropy(temperature),
                          "embedding": keras.losses.MeanSquaredError()},
                    loss_weights={"probabilities": 1.0, "embedding": embedding_weight})
    kept = np.array(texts, dtype=object)[keep]
    history, scores, best_weights = [], [], None
    best_epoch, stopped = None, None
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(keep))
        dataset = (tf.data.Dataset.from_tensor_slices(
            (tf.constant(list(kept[order])),
             {k: v[order] for k, v in targets.items()}, weights[order]))
            .batch(batch_size)
            .map(lambda text, target, weight: (student.preprocessor(text), target, weight),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
        losses = []
        steps = -(-len(keep) // batch_size)
        with tqdm(total=steps, desc=f"student epoch {epoch + 1}/{epochs}", unit="batch",
                  disable=not progress, leave=False) as bar:
            for features, target, weight in dataset:
                logs = trainer.train_on_batch(features, target, sample_weight=weight,
                                              return_dict=True)
                losses.append(float(logs["loss"]))
                bar.update(1)
        history.append(float(np.mean(losses)))
        if validation is not None:
            scores.append(float(validation()))
            if best_weights is None or scores[-1] > best_weights[0]:
                best_weights = (scores[-1], student.classifier.get_weights())
                best_epoch = epoch + 1
            if epoch + 1 < epochs and patience_spent(epoch + 1, best_epoch, patience):
                stopped = epoch + 1
                break
    if best_weights is None:
        best_epoch = len(history)
    else:
        student.classifier.set_weights(best_weights[1])
    return {"loss_per_epoch": history, "validation_per_epoch": scores,
            "best_epoch": best_epoch, "stopped_early": stopped}


def train_student(teacher: SentimentModel, texts: Sequence[str], teacher_scores: Scores,
                  settings, folder: Path, seed: int = 0, progress: bool = False,
                  validation: Callable[[SentimentModel], float] | None = None
                  ) -> tuple[SentimentModel, dict]:
    """The run's student: `settings.student_layers` layers (a `SentimentConfig`)
    distilled on `texts` with the teacher's `teacher_scores`, saved in `folder`.

    `validation(student)`, if given, scores the student after each epoch (in the
    pipeline its macro-F1 on the validation part against the teacher's classes or the
    stars, `sentiment.student_selection`); the best epoch is kept (`distill`).

    Returns:
        (the student, {"layers", "epochs", "learning_rate", "embedding_weight",
        "temperature", "class_weighting", "texts", "loss_per_epoch",
        "validation_per_epoch", "best_epoch", "stopped_early", "fingerprint", "seconds",
        "cpu_seconds"}
        for the report; the times are the distillation's, per-epoch validation
        included).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    student = truncated_student(teacher, settings.student_layers)
    history = distill(teacher, student, texts, teacher_scores,
                      epochs=settings.student_epochs, batch_size=settings.batch_size,
                      learning_rate=settings.student_learning_rate,
                      embedding_weight=settings.student_embedding_weight,
                      temperature=settings.student_temperature,
                      validation=None if validation is None else lambda: validation(student),
                      seed=seed, progress=progress,
                      class_weighting=settings.student_class_weighting,
                      patience=settings.early_stopping_patience)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    student.save(folder)
    return student, {"layers": settings.student_layers, "epochs": settings.student_epochs,
                     "learning_rate": settings.student_learning_rate,
                     "embedding_weight": settings.student_embedding_weight,
                     "temperature": settings.student_temperature,
                     "class_weighting": settings.student_class_weighting, "texts": len(texts),
                     **history, "fingerprint": student.fingerprint(),
                     "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1)}
