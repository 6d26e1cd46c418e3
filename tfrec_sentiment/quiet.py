"""`--quiet` for the command lines: TensorFlow's own log lines off, the package's kept.

TensorFlow writes three kinds of lines to stderr that say nothing about a run:

- C++ log lines, e.g. `I0000 ... port.cc:153] oneDNN custom operations are on` or,
  on a machine without a GPU, `E0000 ... cuda_platform.cc:52] failed call to cuInit`.
  `TF_CPP_MIN_LOG_LEVEL=3` (read when TensorFlow is imported) hides the info, warning
  and error lines; an error that stops the run still raises a Python exception that
  carries its message.
- Lines written while TensorFlow is imported, before its logging is set up
  (abseil's `WARNING: All log messages before absl::InitializeLog() is called are
  written to STDERR` and the lines after it). They ignore `TF_CPP_MIN_LOG_LEVEL`
  (abseil-cpp pull request 1957, open), so `quiet_tensorflow` imports TensorFlow
  and lists its devices (the CUDA probe) with the stderr file descriptor captured,
  then writes back every captured line that is not such a log line (all of them if
  the import fails).
- Python `WARNING:tensorflow:` lines (retracing, tf-keras saving notes): the
  `tensorflow` logger is set to ERROR.

Warnings of the package itself (`warnings.warn`, e.g. the item-to-item term switched
off for memory) and error messages still reach stderr.

`python -m tfrec_sentiment.quiet MODULE [ARG ...]` runs MODULE as `python -m MODULE`
would, quiet from its first import: `tools/train.py`'s background children
(`pipeline/background.py`) run so, their logs holding their own output only.

Example:

>>> quiet_tensorflow()  # before anything imports TensorFlow  # doctest: +SKIP
>>> is_tensorflow_log_line("I0000 00:00:1796117849.807477   10318 port.cc:153] oneDNN")
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import runpy
import sys
import tempfile
from collections.abc import Iterator, Sequence

# A C++ log line of severity I, W or E (MMDD, time, thread, file:line]; a fatal F line
# is kept), abseil's banner, and the second line of the CPU-feature note.
_LOG_LINE = re.compile(r"([IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.+-]+:\d+\] |"
                       r"WARNING: All log messages before absl::InitializeLog\(\)|"
                       r"To enable the following instructions: )")


def is_tensorflow_log_line(line: str) -> bool:
    """Whether `line` is one of TensorFlow's native log lines (module docstring)."""
    return _LOG_LINE.match(line) is not None


def quiet_tensorflow() -> None:
    """Hides TensorFlow's log lines for the rest of the process (module docstring).

    Call it before anything imports TensorFlow; a `TF_CPP_MIN_LOG_LEVEL` already in the
    environment is kept. Called after the import, it still quiets the Python logger.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_lines_dropped():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe logs here, once
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def _native_lines_dropped() -> Iterator[None]:
    """Captures file descriptor 2; on exit writes back what is not a TensorFlow log
    line (everything, if the block raised)."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = lines if failed else [s for s in lines if not is_tensorflow_log_line(s)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> None:
    """Runs `argv[0]` as `python -m` would, with `argv` as its `sys.argv`, after
    `quiet_tensorflow` (module docstring); its exit status is the process's.

    Raises:
        SystemExit: no module named (status 2), or the module's own exit.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m tfrec_sentiment.quiet MODULE [ARG ...]", file=sys.stderr)
        raise SystemExit(2)
    quiet_tensorflow()
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
