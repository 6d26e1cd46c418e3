"""Recommender training speed: examples/s with 1 and N replicas, in one run.

    python bench/train_speed.py                       # Musical Instruments if present
    python bench/train_speed.py --data demo --replicas 1,2 --epochs 4
    python bench/train_speed.py --end-to-end          # + tools/train.py on it, per stage
    python bench/train_speed.py --run runs/real/musical --replicas ''   # a finished run's stages

Splits the CPU into logical devices first (no GPU: `--replicas 1,2` means 1 and 2
logical CPUs; with GPUs, N GPUs), builds the feature tables once, then trains the
same model (same global batch, same seed) under each replica count. Epoch 1
includes tracing, so throughput is the median over the later epochs. Sentiment
probabilities and text embeddings are random here: they change no shape and no
cost, and this measures the recommender alone. Prints one line per replica count
and the speed-up ratio of the last against the first.

With `--end-to-end` it then runs the whole chain (`tools/train.py` on the same data,
3 seeds, no export) and prints its wall time and each stage's share, from the run's
`timing.json`; `--run DIR` prints those of a finished run instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS)

# isort: split
import numpy as np
import tensorflow as tf

from tfrec_sentiment.data.prepare import load_dataset
from tfrec_sentiment.data.splits import leave_last_out
from tfrec_sentiment.distribute.strategy import configure_cpu_replicas, make_strategy
from tfrec_sentiment.features.tables import build_feature_tables
from tfrec_sentiment.pipeline.stages import timing_table
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.train import EpochTimer, train_recommender

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = (REPO.parent / "shared" / "data" / "amazon2014"
             / "reviews_Musical_Instruments_5.json.gz")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REAL_DATA) if REAL_DATA.exists() else "demo",
                        help="'demo' or a review file (default: Musical Instruments if present)")
    parser.add_argument("--replicas", default="1,2", help="comma-separated replica counts")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256, help="GLOBAL batch size")
    parser.add_argument("--variant", default="full", choices=("ids", "ratings", "full"))
    parser.add_argument("--text-dim", type=int, default=384)
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time tools/train.py on the same data, per stage")
    parser.add_argument("--run", type=Path, help="print the stage times of this finished run")
    return parser.parse_args()


def run_chain(data: str, run_dir: Path) -> Path:
    """Runs tools/train.py (no export) into `run_dir`; returns it."""
    command = [sys.executable, str(REPO / "tools" / "train.py"), "--data", data,
               "--run-dir", str(run_dir), "--no-export", "--quiet"]
    if data == str(REAL_DATA):
        command += ["--format", "amazon2014", "--name", "musical"]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return run_dir


def stage_table(run_dir: Path) -> str:
    """Markdown: the run's end-to-end minutes, then each stage's seconds, share of the
    wall time and peak memory (`pipeline.stages.timing_table`; skipped stages say so)."""
    timing = json.loads((run_dir / "timing.json").read_text())
    return (f"end to end ({run_dir.name}): {timing['total_seconds'] / 60:.1f} min\n"
            + timing_table(timing))


def main() -> None:
    args = _parse()
    counts = [int(r) for r in args.replicas.split(",") if r]
    if counts:
        replica_speed(args, counts)
    if args.end_to_end:
        args.run = run_chain(args.data, REPO / "runs" / "bench-train-speed")
    if args.run:
        print(stage_table(args.run))


def replica_speed(args: argparse.Namespace, counts: list[int]) -> None:
    """Trains the same model under each replica count; prints examples/s and the ratio."""
    if not tf.config.list_physical_devices("GPU"):
        configure_cpu_replicas(max(counts))  # before TensorFlow's runtime starts
    reviews = load_dataset(args.data).reviews
    split = leave_last_out(reviews)
    rng = np.random.default_rng(0)
    n = len(split.train)
    probabilities = rng.dirichlet(np.ones(3), size=n).astype(np.float32)
    embeddings = rng.normal(size=(n, args.text_dim)).astype(np.float32)
    tables = build_feature_tables(split.train, probabilities, embeddings)
    # No early stopping and no per-epoch catalogue scoring: pure training steps.
    config = RecsysConfig(variant=args.variant, epochs=args.epochs, batch_size=args.batch_size,
                          monitor="val_rmse", early_stopping_patience=args.epochs + 1)
    no_validation = type("TrainOnly", (), {"train": split.train, "validation": None})()
    steps = n // args.batch_size
    print(f"data {args.data}: {n} training examples, global batch {args.batch_size}, "
          f"{steps} steps/epoch, variant {args.variant}")
    rates = {}
    for count in counts:
        strategy = make_strategy("default" if count == 1 else "mirrored",
                                 replicas=None if count == 1 else count)
        timer = EpochTimer()
        train_recommender(config, no_validation, tables, strategy, seed=0, callbacks=[timer])
        later = timer.seconds[1:] or timer.seconds
        rates[count] = steps * args.batch_size / statistics.median(later)
        print(f"replicas {count}: {rates[count]:9.0f} examples/s "
              f"(first epoch incl. tracing {timer.seconds[0]:.1f} s)")
    first, last = counts[0], counts[-1]
    print(f"ratio {last} vs {first} replicas: {rates[last] / rates[first]:.2f}x")


if __name__ == "__main__":
    main()
