"""Fine-tune the BERT sentiment classifier and evaluate it (with VADER) in one run.

    python tools/train_sentiment.py --dataset sst2 --epochs 3
    python tools/train_sentiment.py --format amazon2014 \
        --dataset ../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz
    python tools/train_sentiment.py --dataset demo --set preset=tiny

`--dataset`: "sst2" (SST train sentences; evaluated on SST-2 dev, to compare with the
published MiniLM-L6 dev accuracy of 91.5), "sst2-phrases" (every phrase of the train
trees, as GLUE's SST-2 trains), "sst3" / "sst3-phrases" (the same with a neutral
class: fine-grained labels 0-1 / 2 / 3-4), "demo", a review file (`--format` if it
cannot be guessed) or a downloaded data set name such as amazon2014/Musical_Instruments.
Every run is also evaluated on SST-2 dev and the UCI sentences found in `--eval-data`.

Writes into `--out` (default `runs/sentiment-<dataset>-<time>/`): `config.json` (the
resolved SentimentConfig), `checkpoints/`, `model/`, `scores/`, `metrics.json`,
`metrics.md`. Rerun with the same `--out` to resume an interrupted run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)
from tfrec_sentiment.config import STRATEGIES, ConfigError, apply_overrides
from tfrec_sentiment.config_checks import ToolArgumentParser
from tfrec_sentiment.sentiment.config import SentimentConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL_DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ToolArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="demo",
                        help="sst2, sst2-phrases, sst3, sst3-phrases, demo, a review file, "
                             "or a data set name (default demo)")
    parser.add_argument("--format", default=None, help="reader of a review file")
    parser.add_argument("--out", default=None, help="output folder (resumes if it exists)")
    parser.add_argument("--preset", default=None, help="minilm, tiny, or a preset folder")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any SentimentConfig field, e.g. --set batch_size=16")
    parser.add_argument("--eval-data", type=Path, default=DEFAULT_EVAL_DATA / "sentiment",
                        help="folder with sst/ and uci_labelled_sentences/ "
                             "(default %(default)s)")
    parser.add_argument("--max-eval", type=int, default=None,
                        help="score at most this many texts per evaluation set")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default")
    parser.add_argument("--replicas", type=int, default=None,
                        help="mirrored: logical CPUs (or GPUs) to use")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> SentimentConfig:
    """SentimentConfig defaults, the data set's epochs, `--set`, then `--preset`/`--epochs`.

    Raises:
        ConfigError: a field or value that is not allowed (one line).
    """
    overrides = []
    if args.dataset.startswith(("sst2", "sst3")):
        # SST keeps the settings its README numbers were measured with: every training
        # sentence, length 128, 5e-5, no first stage (the SentimentConfig defaults were
        # chosen for reviews).
        overrides += [f"epochs={2 if args.dataset.endswith('-phrases') else 3}",
                      "max_train_examples=none", "sequence_length=128", "learning_rate=5e-5",
                      "first_stage=none"]
    else:  # the first stage reads the SST trees where the evaluation sets are
        overrides += [f"first_stage_data={args.eval_data}"]
    overrides += args.set
    overrides += [f"{k}={v}" for k, v in (("preset", args.preset), ("epochs", args.epochs))
                  if v is not None]
    return apply_overrides(SentimentConfig(), overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = resolve_config(args)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tfrec_sentiment.distribute.strategy import configure_cpu_replicas, make_strategy

    if args.strategy == "mirrored" and args.replicas:
        configure_cpu_replicas(args.replicas)
    from tfrec_sentiment.sentiment.run import run_sentiment

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = Path(args.dataset).name.split(".")[0].replace("/", "_")
    out = Path(args.out or REPO_ROOT / "runs" / f"sentiment-{name}-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    resolved = {"dataset": args.dataset, "format": args.format, "seed": args.seed,
                "strategy": args.strategy, "replicas": args.replicas,
                "sentiment": dataclasses.asdict(config)}
    (out / "config.json").write_text(json.dumps(resolved, indent=2, default=list) + "\n")
    run_sentiment(
        args.dataset, config, out, public_dir=args.eval_data, data_format=args.format,
        strategy=make_strategy(args.strategy, args.replicas), seed=args.seed,
        # A progress bar on a terminal, one line per epoch in a log file.
        verbose=0 if args.quiet else 1 if sys.stdout.isatty() else 2, max_eval=args.max_eval,
    )
    print((out / "metrics.md").read_text())  # its "Best epoch ..." line says which was kept
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
