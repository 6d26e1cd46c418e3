"""Run folders and stage timing shared by every pipeline (train, update).

Example:

>>> timer = StageTimer()
>>> with timer("data"):
...     pass
>>> list(timer.seconds)
['data']
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.io import atomic_write, json_default

STAGES = ("data", "sentiment", "features", "recsys", "evaluation", "cold_start", "comment_only",
          "export")


class StageTimer:
    """Wall seconds per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def shares(self) -> dict[str, float]:
        """Each stage's share of the total, 0..1."""
        total = sum(self.seconds.values()) or 1.0
        return {stage: seconds / total for stage, seconds in self.seconds.items()}

    def to_dict(self) -> dict:
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "share": {k: round(v, 4) for k, v in self.shares().items()},
            "total_seconds": round(sum(self.seconds.values()), 2),
        }


def new_run_dir(config: config_lib.RunConfig, run_dir: str | Path | None = None) -> Path:
    """Creates the run folder (`<run_root>/<name>-<YYYYmmdd-HHMMSS>` unless given).

    A given folder may exist: re-running into it resumes stages that checkpoint.
    """
    if run_dir is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path(config.run_root) / f"{config.name}-{stamp}"
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_lib.save(config, run_dir / "config.json")
    return run_dir


def write_json(path: Path, payload: dict) -> Path:
    """Writes `payload` as indented JSON, atomically (`tfrec_sentiment.io`).

    numpy values become lists / numbers and paths strings; other types raise TypeError
    before anything is written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=1, sort_keys=False, default=json_default) + "\n"
    return atomic_write(path, text)
