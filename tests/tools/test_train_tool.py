"""tools/train.py's output: tables then one JSON line; `--quiet` the JSON line alone and
no TensorFlow log lines (the chain itself is tests/pipeline/test_train_pipeline.py's)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from tfrec_sentiment.pipeline import train as pipeline
from tfrec_sentiment.quiet import is_tensorflow_log_line

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tool(monkeypatch, tmp_path):
    """tools/train.py with the chain replaced by a finished run (no work done)."""
    spec = importlib.util.spec_from_file_location("train_tool", REPO / "tools" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    timing = {"seconds": {"data": 1.5}, "share": {"data": 1.0}, "total_seconds": 1.5,
              "peak_rss_mib": {"data": 900.0}, "skipped": {"export": pipeline.NO_EXPORT}}
    run = SimpleNamespace(run_dir=tmp_path / "run", export_dir=None, timing=timing,
                          ablation=SimpleNamespace(to_markdown=lambda: "| ablation |\n"))
    calls = {"quiet": 0, "progress": []}

    def run_training(config, run_dir, *, progress, export):
        calls["progress"].append(progress)
        return run

    monkeypatch.setattr(pipeline, "run_training", run_training)
    monkeypatch.setattr("tfrec_sentiment.quiet.quiet_tensorflow",
                        lambda: calls.__setitem__("quiet", calls["quiet"] + 1))
    return module, run, calls


def test_quiet_prints_only_the_summary_line(tool, capsys):
    module, run, calls = tool
    assert module.main(["--preset", "smoke", "--no-export", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one line
    summary = json.loads(out)
    assert summary == {"run_dir": str(run.run_dir), "export_dir": None,
                       "report": str(run.run_dir / "report.md"), "timing": run.timing}
    assert calls == {"quiet": 1, "progress": [False]}


def test_without_quiet_the_tables_come_first_and_the_summary_line_last(tool, capsys):
    module, run, calls = tool
    assert module.main(["--preset", "smoke", "--no-export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| ablation |"
    assert f"| export | skipped: {pipeline.NO_EXPORT} | | | |" in lines
    heading = lines.index("## Stage wall times, CPU times and peak memory")  # as report.md's
    assert lines[heading + 2].startswith("| stage | seconds |")
    assert json.loads(lines[-1])["run_dir"] == str(run.run_dir)
    assert calls == {"quiet": 0, "progress": [True]}


def test_the_help_says_what_quiet_keeps(capsys):
    spec = importlib.util.spec_from_file_location("train_tool_help", REPO / "tools" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "no progress bars, no TensorFlow log lines" in text
    assert "JSON summary line only" in text


def test_tensorflow_log_lines_are_told_from_other_lines():
    assert is_tensorflow_log_line("I0000 00:00:1796117849.807477   10318 port.cc:153] oneDNN")
    assert is_tensorflow_log_line("E1201 09:37:23.123456   14280 cuda_platform.cc:52] cuInit")
    assert is_tensorflow_log_line("WARNING: All log messages before absl::InitializeLog() "
                                  "is called are written to STDERR")
    assert not is_tensorflow_log_line("F1201 09:37:23.123456   14280 x.cc:1] fatal: kept")
    assert not is_tensorflow_log_line("/x/memory.py:233: UserWarning: item similarity off")
    assert not is_tensorflow_log_line("error: recsys.variant='nope': choose one of ids")


def test_quiet_tensorflow_hides_its_log_lines_and_keeps_the_packages_warnings():
    # A fresh process: TensorFlow must not be imported yet, and no log level set.
    code = textwrap.dedent("""
        import warnings
        from tfrec_sentiment.quiet import quiet_tensorflow
        quiet_tensorflow()
        import tensorflow as tf
        tf.get_logger().warning("a TensorFlow Python warning")
        print(int(tf.reduce_sum(tf.constant([1, 2]))))
        warnings.warn("the package's own warning")
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "3\n"
    lines = result.stderr.splitlines()
    assert [line for line in lines if is_tensorflow_log_line(line)] == []
    assert "a TensorFlow Python warning" not in result.stderr
    assert any("UserWarning: the package's own warning" in line for line in lines)


def test_quiet_runs_a_module_as_python_m_with_its_arguments_and_exit_status():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "tfrec_sentiment.quiet", "tests.tools.quiet_child", "a", "b"],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert result.returncode == 3, result.stderr  # the module's own exit status
    assert result.stdout == "True ['a', 'b'] 3\n"
    lines = result.stderr.splitlines()
    assert [line for line in lines if is_tensorflow_log_line(line)] == []
    assert "a TensorFlow Python warning" not in result.stderr
    assert any("UserWarning: the child's own warning" in line for line in lines)
    usage = subprocess.run([sys.executable, "-m", "tfrec_sentiment.quiet"], capture_output=True,
                           text=True, env=env, timeout=60, cwd=REPO)
    assert usage.returncode == 2 and "usage:" in usage.stderr
