"""The aspects stage of a training run on a real data set: its cost, and explanation quality.

    python bench/aspects_stage.py                                # Musical, VADER polarity
    python bench/aspects_stage.py --polarity bert                # + BERT on the mentions
    python bench/aspects_stage.py --polarity bert --model runs/<run>/sentiment/model
    python bench/aspects_stage.py --data ../shared/data/yelp/<file> --format yelp
    python bench/aspects_stage.py --data demo --polarity bert    # the `make train` data

Reads and splits the file exactly as `tools/train.py` does (its default `DataConfig`),
then runs the run's two aspect stages on it (`pipeline/aspects.py` through
`aspects.stage.run_aspects` and `evaluation.explanations`): the training reviews'
vocabulary, mentions and profiles, then the explanation metrics on the test split.
With `--polarity bert` the mentions' sentences are scored by `--model` (or MiniLM-L6
with a new head: the same cost, meaningless polarity) through a fresh score cache.
Prints one JSON object: wall and process-CPU seconds of each step (reading and
splitting, the stage, the test reviews' parse), the stage's own wall seconds per step
(spaCy on the training reviews, polarity, profiles), the spaCy counts, and the explanation metrics.
The explanation metrics read attention and mention counts only, never polarity, so
they do not depend on `--polarity`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_FILE = DATA / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--format", default="amazon2014")
    parser.add_argument("--polarity", choices=("vader", "bert"), default="vader")
    parser.add_argument("--model", type=Path, default=None,
                        help="fine-tuned SentimentModel folder (default: MiniLM, new head)")
    parser.add_argument("--set", action="append", default=[], metavar="aspects.FIELD=VALUE",
                        help="RunConfig overrides (e.g. aspects.max_reviews=3000)")
    parser.add_argument("--out", type=Path, default=None, help="keep the stage's files here")
    return parser.parse_args()


class Clock:
    """Wall and process-CPU seconds since the last lap (the CPU time is the steadier
    measure when other jobs share the cores)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> list[float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = [round(wall - self.wall, 1), round(cpu - self.cpu, 1)]
        self.wall, self.cpu = wall, cpu
        return out


def main() -> None:
    args = parse_args()
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.aspects.stage import explanation_mentions, run_aspects
    from tfrec_sentiment.data.prepare import load_dataset
    from tfrec_sentiment.data.splits import split_reviews
    from tfrec_sentiment.evaluation.explanations import evaluate_explanations
    from tfrec_sentiment.sentiment.inference import ScoreCache, scoring_options

    data = ([] if str(args.data) == "demo"
            else [f"data.dataset={args.data}", f"data.format={args.format}"])
    config = config_lib.resolve("demo", [*data, f"aspects.polarity={args.polarity}", *args.set])
    clock = Clock()
    prepared = load_dataset(config.data.dataset, format=config.data.format, config=config.data,
                            seed=config.seed)
    split = split_reviews(prepared.reviews, config.data)
    seconds = {"data": clock.lap()}
    model = None
    if args.polarity == "bert":
        from tfrec_sentiment.sentiment.model import SentimentModel

        model = (SentimentModel.load(args.model) if args.model
                 else SentimentModel.from_config(config.sentiment))
    with tempfile.TemporaryDirectory() as folder:
        clock.lap()
        run = run_aspects(config.aspects, split.train, model, args.out,
                          cache=ScoreCache(folder), score_options=scoring_options(config.sentiment),
                          progress=True)
        seconds["stage"] = clock.lap()
    mentioned = explanation_mentions(run, split.test, progress=True)
    seconds["test_parse"] = clock.lap()
    result = evaluate_explanations(run.profiles, split.test, mentioned,
                                   k=config.aspects.explanation_k,
                                   seed=config.aspects.explanation_seed)
    top = run.profiles.aspects[run.profiles.item_mentions.sum(axis=0).argsort()[::-1][:15]]
    print(json.dumps({"data": str(args.data), "split": split.sizes,
                      "seconds (wall, process CPU)": seconds,
                      "stage": run.summary, "top_aspects": top.tolist(),
                      "explanations": result}, indent=1))


if __name__ == "__main__":
    main()
