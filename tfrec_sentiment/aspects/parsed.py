"""The aspects stage's spaCy parse as a file, so that it can run beside the fine-tuning.

spaCy's parse of the training reviews is the aspects stage's largest single-threaded
step (137 s of 286 on Musical Instruments), and it needs only the training texts,
on disk once the data stage has ended. `tools/train.py` therefore runs it in a child
process at the lowest CPU priority (`nice` 19: it takes the CPU time the BERT
fine-tuning leaves idle, about a third of 2 cores) from the end of the data stage,
`python -m tfrec_sentiment.aspects.parsed --run RUN`, and the aspects stage reads its
candidates instead of parsing (`pipeline/background.py` starts and joins it).

The file, `<run>/aspects/parsed_candidates.json`, holds per parsed review its
`extract.Candidate` list, the spaCy step's counts, and what it was computed from: the
parsed rows (`parsed_rows`), a SHA-256 digest of their texts and the aspect
config. `load_parsed` refuses a file whose rows, texts or config differ from the run's
(`ParsedMismatchError`), so a stale parse is never read as this run's.
`stage.run_aspects(parsed=FILE)` reads it that way and deletes it: it holds aspect
terms of the training reviews, and the run keeps only the derived vocabulary, mentions
and profiles. A run whose tables
are encrypted at rest parses in its own process (no unencrypted intermediate).

Example:

>>> from tfrec_sentiment.aspects.extract import Candidate
>>> found = [[Candidate("sound", "sound", 1, 2, 4, 9, 1, 4, "great")], []]
>>> path = save_parsed("/tmp/parsed_demo.json", found, {"reviews": 2}, ["The sound is great", "ok"],
...                    rows=[0, 1], settings="demo")
>>> again, counts = load_parsed(path, ["The sound is great", "ok"], rows=[0, 1], settings="demo")
>>> again == found, counts
(True, {'reviews': 2})
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec_sentiment.aspects.extract import Candidate
from tfrec_sentiment.io import atomic_write

FORMAT = "tfrec_sentiment.parsed_candidates"
FORMAT_VERSION = 1
FILE = "parsed_candidates.json"
# Candidate fields stored as JSON lists and read back as tuples.
_TUPLE_FIELDS = tuple(f.name for f in dataclasses.fields(Candidate)
                      if str(f.type).startswith("tuple"))


class ParsedMismatchError(ValueError):
    """A parsed-candidates file was computed from other texts, rows or settings."""


def texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 of the texts, each length-prefixed (so no two lists share a digest)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def save_parsed(path: str | Path, found: Sequence[Sequence[Candidate]], counts: dict,
                texts: Sequence[str], rows: Sequence[int], settings: str) -> Path:
    """Writes the candidates of `texts` (rows `rows` of the training split) atomically."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "rows": [int(r) for r in rows], "digest": texts_digest(texts),
               "settings": settings, "counts": {k: int(v) for k, v in counts.items()},
               "candidates": [[dataclasses.asdict(c) for c in review] for review in found]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(payload))


def load_parsed(path: str | Path, texts: Sequence[str], rows: Sequence[int],
                settings: str) -> tuple[list[list[Candidate]], dict]:
    """The candidates and counts of a file written by `save_parsed` for these inputs.

    Raises:
        ParsedMismatchError: the file's format, rows, texts or settings differ.
    """
    payload = json.loads(Path(path).read_text())
    if (payload.get("format"), payload.get("format_version")) != (FORMAT, FORMAT_VERSION):
        raise ParsedMismatchError(f"{path}: not a {FORMAT} file of version {FORMAT_VERSION}")
    for name, ours in (("rows", [int(r) for r in rows]), ("digest", texts_digest(texts)),
                       ("settings", settings)):
        if payload[name] != ours:
            raise ParsedMismatchError(f"{path}: parsed from other {name} than this run's "
                                      "training reviews; delete it to parse again")

    def candidate(fields: dict) -> Candidate:
        return Candidate(**{k: tuple(v) if k in _TUPLE_FIELDS else v
                            for k, v in fields.items()})

    found = [[candidate(c) for c in review] for review in payload["candidates"]]
    return found, dict(payload["counts"])


def parsed_rows(train: pd.DataFrame, max_reviews: int) -> np.ndarray:
    """Row positions of `train` the stage parses: all, or the newest `max_reviews`
    (by timestamp, ties by position), in row order. int64 [M]."""
    if not max_reviews or len(train) <= max_reviews:
        return np.arange(len(train), dtype=np.int64)
    order = np.lexsort((np.arange(len(train)), train["timestamp"].to_numpy()))
    return np.sort(order[-max_reviews:]).astype(np.int64)


def parse_run(run_dir: str | Path) -> Path:
    """Parses a run folder's training reviews as the aspects stage would; returns the file."""
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.aspects.mentions import AspectExtractor, parse_candidates
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.privacy import table_encryption
    from tfrec_sentiment.sentiment.labels import review_texts

    run = Path(run_dir)
    config = config_lib.load(run / "config.json")
    split = Split.load(run / "data", table_encryption(config.privacy))
    rows = parsed_rows(split.train, config.aspects.max_reviews)
    texts = review_texts(split.train.iloc[rows])
    found, counts = parse_candidates(AspectExtractor(config.aspects), texts)
    return save_parsed(run / "aspects" / FILE, found, counts, texts, rows,
                       repr(config.aspects))


def main(argv: Sequence[str] | None = None) -> int:
    """Parses a run folder's training reviews into `<run>/aspects/parsed_candidates.json`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run", required=True, help="a run folder after its data stage")
    parser.add_argument("--nice", type=int, default=0,
                        help="raise this process's niceness by this much first (POSIX)")
    args = parser.parse_args(argv)
    if args.nice and hasattr(os, "nice"):
        os.nice(args.nice)
    print(written_line(parse_run(args.run)))
    return 0


def written_line(path: str | Path) -> str:
    """What `main` prints (into `aspects/parse.log` in a training run): the file, and
    that the aspects stage deletes it once read.

    >>> written_line("run/aspects/p.json")
    'wrote run/aspects/p.json, a temporary file: the aspects stage reads it, then deletes it'
    """
    return f"wrote {path}, a temporary file: the aspects stage reads it, then deletes it"


if __name__ == "__main__":
    raise SystemExit(main())
