"""Run folders, stage timing and stage peak memory shared by every pipeline (train, update).

Memory is in MiB (2**20 bytes) throughout: `StageTimer.peak_rss_mib`, and
`peak_rss_mib` in `timing.json` (files written before the rename say `peak_rss_mb`,
with the same MiB values: `stage_peaks` reads both).

Example:

>>> timer = StageTimer()
>>> with timer("data"):
...     pass
>>> timer.skip("export", "--no-export")
>>> list(timer.seconds), timer.peak_rss_mib["data"] > 0, timer.to_dict()["skipped"]
(['data'], True, {'export': '--no-export'})
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
from collections.abc import Callable, Iterator
from pathlib import Path

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.io import atomic_write, json_default

STAGES = ("data", "sentiment", "aspects", "features", "recsys", "evaluation", "explanations",
          "cold_start", "comment_only", "export")


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


class PeakSampler:
    """Samples `read()` every `interval` seconds on a daemon thread and keeps the largest
    value (`peak`, bytes). `read` returns bytes, or None once there is nothing left to
    read (a child process that has exited): the thread then ends. Default: this
    process's resident memory (`rss_bytes`)."""

    def __init__(self, interval: float, read: Callable[[], int | None] = rss_bytes) -> None:
        self._read = read
        self.peak = read() or 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if (value := self._read()) is None:
                return
            self.peak = max(self.peak, value)

    def stop(self) -> int:
        """Ends the sampling (a last read included); returns the peak."""
        self._stop.set()
        self._thread.join()
        if (value := self._read()) is not None:
            self.peak = max(self.peak, value)
        return self.peak


class StageTimer:
    """Wall seconds, CPU seconds and peak resident memory (MiB) per named stage, in the
    order they ran.

    CPU seconds are the process's user + system time over the stage (`time.process_time`,
    every thread of the process, child processes not counted): on a shared machine the
    wall time grows with the other load while the CPU time does not, and CPU seconds / n
    is the stage's lower bound on n cores.

    The peak is sampled every `interval` seconds (and at the stage's start and end), so
    a spike shorter than the interval can be missed; it is the whole process's memory,
    including what earlier stages still hold.

    A stage that does not run (switched off, or nothing to do) is recorded with `skip`
    and its reason: it has no seconds, share or peak, so it never reads as a stage
    that ran in 0.0 s.

    A stage that has work in a child process beside the others (`pipeline.background`)
    is timed here by what it did in this process, the wait at the join included, and
    `add_background` records the child: its own wall seconds and peak under
    "background", its CPU seconds added to the stage's. A stage whose work all ran in
    the child (`whole_stage=True`: this process only joined it) has no wall time of its
    own here beyond that wait; `timing_table` gives the child's wall time as its time.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}
        self.skipped: dict[str, str] = {}
        self.background: dict[str, dict[str, float]] = {}

    def add_background(self, stage: str, seconds: float, cpu_seconds: float,
                       peak_rss_mib: float, *, whole_stage: bool = False) -> None:
        """Records a child process's usage for `stage` (`background.ChildUsage` fields).

        `whole_stage`: the child did all of the stage's work, so the stage's own seconds
        are only the wait at the join (recorded as `"whole_stage": true`).
        """
        self.background[stage] = {"seconds": round(seconds, 2),
                                  "cpu_seconds": round(cpu_seconds, 2),
                                  "peak_rss_mib": round(peak_rss_mib, 1)}
        if whole_stage:
            self.background[stage]["whole_stage"] = True
        self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + cpu_seconds

    def skip(self, stage: str, reason: str) -> None:
        """Records that `stage` did not run, and why (e.g. "evaluation.comment_only is off")."""
        self.skipped[stage] = reason

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start, cpu_start = time.perf_counter(), time.process_time()
        sampler = PeakSampler(self.interval)
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
            self.cpu_seconds[stage] = (self.cpu_seconds.get(stage, 0.0)
                                       + time.process_time() - cpu_start)
            peak = sampler.stop() / 2**20
            self.peak_rss_mib[stage] = max(self.peak_rss_mib.get(stage, 0.0), peak)

    def shares(self) -> dict[str, float]:
        """Each stage's share of the total, 0..1."""
        total = sum(self.seconds.values()) or 1.0
        return {stage: seconds / total for stage, seconds in self.seconds.items()}

    def to_dict(self) -> dict:
        """`timing.json`: seconds (wall), CPU seconds, share (of wall) and peak (MiB) of
        the stages that ran; the stages that did not, with their reason, under "skipped"."""
        return {
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "share": {k: round(v, 4) for k, v in self.shares().items()},
            "total_seconds": round(sum(self.seconds.values()), 2),
            "cpu_seconds": {k: round(v, 2) for k, v in self.cpu_seconds.items()},
            "total_cpu_seconds": round(sum(self.cpu_seconds.values()), 2),
            "peak_rss_mib": {k: round(v, 1) for k, v in self.peak_rss_mib.items()},
            "skipped": {k: v for k, v in self.skipped.items() if k not in self.seconds},
            "background": dict(self.background),
        }


def stage_peaks(timing: dict) -> dict[str, float]:
    """Each stage's peak resident memory in MiB from a `timing.json` dict.

    Files written before the key was renamed say `peak_rss_mb` (already MiB values);
    none at all: {}.
    """
    return dict(timing.get("peak_rss_mib", timing.get("peak_rss_mb", {})))


def stage_rows(timing: dict) -> list[tuple[str, str | None]]:
    """(stage, None) for each stage that ran, in the order it ran, and (stage, reason)
    for each skipped one, right after the last stage that ran before it in `STAGES`
    (stages outside `STAGES`, e.g. the update's guardrail, keep their place)."""
    rank = {stage: i for i, stage in enumerate(STAGES)}
    rows: list[tuple[str, str | None]] = [(stage, None) for stage in timing["seconds"]]
    skipped = timing.get("skipped", {})
    for stage in sorted(skipped, key=lambda s: rank.get(s, len(STAGES))):
        if stage in timing["seconds"]:
            continue
        place = rank.get(stage, len(STAGES))
        at = max((i + 1 for i, (s, _) in enumerate(rows) if s in rank and rank[s] < place),
                 default=0)
        rows.insert(at, (stage, skipped[stage]))
    return rows


TIMING_HEADING = "Stage wall times, CPU times and peak memory"  # of `timing_table`


def timing_table(timing: dict) -> str:
    """Markdown: wall seconds, share, CPU seconds and peak memory (MiB) of each stage that
    ran, and each skipped stage with its reason (`stage_rows`' order); a last row with
    the totals. Files written before CPU time was recorded: "—" in its column.

    A stage with a background child (`StageTimer.add_background`) adds the child's wall
    time and peak to its seconds cell; one that ran wholly in the child leads with the
    child's wall time (its own seconds are only the wait at the join, what the share
    and the total count, as the chain did not wait for the rest).

    Example:
        >>> print(timing_table({"seconds": {"data": 2.0}, "share": {"data": 1.0},
        ...                     "cpu_seconds": {"data": 3.5}, "peak_rss_mib": {"data": 900.0},
        ...                     "skipped": {"export": "--no-export"}}))
        | stage | seconds | share | CPU seconds | peak memory (MiB) |
        |---|---|---|---|---|
        | data | 2.0 | 100% | 3.5 | 900 |
        | export | skipped: --no-export | | | |
        | total | 2.0 | | 3.5 | |
    """
    peaks, cpu = stage_peaks(timing), timing.get("cpu_seconds", {})

    def cpu_cell(seconds: float | None) -> str:
        return "—" if seconds is None else f"{seconds:.1f}"

    lines = ["| stage | seconds | share | CPU seconds | peak memory (MiB) |",
             "|---|---|---|---|---|"]
    for stage, reason in stage_rows(timing):
        if reason is not None:
            lines.append(f"| {stage} | skipped: {reason} | | | |")
        else:
            lines.append(f"| {stage} | {_seconds_cell(timing, stage)} | "
                         f"{timing['share'][stage]:.0%} | {cpu_cell(cpu.get(stage))} | "
                         f"{peaks.get(stage, float('nan')):.0f} |")
    total_cpu = sum(cpu.values()) if cpu else None
    lines.append(f"| total | {sum(timing['seconds'].values()):.1f} | | {cpu_cell(total_cpu)} | |")
    return "\n".join(lines)


def _seconds_cell(timing: dict, stage: str) -> str:
    """The wall seconds of `stage` in `timing_table`, with its background child's."""
    seconds, child = timing["seconds"][stage], timing.get("background", {}).get(stage)
    if not child:
        return f"{seconds:.1f}"
    if child.get("whole_stage"):
        return (f"{child['seconds']:.1f} in a background process (peak "
                f"{child['peak_rss_mib']:.0f} MiB), beside the other stages; "
                f"{seconds:.1f} s waiting at its join")
    return (f"{seconds:.1f} (and {child['seconds']:.1f} s in a background process, peak "
            f"{child['peak_rss_mib']:.0f} MiB)")


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
