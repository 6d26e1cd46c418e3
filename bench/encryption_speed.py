"""What encryption at rest costs: writing and reading a run's tables, plain vs encrypted.

    python bench/encryption_speed.py                     # Musical Instruments, 5 rounds
    python bench/encryption_speed.py --rounds 3 \
        --input ../shared/data/amazon2018/All_Beauty_5.json.gz

The reviews go through the package's own path (`prepare_reviews`, `split_reviews`),
then, in one process and interleaved round by round, the run folder's tables are
written and read back through the same calls a run makes, in three modes:

- plain: no key source (Parquet as before);
- encrypted: `privacy.key_file` set, every column and the footer encrypted
  (Parquet modular encryption, AES-GCM, local key file);
- column keys: only `user_id`, `text` and `title` encrypted (two master keys), the
  footer in the clear (`privacy.plaintext_footer`), so ratings and counts stay readable.

Tables: `data/` (clean table, item map, duplicates, rejected records, the four split
parts) via `PreparedReviews.save/load` and `Split.save/load`, and the score cache of the
training texts (`ScoreCache.add/lookup`: 32-byte keys, 3 probabilities and a 384-float
embedding per text, random numbers standing in for the classifier's). Times are the
CPU seconds of this process (all its threads) per round, median over rounds, with the
wall-clock seconds beside them; a ratio is the median of the per-round CPU-time ratios
to plain, so load shared by other jobs affects both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.prepare import PreparedReviews, prepare_reviews
from tfrec_sentiment.data.splits import Split, split_reviews
from tfrec_sentiment.privacy import TableEncryption, create_key_file
from tfrec_sentiment.sentiment.inference import ScoreCache, text_keys
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.scores import Scores

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_FILE = DATA / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
EMBEDDING_DIM = 384  # all-MiniLM-L6-v2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_FILE, help="review file")
    parser.add_argument("--format", default=None, help="reader (default: guessed)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode")
    return parser.parse_args(argv)


def modes(key_file: Path) -> dict[str, TableEncryption | None]:
    """plain / encrypted / column keys, as in the module docstring."""
    return {
        "plain": None,
        "encrypted": TableEncryption.local(key_file),
        "column keys": TableEncryption.local(
            key_file, column_keys={"user_id": "ids", "text": "texts", "title": "texts"},
            plaintext_footer=True),
    }


def one_round(folder: Path, prepared: PreparedReviews, split: Split, keys: np.ndarray,
              scores: Scores, encryption: TableEncryption | None) -> dict[str, float]:
    """Writes then reads the tables once; returns CPU and wall seconds per step and
    the bytes written."""
    shutil.rmtree(folder, ignore_errors=True)
    start = time.process_time(), time.perf_counter()
    prepared.save(folder / "data", encryption)
    split.save(folder / "data", encryption)
    ScoreCache(folder / "scores", encryption).add("fp", keys, scores)
    wrote = time.process_time(), time.perf_counter()
    PreparedReviews.load(folder / "data", encryption)
    Split.load(folder / "data", encryption)
    found = ScoreCache(folder / "scores", encryption).lookup("fp", keys)
    read = time.process_time(), time.perf_counter()
    assert all(item is not None for item in found)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"write_s": wrote[0] - start[0], "read_s": read[0] - wrote[0],
            "write_wall_s": wrote[1] - start[1], "read_wall_s": read[1] - wrote[1],
            "bytes": size}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.input.is_file():
        print(f"error: {args.input} does not exist (the shared data folder)")
        return 1
    prepared = prepare_reviews(args.input, args.format, progress=False)
    split = split_reviews(prepared.reviews, DataConfig())
    texts = review_texts(split.train)
    keys = np.unique(text_keys(texts))
    rng = np.random.default_rng(0)
    scores = Scores(rng.dirichlet(np.ones(3), len(keys)).astype(np.float32),
                    rng.standard_normal((len(keys), EMBEDDING_DIM)).astype(np.float32))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        key_file = create_key_file(scratch / "keys.json", ["footer", "ids", "texts"])
        settings = modes(key_file)
        timings: dict[str, list[dict]] = {name: [] for name in settings}
        for _ in range(args.rounds):
            for name, encryption in settings.items():
                timings[name].append(one_round(scratch / "run", prepared, split, keys,
                                               scores, encryption))
    rows = {}
    for name, runs in timings.items():
        rows[name] = {
            **{key: statistics.median(r[key] for r in runs)
               for key in ("write_s", "read_s", "write_wall_s", "read_wall_s")},
            "write_ratio": statistics.median(
                r["write_s"] / p["write_s"] for r, p in zip(runs, timings["plain"])),
            "read_ratio": statistics.median(
                r["read_s"] / p["read_s"] for r, p in zip(runs, timings["plain"])),
            "mib": runs[0]["bytes"] / 2**20,
        }
    print(f"{args.input.name}: {len(prepared.reviews):,} reviews, {len(keys):,} cached "
          f"scores, {args.rounds} rounds (median)\n")
    print("| mode | write CPU s (wall) | read CPU s (wall) | write / plain | read / plain "
          "| MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['write_s']:.2f} ({row['write_wall_s']:.2f}) | "
              f"{row['read_s']:.2f} ({row['read_wall_s']:.2f}) | {row['write_ratio']:.2f} | "
              f"{row['read_ratio']:.2f} | {row['mib']:.1f} |")
    print(json.dumps({"input": str(args.input), "reviews": len(prepared.reviews),
                      "cached_scores": len(keys), "rounds": args.rounds, "modes": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
