"""Fine-tuning the sentiment classifier: tf.data, distribution, checkpoints, resume.

- Model: what is fitted is `trainer.build_trainer(classifier)`, the classifier's
  logits through `BertInferenceEncoder` with its dropout (fewer ops per step than
  keras-hub's backbone), on the classifier's own variables.
- Input: raw texts go through `tf.data`; the classifier's `SentimentPreprocessor` is
  mapped over each batch (tokenization in the pipeline, `trainer.preprocessed`).
- Length bucketing by sort-then-batch: each epoch the rows are shuffled, cut into
  pools of `sort_pool_batches` batches, sorted by token length inside a pool, batched,
  and the batches shuffled. A batch is padded to the smallest bucket length that holds
  it. The order is a pure function of (seed, epoch), so a resumed run sees exactly the
  batches the uninterrupted run would have.
- Empty texts: the model's class prior (its answer for a text with no token) is set
  to the training set's label shares, and saved with it (`empty_text.py`).
- Imbalance: class weights (see `labels.class_weights`) enter as sample weights;
  model selection by validation macro-F1 (`MacroF1`, compiled), the best
  epoch's weights are kept.
- Early stopping: with `early_stopping_patience` = P, fitting ends once P epochs in a
  row have not raised the best validation macro-F1. The learning-rate schedule is
  planned over all `epochs` either way, so a stopped run is the uninterrupted run cut
  short: it keeps the same best epoch whenever that epoch comes before the stop.
- Loss: categorical cross-entropy on logits, in the compiled loss.
- Distribution: build and compile inside `strategy.scope()`; the global batch is
  split across replicas by Keras.
- Checkpoints and resume: `checkpoints.py` (`EpochCheckpoint`, after every epoch; it
  also ends fitting early); a new call with the same folder resumes after the last
  finished epoch.

Example (fine-tunes and writes checkpoints into `runs/`, so not run by the tests:
`+SKIP`; tests/sentiment/test_training.py trains the tiny model):

>>> import numpy as np
>>> from tfrec_sentiment.sentiment.datasets import LabelledTexts
>>> train = LabelledTexts("toy", ["great strings", "broke at once", "it is a cable"] * 8,
...                       np.array([2, 0, 1] * 8), binary=False)
>>> validation = LabelledTexts("toy", ["great cable", "broke"], np.array([2, 0]), binary=False)
>>> result = train_classifier(SentimentConfig(preset="tiny", epochs=2),  # doctest: +SKIP
...                           train, validation, "runs/x/sentiment", seed=0, verbose=0)
>>> result.best_epoch in (1, 2)  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.calibration import calibrate
from tfrec_sentiment.sentiment.checkpoints import (
    BEST_WEIGHTS,
    MACRO_F1,
    EpochCheckpoint,
    patience_spent,
    read_state,
    resume,
)
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.empty_text import prior_from_labels
from tfrec_sentiment.sentiment.inference import bfloat16_copy, packed_lengths, use_bfloat16
from tfrec_sentiment.sentiment.labels import LABELS, class_weights
from tfrec_sentiment.sentiment.macro_f1 import MacroF1
from tfrec_sentiment.sentiment.model import SentimentModel
from tfrec_sentiment.sentiment.trainer import (
    build_trainer,
    frozen_token_embeddings,
    preprocessed,
)


@dataclasses.dataclass
class TrainResult:
    """What a fine-tuning run produced.

    Attributes:
        model: the model holding the best epoch's weights.
        history: one dict of Keras logs per finished epoch (resumed runs included).
        best_epoch: 1-based epoch with the highest validation macro-F1.
        best_macro_f1: that value.
        epochs_run: epochs trained by this call (less than `epochs` when resumed
            or stopped early).
        stopped_early: the epoch after which early stopping ended fitting (1-based),
            or None where every planned epoch ran.
        class_weights: the per-class loss weights used, LABELS order.
        calibration: what `calibration.calibrate` fitted on the validation texts
            (the temperature, validation ECE before / after), {} with calibration "none".
        bfloat16: whether the weights trained in a bfloat16 copy (`train_bfloat16`
            as resolved on this machine by `inference.use_bfloat16`).
        frozen_token_embeddings: whether the word-piece table was frozen
            (`train_token_embeddings=False`, a preset other than "tiny").
    """

    model: SentimentModel
    history: list[dict]
    best_epoch: int
    best_macro_f1: float
    epochs_run: int
    class_weights: list[float]
    calibration: dict = dataclasses.field(default_factory=dict)
    bfloat16: bool = False
    frozen_token_embeddings: bool = False
    stopped_early: int | None = None


def epoch_order(lengths: np.ndarray, batch_size: int, seed: int, epoch: int,
                pool_batches: int = 50) -> np.ndarray:
    """Row order for one epoch: consecutive `batch_size` chunks are the batches.

    Shuffled, then sorted by length inside pools of `pool_batches` batches (so a
    batch's rows have similar lengths), then the full batches shuffled; the one
    partial batch, if any, comes last. Deterministic in (seed, epoch).

    Args:
        lengths: packed token length per row [N].

    Returns:
        int64 permutation of range(N).
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = max(batch_size * pool_batches, batch_size)
    pools = [order[i:i + pool] for i in range(0, len(order), pool)]
    order = np.concatenate([p[np.argsort(lengths[p], kind="stable")] for p in pools])
    full = len(order) // batch_size
    batches = order[: full * batch_size].reshape(full, batch_size)
    batches = batches[rng.permutation(full)]
    return np.concatenate([batches.ravel(), order[full * batch_size:]]).astype(np.int64)


def training_dataset(data: LabelledTexts, lengths: np.ndarray, weights: np.ndarray,
                     batch_size: int, seed: int, epochs: Sequence[int],
                     pool_batches: int = 50) -> tf.data.Dataset:
    """Batches `(texts [B], one-hot labels [B, 3], sample weights [B])` for `epochs`.

    The epochs follow one another in one dataset, each ceil(N / batch_size) batches,
    so Keras can run `steps_per_epoch` over it from any `initial_epoch`.
    """
    texts = np.array(data.texts, dtype=object)
    onehot = np.eye(len(LABELS), dtype=np.float32)[data.labels]
    row_weights = weights[data.labels].astype(np.float32)
    dataset = None
    for epoch in epochs:
        order = epoch_order(lengths, batch_size, seed, epoch, pool_batches)
        part = tf.data.Dataset.from_tensor_slices(
            (tf.constant(list(texts[order])), onehot[order], row_weights[order])
        ).batch(batch_size)
        dataset = part if dataset is None else dataset.concatenate(part)
    return dataset


def evaluation_dataset(data: LabelledTexts, lengths: np.ndarray,
                       batch_size: int) -> tf.data.Dataset:
    """Length-sorted batches `(texts [B], one-hot labels [B, 3])`, unweighted."""
    order = np.argsort(lengths, kind="stable")
    onehot = np.eye(len(LABELS), dtype=np.float32)[data.labels]
    texts = np.array(data.texts, dtype=object)[order]
    return tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(texts)), onehot[order])
    ).batch(batch_size)


def compile_classifier(trainer: keras.Model, config: SentimentConfig,
                       total_steps: int) -> None:
    """AdamW with linear warm-up then cosine decay; loss and metrics compiled on
    `trainer` (`trainer.build_trainer`, or any features -> logits model).

    Call inside the strategy scope the model was built in.
    """
    warmup = int(round(config.warmup_fraction * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(total_steps - warmup, 1),
        warmup_target=config.learning_rate, warmup_steps=warmup,
    )
    optimizer = keras.optimizers.AdamW(learning_rate=schedule,
                                       weight_decay=config.weight_decay)
    # Decay the matrices only, as BERT was pre-trained.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    trainer.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                 MacroF1(num_classes=len(LABELS), name=MACRO_F1)],
    )


def train_classifier(config: SentimentConfig, train: LabelledTexts,
                     validation: LabelledTexts, directory: str | Path,
                     strategy: tf.distribute.Strategy | None = None, seed: int = 0,
                     verbose: int | str = "auto",
                     callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Fine-tunes a classifier (or resumes one) and returns it with the best weights.

    Args:
        config: model and fine-tuning settings.
        train: training texts and labels (3-class or binary ids in LABELS numbering).
        validation: held-out texts for model selection (macro-F1).
        directory: the stage folder; checkpoints go to `directory/checkpoints`.
            If it holds a finished epoch, training resumes after it.
        strategy: a `tf.distribute.Strategy` (default: the current one).
        seed: seeds weights of the new head, dropout and the batch order.
        verbose: Keras `fit` verbosity (progress bar by default).
        callbacks: extra Keras callbacks (run after the checkpoint callback).

    Returns:
        `TrainResult`; `model` holds the best epoch's weights.

    Raises:
        ValueError: `directory` holds a checkpoint of another model (e.g. one written
            before fine-tuning ran through `trainer.build_trainer`), naming the folder
            to remove.
    """
    strategy = strategy or tf.distribute.get_strategy()
    checkpoints = Path(directory) / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    state = read_state(checkpoints)
    done = int(state.get("epochs_done", 0))
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = SentimentModel.from_config(config)
        # `train_bfloat16`: the weights train in a mixed_bfloat16 copy (float32 variables,
        # bfloat16 matmuls), copied back into the float32 model at the end.
        # Only where bfloat16 is native (`use_bfloat16`): emulated, it is slower.
        fitted = (bfloat16_copy(model)
                  if use_bfloat16(config.train_bfloat16, "sentiment.train_bfloat16",
                                  "fine-tuning")
                  else model)
    model.set_class_prior(prior_from_labels(train.labels))  # the empty-text answer
    weights = class_weights(train.labels, config.class_weighting)
    train_lengths = packed_lengths(model, train.texts)
    val_lengths = packed_lengths(model, validation.texts)
    steps = -(-len(train) // config.batch_size)
    # The "tiny" preset's table is random, not pre-trained: it always trains.
    freeze = not config.train_token_embeddings and config.preset != "tiny"
    with frozen_token_embeddings(fitted.classifier, freeze):
        with strategy.scope():
            trainer = build_trainer(fitted.classifier, config.attention_dropout)
            compile_classifier(trainer, config, total_steps=steps * config.epochs)
            # Built before `fit` (zero slots, as the first step would make them):
            # variables created inside the first train step make tf.function trace it
            # twice, ~1/3 of a tiny fine-tune's CPU; the weights are bit-identical.
            trainer.optimizer.build(trainer.trainable_variables)
            if done:
                resume(trainer, checkpoints / state["last_checkpoint"])
        state.setdefault("class_weights", weights.tolist())
        epochs_run = 0
        patience = config.early_stopping_patience
        if done < config.epochs and not patience_spent(done, state.get("best_epoch"),
                                                       patience):
            state.pop("stopped_early", None)  # resumed with a longer patience
            dataset = training_dataset(train, train_lengths, weights, config.batch_size,
                                       seed, range(done, config.epochs),
                                       config.sort_pool_batches)
            validation_data = evaluation_dataset(validation, val_lengths,
                                                 config.inference_batch_size)
            trainer.fit(
                preprocessed(dataset, model.preprocessor), epochs=config.epochs,
                initial_epoch=done, steps_per_epoch=steps,
                validation_data=preprocessed(validation_data, model.preprocessor),
                callbacks=[EpochCheckpoint(checkpoints, state, patience=patience,
                                           epochs=config.epochs), *callbacks],
                verbose=verbose, shuffle=False,  # the order is planned per epoch
            )
            epochs_run = int(state["epochs_done"]) - done
        if (checkpoints / BEST_WEIGHTS).is_file():
            trainer.load_weights(checkpoints / BEST_WEIGHTS)
    if fitted is not model:
        model.classifier.set_weights(fitted.classifier.get_weights())
    calibration = (calibrate(model, validation, config.inference_batch_size)
                   if config.calibration == "temperature" else {})
    return TrainResult(
        model=model, history=list(state.get("history", [])),
        best_epoch=int(state.get("best_epoch", 0)),
        best_macro_f1=float(state.get("best_macro_f1", 0.0)),
        epochs_run=epochs_run, class_weights=list(state["class_weights"]),
        calibration=calibration, bfloat16=fitted is not model,
        frozen_token_embeddings=freeze, stopped_early=state.get("stopped_early"),
    )
