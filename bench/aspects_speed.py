"""Reviews per second of the aspect step: spaCy parsing, then aspect polarity scoring.

    python bench/aspects_speed.py                          # ~5 minutes on 2 busy cores
    python bench/aspects_speed.py --n 100 --rounds 1       # a quick look
    python bench/aspects_speed.py --model runs/sentiment-sst3/model

On a fixed random sample of Musical Instruments reviews (title + text), in one process:

- spaCy, baseline: `spacy.load(pipeline)` with every component of its default pipeline
  (named entities included) and `nlp.pipe(texts)` at spaCy's default batch, one
  process; ours: `LinguisticPipeline` (unused components excluded, `batch_size` 256),
  with the candidate extraction on top (`AspectExtractor.candidates`), then the parse
  alone with `n_process=2`. Ratios of reviews per CPU-second of this process (steady
  when other jobs share the cores; the median over `--rounds` back-to-back rounds);
  `n_process=2` works in child processes, so it gets a wall-clock ratio only. The
  n_process run comes first, before TensorFlow starts threads in this process.
- polarity: the mentions of the sample (vocabulary fitted on it) scored on their
  sentences by the BERT classifier (`--model`, or MiniLM-L6 with a new head: the same
  cost) through `polarity.score_mentions`, against scoring the same reviews whole
  (`SentimentModel.score`, what the pipeline does for review-level sentiment); VADER on
  the mentions beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_FILE = DATA / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--n", type=int, default=300, help="reviews per timing")
    parser.add_argument("--rounds", type=int, default=2, help="back-to-back rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, default=None,
                        help="fine-tuned SentimentModel folder (default: MiniLM, new head)")
    parser.add_argument("--skip-polarity", action="store_true")
    return parser.parse_args()


def sample_texts(path: Path, n: int, seed: int) -> list[str]:
    """`n` review strings ("title. text") drawn at random from an Amazon 2014 file."""
    import numpy as np
    import pandas as pd

    from tfrec_sentiment.sentiment.labels import review_texts

    frame = pd.read_json(path, lines=True)
    frame = frame.rename(columns={"reviewText": "text", "summary": "title"})
    rows = np.random.default_rng(seed).choice(len(frame), size=min(n, len(frame)),
                                              replace=False)
    return review_texts(frame.iloc[np.sort(rows)])


def timed(function) -> tuple[float, float, object]:
    """(CPU seconds of this process, wall seconds, result) of `function()`."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main() -> None:
    args = parse_args()
    import tfrec_sentiment  # noqa: F401  (sets the Keras world; imports no TensorFlow yet)
    from tfrec_sentiment.text.linguistic import LinguisticConfig, LinguisticPipeline

    texts = sample_texts(args.file, args.n, args.seed)
    n = len(texts)
    print(f"{n} Musical Instruments reviews, {sum(len(t) for t in texts) / n:.0f} "
          "characters on average")

    import spacy

    config = LinguisticConfig()
    ours = LinguisticPipeline(config)
    parallel = LinguisticPipeline(LinguisticConfig(n_process=2), nlp=ours.nlp)
    _, wall_parallel, _ = timed(lambda: list(parallel.docs(texts)))
    _, wall_one, _ = timed(lambda: list(ours.docs(texts)))
    print(f"spaCy parse, n_process=2 vs 1 (wall clock): {n / wall_parallel:.1f} vs "
          f"{n / wall_one:.1f} reviews/s, ratio {wall_one / wall_parallel:.2f}")

    from tfrec_sentiment.aspects.mentions import AspectExtractor

    default = spacy.load(config.pipeline)
    extractor = AspectExtractor(pipeline=ours)
    rows = []
    for _ in range(args.rounds):
        base_cpu, base_wall, _ = timed(lambda: list(default.pipe(texts)))
        our_cpu, our_wall, _ = timed(lambda: list(ours.docs(texts)))
        full_cpu, full_wall, found = timed(lambda: extractor.candidates(texts))
        rows.append((base_cpu, base_wall, our_cpu, our_wall, full_cpu, full_wall))
    base_cpu, base_wall, our_cpu, our_wall, full_cpu, full_wall = (
        statistics.median(column) for column in zip(*rows))
    print(f"spaCy default pipeline ({', '.join(default.pipe_names)}): "
          f"{n / base_cpu:.1f} reviews/CPU-s ({n / base_wall:.1f}/s wall)")
    print(f"ours, parse only ({', '.join(ours.nlp.pipe_names)}): {n / our_cpu:.1f} "
          f"reviews/CPU-s ({n / our_wall:.1f}/s wall), ratio {base_cpu / our_cpu:.2f} "
          f"(wall {base_wall / our_wall:.2f})")
    print(f"ours, parse + candidates: {n / full_cpu:.1f} reviews/CPU-s "
          f"({n / full_wall:.1f}/s wall), ratio to the default parse "
          f"{base_cpu / full_cpu:.2f}")
    if args.skip_polarity:
        return

    from tfrec_sentiment.aspects.config import AspectConfig
    from tfrec_sentiment.aspects.polarity import score_mentions
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.inference import use_bfloat16
    from tfrec_sentiment.sentiment.model import SentimentModel

    vocabulary = AspectExtractor(AspectConfig(min_reviews=2), ours).vocabulary(
        found, ours.counts["tokens"] // max(ours.counts["reviews"], 1) * n)
    table = extractor.mentions(texts, vocabulary, found=found)
    model = (SentimentModel.load(args.model) if args.model is not None
             else SentimentModel.from_config(SentimentConfig()))
    options = {"batch_size": 32, "bfloat16": use_bfloat16(True)}
    model.score(texts[:8], **options)  # traces the scorer before any timing
    sentences = table.drop_duplicates(["review", "sentence_start"]).shape[0]
    print(f"{len(table)} mentions of {len(vocabulary)} aspects in {n} reviews "
          f"({sentences} distinct sentences)")
    rows = []
    for _ in range(args.rounds):
        review_cpu, review_wall, _ = timed(lambda: model.score(texts, **options))
        aspect_cpu, aspect_wall, _ = timed(
            lambda: score_mentions(table, texts, model, "sentence", **options))
        vader_cpu, vader_wall, _ = timed(lambda: score_mentions(table, texts, None))
        rows.append((review_cpu, review_wall, aspect_cpu, aspect_wall, vader_cpu))
    review_cpu, review_wall, aspect_cpu, aspect_wall, vader_cpu = (
        statistics.median(column) for column in zip(*rows))
    print(f"BERT, whole reviews: {n / review_cpu:.1f} reviews/CPU-s "
          f"({n / review_wall:.1f}/s wall)")
    print(f"BERT + VADER, aspect mentions on their sentences: {n / aspect_cpu:.1f} "
          f"reviews/CPU-s ({len(table) / aspect_cpu:.1f} mentions/CPU-s; "
          f"{n / aspect_wall:.1f} reviews/s wall), ratio to whole reviews "
          f"{review_cpu / aspect_cpu:.2f}")
    print(f"VADER alone on the mentions: {n / vader_cpu:.1f} reviews/CPU-s")


if __name__ == "__main__":
    main()
