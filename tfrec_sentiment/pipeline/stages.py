"""Run folders, stage timing and stage peak memory shared by every pipeline (train, update).

Example:

>>> timer = StageTimer()
>>> with timer("data"):
...     pass
>>> list(timer.seconds), timer.peak_rss_mb["data"] > 0
(['data'], True)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.io import atomic_write, json_default

STAGES = ("data", "sentiment", "features", "recsys", "evaluation", "cold_start", "comment_only",
          "export")


def rss_bytes() -> int:
    """This process's resident memory now, in bytes (Linux `/proc/self/statm`).

    Elsewhere: the process's peak so far (`resource.getrusage`), an upper bound.
    """
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, else KiB


class _PeakSampler:
    """Samples `rss_bytes` every `interval` seconds on a daemon thread; keeps the peak."""

    def __init__(self, interval: float) -> None:
        self.peak = rss_bytes()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, rss_bytes())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        return self.peak


class StageTimer:
    """Wall seconds and peak resident memory (MB) per named stage, in the order they ran.

    The peak is sampled every `interval` seconds (and at the stage's start and end), so
    a spike shorter than the interval can be missed; it is the whole process's memory,
    including what earlier stages still hold.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        sampler = _PeakSampler(self.interval)
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
            peak = sampler.stop() / 2**20
            self.peak_rss_mb[stage] = max(self.peak_rss_mb.get(stage, 0.0), peak)

    def shares(self) -> dict[str, float]:
        """Each stage's share of the total, 0..1."""
        total = sum(self.seconds.values()) or 1.0
        return {stage: seconds / total for stage, seconds in self.seconds.items()}

    def to_dict(self) -> dict:
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "share": {k: round(v, 4) for k, v in self.shares().items()},
            "total_seconds": round(sum(self.seconds.values()), 2),
            "peak_rss_mb": {k: round(v, 1) for k, v in self.peak_rss_mb.items()},
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
