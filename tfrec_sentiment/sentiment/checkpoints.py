"""The sentiment fine-tune's checkpoints: per-epoch weights, state, resume, early stop.

`training.train_classifier` fits with `EpochCheckpoint` as its first callback. After
every epoch it writes `checkpoints/epoch-NNN.weights.h5` (model and optimizer state),
`best.weights.h5` when validation macro-F1 improved, and `state.json` (epochs done,
best epoch, history); a new call with the same folder resumes after the last finished
epoch, and `patience_spent` decides an early stop from the same state.

Why not Keras 3's `BackupAndRestore` and `ModelCheckpoint` (as `recsys/train.py` uses
tf-keras's `BackupAndRestore`): the resume needs three things they do not give.

1. The resumed epoch before `fit`. The batch order is a function of (seed, epoch), so
   the dataset of a resumed run must start at the first unfinished epoch's batches.
   `BackupAndRestore` learns that epoch in `on_train_begin` (it sets the model's
   `_initial_epoch`), but Keras 3's `fit` has built its epoch iterator over the dataset
   before it calls `on_train_begin` (keras/src/backend/tensorflow/trainer.py), so a
   resumed run would replay the first epoch's batches. `state.json` gives `epochs_done` before
   the dataset is built.
2. The history and the best epoch across the interruption. `BackupAndRestore` stores
   weights and an epoch counter only; `ModelCheckpoint(save_best_only=True)` forgets its
   best value on restart and records no epoch number. The fine-tune reports the whole
   history and the best epoch, resumed or not (`training.TrainResult`).
3. One consistent folder. `BackupAndRestore` deletes its backup when `fit` ends and
   must not share its folder with `ModelCheckpoint`; here the best weights are written
   atomically and `state.json` last, so it never names a file not yet complete.

For the same reason early stopping reads the best epoch from `state.json`, not from
Keras's `EarlyStopping`, whose count of epochs without improvement starts again at 0
when a run resumes.

`tf.distribute` is not the obstacle: under `MirroredStrategy` those callbacks would
save the same mirrored weights that `save_weights` saves here.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from tfrec_sentiment.io import atomic_path, atomic_write

STATE_FILE = "state.json"
BEST_WEIGHTS = "best.weights.h5"
MACRO_F1 = "macro_f1"


def patience_spent(epochs_done: int, best_epoch: int | None, patience: int | None) -> bool:
    """Whether `patience` epochs in a row ran after the best one (1-based epochs;
    `best_epoch` None: no epoch scored yet; `patience` None: never).

    Example:

    >>> patience_spent(3, 1, 2)
    True
    >>> patience_spent(3, 2, 2), patience_spent(0, None, 1), patience_spent(9, 1, None)
    (False, False, False)
    """
    if patience is None or best_epoch is None:
        return False
    return epochs_done - best_epoch >= patience


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights + optimizer after every epoch, tracks the best by macro-F1 and
    stops fitting early once `patience` epochs in a row did not improve on it.

    Writes `epoch-NNN.weights.h5` (1-based; the previous one is removed once the new
    one is complete), `best.weights.h5` on improvement, and `state.json` last, so the
    state never points at a file that is not yet written. An early stop is recorded
    in the state as `stopped_early` (the last epoch run) when epochs were left.
    """

    def __init__(self, directory: Path, state: dict, monitor: str = f"val_{MACRO_F1}",
                 patience: int | None = None, epochs: int | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.state = state
        self.monitor = monitor
        self.patience = patience
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        done = epoch + 1
        path = self.directory / f"epoch-{done:03d}.weights.h5"
        self.model.save_weights(path)
        score = logs.get(self.monitor, logs.get(MACRO_F1, 0.0))
        if score > self.state.get("best_macro_f1", -1.0):
            with atomic_path(self.directory / BEST_WEIGHTS) as staging:
                self.model.save_weights(staging)
            self.state.update(best_epoch=done, best_macro_f1=score)
        previous = self.state.get("last_checkpoint")
        self.state.update(epochs_done=done, last_checkpoint=path.name,
                          history=[*self.state.get("history", []), logs])
        if patience_spent(done, self.state.get("best_epoch"), self.patience) and (
                self.epochs is None or done < self.epochs):
            self.state["stopped_early"] = done
            self.model.stop_training = True
        write_state(self.directory, self.state)
        if previous and previous != path.name:
            (self.directory / previous).unlink(missing_ok=True)


def resume(trainer: keras.Model, path: Path) -> None:
    """Loads an epoch checkpoint into `trainer`, or says why it cannot."""
    try:
        trainer.load_weights(path)
    except ValueError as error:
        why = " ".join(str(error).split())[:160]  # Keras lists every layer it missed
        raise ValueError(
            f"{path}: not a checkpoint of this fine-tuning model ({why}...); "
            "checkpoints written before fine-tuning ran through trainer.build_trainer "
            f"(the classifier itself) do not load: remove {path.parent} to train again"
        ) from error


def read_state(directory: Path) -> dict:
    """The checkpoint state of a run folder, or an empty one."""
    path = Path(directory) / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def write_state(directory: Path, state: dict) -> None:
    atomic_write(Path(directory) / STATE_FILE, json.dumps(state, indent=2) + "\n")
