"""`tools/update.py` as a user runs it: a subprocess on a finished run folder."""

from __future__ import annotations

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


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


def test_update_tool_publishes_and_prints_where(parent, tmp_path):
    run, logs, saved = parent
    root = tmp_path / "saved_models"
    shutil.copytree(saved, root)
    # --force: this test is about the tool; the guardrail's verdicts are tested in
    # tests/pipeline/test_update.py. The checks still run and are printed.
    # --min-eval-rows 1000: too little evidence, which --force overrides (and says so).
    result = _run("--run", str(run), "--feedback", str(logs.feedback_a), "--format", "jsonl",
                  "--root", str(root), "--keep", "1", "--set", "epochs=1", "--force",
                  "--min-eval-rows", "1000", "--run-dir", str(tmp_path / "updated"),
                  "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["run_dir"] == str(tmp_path / "updated")
    assert summary["status"] == "published"
    decision = json.loads((tmp_path / "updated" / "decision.json").read_text())
    assert decision["forced"] and decision["version"] == 2
    assert decision["evidence"]["min_rows"] == 1000 and not decision["evidence"]["enough"]
    assert "warning: forced (the guardrail alone would refuse: too little evidence" in (
        result.stderr)
    assert {c["metric"] for c in decision["checks"]} == {"rmse", "ndcg@10"}
    assert "rmse: candidate" in result.stdout
    # --keep 1: the new version replaced version 1.
    assert summary["version_dir"] == str(root / "shop" / "2")
    assert sorted(p.name for p in (root / "shop").iterdir()) == [".publish.lock", "2",
                                                                 "models.config"]
    assert summary["pruned"] == [1]


def test_update_tool_names_bad_input(parent, tmp_path):
    run, logs, _ = parent
    missing = _run("--run", str(run), "--feedback", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr
    bad = _run("--run", str(run), "--feedback", str(logs.feedback_a), "--tolerance", "-1")
    assert bad.returncode == 2 and "tolerance" in bad.stderr
    unknown = _run("--run", str(run), "--feedback", str(logs.feedback_a), "--set", "nope=1")
    assert unknown.returncode == 2 and "unknown config field 'nope'" in unknown.stderr
    not_a_run = _run("--run", str(tmp_path), "--feedback", str(logs.feedback_a))
    assert not_a_run.returncode == 1 and "not a finished run folder" in not_a_run.stderr


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
