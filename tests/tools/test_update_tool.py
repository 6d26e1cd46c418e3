"""`tools/update.py` as a user runs it, on a finished run folder.

The refusal and a missing-file case run it as a subprocess (exit codes 3 and 2 of
the real process); the other cases call its `main()` in this process (exit code =
its return value, which the script passes to `sys.exit`), without paying a fresh
interpreter, TensorFlow import and tracing for the same code path. The publishing
case (what the tool prints, `--keep`, a forced publication) is the second update of
tests/pipeline/test_update.py
(`test_a_later_update_through_the_tool_starts_from_the_updated_run_and_prunes`):
one trained and exported update serves both.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = str(REPO / "tools" / "update.py")


@pytest.fixture(scope="module")
def parent(update_parent):
    # The session's parent run (tests/conftest.py), shared with tests/pipeline.
    return update_parent.run, update_parent.logs, update_parent.saved


def _tool_main(argv: list[str]) -> int:
    """`tools/update.py`'s `main(argv)`, in this process."""
    spec = importlib.util.spec_from_file_location("_update_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


def test_update_tool_names_bad_input(parent, tmp_path, capsys):
    run, logs, _ = parent
    missing = _run("--run", str(run), "--feedback", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr

    def in_process(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = _tool_main(list(args))
        return code, capsys.readouterr().err

    code, err = in_process("--run", str(run), "--feedback", str(logs.feedback_a),
                           "--tolerance", "-1")
    assert code == 2 and "tolerance" in err
    code, err = in_process("--run", str(run), "--feedback", str(logs.feedback_a),
                           "--set", "nope=1")
    assert code == 2 and "unknown config field 'nope'" in err
    code, err = in_process("--run", str(tmp_path), "--feedback", str(logs.feedback_a))
    assert code == 1 and "not a finished run folder" in err


def test_update_tool_refuses_on_too_little_evidence_with_exit_3(parent, tmp_path):
    run, logs, saved = parent
    root = tmp_path / "saved_models"
    shutil.copytree(saved, root)
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    result = _run("--run", str(run), "--feedback", str(logs.feedback_a), "--format", "jsonl",
                  "--root", str(root), "--set", "epochs=1", "--min-eval-rows", "1000",
                  "--min-eval-users", "2", "--run-dir", str(tmp_path / "updated"), "--quiet")
    assert result.returncode == 3, result.stderr[-3000:]
    decision = json.loads((tmp_path / "updated" / "decision.json").read_text())
    assert decision["status"] == "refused" and decision["version"] is None
    assert decision["evidence"]["min_rows"] == 1000 and decision["evidence"]["min_users"] == 2
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("refused:")]
    assert line.startswith(f"refused: too little evidence: the evaluation slice has "
                           f"{decision['evidence']['rows']} rows")
    assert "nothing published" in line and str(tmp_path / "updated" / "decision.json") in line
    assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "refused"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
    # Refused on the slice alone, before training (`--set epochs=1` never ran).
    assert not (tmp_path / "updated" / "recsys").exists()
