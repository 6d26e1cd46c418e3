"""Work that needs only the run folder, run in child processes beside the chain.

On 2 cores much of a run keeps one core busy: the BERT fine-tuning uses about 1.7,
and spaCy's parse and the recommender trainings of the evaluation and the comment-only
protocol one (on Musical Instruments the evaluation stage took 418 CPU-s in 423 s of
wall time). Two pieces read nothing but files the chain has already written, so
`tools/train.py` runs them as their own commands, the ones a user could run:

- spaCy's parse of the training reviews for the aspects stage, from the end of the data
  stage, at the lowest CPU priority (`nice` 19: it takes what the fine-tuning leaves
  idle): `python -m tfrec_sentiment.aspects.parsed --run RUN --nice 19`; the aspects
  stage joins it and reads its candidates (`aspects/parsed.py`);
- the comment-only protocol (it reads the split, the config and the classifier's
  scores, all written by the sentiment stage): `python -m
  tfrec_sentiment.evaluation.comment_only --run RUN --quiet`, from the end of the
  aspects stage, joined before the export; it writes `evaluation/comment_only.md` /
  `.json` as the in-process stage does. It starts after the aspects stage's BERT
  scoring, which uses both cores, so that it runs beside the recommender, evaluation,
  explanation and cold-start stages, which use one: started at the end of the sentiment
  stage it slowed that scoring 2x on Musical Instruments (aspects stage 317 s).

Each child's output goes to a log in the run folder (`aspects/parse.log`,
`evaluation/comment_only.log`); a child that fails stops the run with an error that
quotes its log. Its wall time, CPU time (`os.wait4`: that child alone) and peak memory
(sampled from `/proc`) go to `timing.json` under "background", its CPU time into its
stage's; the stage's own seconds include the wait at the join. The comment-only stage
runs wholly in its child (`whole_stage`): the stage tables give the child's wall time as
its time, and the wait at the join beside it.

When they run in the background (`background_skip_reason` is None): `background_jobs`
is on (the default) and the run trains on one device in one process
(`strategy="default"`); the parse also needs tables that are not encrypted at rest (its
file would be an unencrypted intermediate). Otherwise the work stays in the run's own
process, as before.

Example:

>>> import sys
>>> job = BackgroundJob.start("demo", [sys.executable, "-c", "print('done')"],
...                           "/tmp/tfrec_background_demo.log")
>>> usage = job.join()
>>> usage.seconds > 0, open("/tmp/tfrec_background_demo.log").read()
(True, 'done\\n')
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfrec_sentiment.pipeline.stages import PeakSampler

# Lines of the child's log quoted in the error when it fails.
LOG_TAIL_LINES = 20
# Seconds between two reads of a child's peak memory.
PEAK_INTERVAL = 0.2


def _high_water_bytes(pid: int) -> int | None:
    """The process's own peak resident memory since it started its program, in bytes
    (Linux `/proc/<pid>/status` VmHWM; `ru_maxrss` would count the parent's memory that
    the forked child held before exec), or None when the process has exited (the line
    goes with its memory) or there is no `/proc`."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class BackgroundJobError(RuntimeError):
    """A background protocol exited with an error; the message quotes its log."""


@dataclasses.dataclass(frozen=True)
class ChildUsage:
    """What a finished child process used: wall seconds from its start to its end, CPU
    seconds (user + system) and its peak resident memory in MiB, sampled every
    `PEAK_INTERVAL` seconds (NaN where the platform cannot tell: no `/proc`, no
    `os.wait4`)."""

    seconds: float
    cpu_seconds: float
    peak_rss_mib: float


@dataclasses.dataclass
class BackgroundJob:
    """One command running in a child process, its output in `log_path`."""

    name: str
    process: subprocess.Popen
    log_path: Path
    started: float
    _sampler: PeakSampler = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        pid = self.process.pid
        self._sampler = PeakSampler(PEAK_INTERVAL, lambda: _high_water_bytes(pid))
        self._ended: float | None = None  # when the child exited (`_note_end`)
        self._waiter = None
        if hasattr(os, "waitid") and hasattr(os, "WNOWAIT"):
            self._waiter = threading.Thread(target=self._note_end, daemon=True,
                                            name=f"{self.name}-end")
            self._waiter.start()

    def _note_end(self) -> None:
        """Records when the child exits, without reaping it (`join` and `stop` still can):
        the wall seconds end there, not when the parent comes to join it."""
        try:
            os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:  # already reaped: `join` takes its own time
            return
        self._ended = time.perf_counter()

    @classmethod
    def start(cls, name: str, command: Sequence[str], log_path: str | Path) -> BackgroundJob:
        """Starts `command` (argv list) with stdout and stderr to `log_path` (created)."""
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        return cls(name, process, log_path, time.perf_counter())

    def join(self) -> ChildUsage:
        """Waits for the child; returns its usage.

        Raises:
            BackgroundJobError: it exited with a non-zero status (the message names the
                job and its log and quotes the log's last lines).
        """
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(self.process.pid, 0)
            self.process.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
        else:  # pragma: no cover (Windows)
            self.process.wait()
            cpu = float("nan")
        peak = self._sampler.stop() / 2**20 or float("nan")  # 0: never readable
        if self._waiter is not None:
            self._waiter.join(timeout=1.0)
        seconds = (self._ended or time.perf_counter()) - self.started
        if self.process.returncode != 0:
            lines = self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            raise BackgroundJobError(
                f"the {self.name} protocol, run in the background, failed with exit status "
                f"{self.process.returncode}; its log is {self.log_path}. Last lines:\n"
                + "\n".join(lines))
        return ChildUsage(seconds, cpu, peak)

    def note(self, line: str) -> None:
        """Appends `line` to the child's log (e.g. what became of a file it names)."""
        with open(self.log_path, "a") as log:
            log.write(line.rstrip("\n") + "\n")

    def stop(self) -> None:
        """Ends the child if it still runs (the run failed elsewhere): terminate, then kill."""
        if self.process.poll() is not None:  # ended (or reaped by `join`)
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def background_skip_reason(config: Any) -> str | None:
    """Why a run keeps its background work in its own process, or None.

    Example:
        >>> from tfrec_sentiment import config as config_lib
        >>> background_skip_reason(config_lib.resolve("demo")) is None
        True
        >>> background_skip_reason(config_lib.resolve("demo", ["strategy=mirrored"]))
        "strategy='mirrored' (a child would train on one device)"
    """
    if not config.background_jobs:
        return "background_jobs is off"
    if config.strategy != "default":
        return f"strategy={config.strategy!r} (a child would train on one device)"
    return None


def start_aspect_parse(config: Any, run_dir: str | Path,
                       encryption: Any = None) -> BackgroundJob | None:
    """Starts spaCy's parse of the run's training reviews in a child process (after the
    data stage), or returns None: aspects off, background off (`background_skip_reason`)
    or tables encrypted at rest (`encryption` not None)."""
    if not config.aspects.enabled or background_skip_reason(config) or encryption is not None:
        return None
    run_dir = Path(run_dir)
    command = [sys.executable, "-m", "tfrec_sentiment.aspects.parsed", "--run", str(run_dir),
               "--nice", "19"]
    return BackgroundJob.start("aspect parse", command, run_dir / "aspects" / "parse.log")


def join_aspect_parse(job: BackgroundJob, run_dir: str | Path) -> tuple[Path, ChildUsage]:
    """Waits for `start_aspect_parse`'s child; returns its file (for
    `stage.run_aspects(parsed=...)`, which checks and deletes it: then
    `note_parse_removed`) and its usage.

    Raises:
        BackgroundJobError: the child failed.
    """
    from tfrec_sentiment.aspects.parsed import FILE

    usage = job.join()
    return Path(run_dir) / "aspects" / FILE, usage


def note_parse_removed(job: BackgroundJob, parsed: str | Path, results: Sequence[str]) -> None:
    """Ends the parse's log (`aspects/parse.log`, whose line names the file) with what
    became of `parsed` once the aspects stage has read and deleted it, so that the log
    points at no missing file as if it were there; `results`: the files in `aspects/`
    that hold what the stage made of it (`aspects.stage.RESULT_FILES`)."""
    if not Path(parsed).exists():
        job.note(f"{Path(parsed).name}: read by the aspects stage and removed; its results "
                 f"are in aspects/{', '.join(results[:-1])} and {results[-1]}")


def start_comment_only(config: Any, run_dir: str | Path) -> BackgroundJob | None:
    """Starts the comment-only protocol of the run in `run_dir` in a child process, or
    returns None when it is off or stays in this process (`background_skip_reason`).

    Call it once the sentiment stage has saved the model and the training scores
    (`tools/train.py`: after the aspects stage, module docstring).
    """
    from tfrec_sentiment.evaluation.comment_only import comment_only_skip_reason

    if comment_only_skip_reason(config) is not None or background_skip_reason(config):
        return None
    run_dir = Path(run_dir)
    # `tfrec_sentiment.quiet`: TensorFlow's log lines hidden from the child's first import
    command = [sys.executable, "-m", "tfrec_sentiment.quiet",
               "tfrec_sentiment.evaluation.comment_only", "--run", str(run_dir), "--quiet"]
    return BackgroundJob.start("comment-only", command,
                               run_dir / "evaluation" / "comment_only.log")
