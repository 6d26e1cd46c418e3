"""One worker of a multi-worker recommender training, for tests/distribute/test_multi_worker.py.

    TF_CONFIG='{"cluster": {"worker": [...]}, "task": {...}}' \\
        python tests/distribute/mw_worker.py --out SHARED_DIR --result FILE --epochs 6

Builds the `MultiWorkerMirroredStrategy` from TF_CONFIG before any other TensorFlow op,
then trains the tiny recommender of the recsys tests into the SHARED folder
`--out` (BackupAndRestore reads the chief's backup there) and writes, per worker,
`--result`: the epochs this process ran, their losses, and predicted ratings of
the validation pairs (each epoch is also appended to `--out/epochs-<task>.jsonl` as
it ends). With `--pause-after-epoch K` the worker writes
`--out/paused-<task>` once epoch K is backed up and then waits to be killed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

import tfrec_sentiment  # noqa: E402,F401  (first: Keras 2 for tf.keras; no TF op yet)
from tfrec_sentiment.distribute.strategy import make_strategy  # noqa: E402

# Exact comparisons need a deterministic objective: no dropout of any kind.
EXACT = dict(dropout=0.0, id_dropout=0.0, early_stopping_patience=100, monitor="val_rmse")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pause-after-epoch", type=int, default=None)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    strategy = make_strategy("multi_worker")  # before any other TensorFlow op
    import tensorflow as tf

    from tests.recsys.trained_fixture import synthetic_split, tiny_config
    from tfrec_sentiment.recsys.train import train_recommender

    task = strategy.cluster_resolver.task_id

    class Progress(tf.keras.callbacks.Callback):
        """Records the epochs this process runs; pauses after one, if asked."""

        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[int] = []
            self.losses: list[float] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.epochs.append(int(epoch))
            self.losses.append(float((logs or {})["total_loss"]))
            # Appended as it happens, so the record survives a killed process.
            with open(args.out / f"epochs-{task}.jsonl", "a") as handle:
                handle.write(json.dumps({"epoch": self.epochs[-1], "loss": self.losses[-1],
                                         "pid": os.getpid()}) + "\n")
            if epoch == args.pause_after_epoch:
                (args.out / f"paused-{task}").write_text(str(epoch))
                time.sleep(600)  # the test kills this process here

    data = synthetic_split()
    progress = Progress()
    trained = train_recommender(tiny_config(epochs=args.epochs, **EXACT), data.split,
                                data.tables, strategy, out_dir=args.out, seed=0,
                                callbacks=[progress])
    validation = data.split.validation
    ratings = trained.predict_rating(validation["user_id"].to_numpy(),
                                     validation["item_id"].to_numpy())
    args.result.write_text(json.dumps({
        "task": task, "chief": bool(strategy.extended.should_checkpoint),
        "replicas": strategy.num_replicas_in_sync, "epochs": progress.epochs,
        "losses": progress.losses, "ratings": ratings.tolist(), "pid": os.getpid()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
