"""tools/export.py on a run folder written by the stages' own save methods."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.export.conftest import tiny_sentiment, trained  # noqa: F401  (fixtures)
from tfrec_sentiment import config as config_lib

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import export  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_sentiment, trained) -> Path:  # noqa: F811
    run = tmp_path_factory.mktemp("run")
    config = config_lib.RunConfig()
    config.export.top_k = 4
    config_lib.save(config, run / "config.json")
    tiny_sentiment.save(run / "sentiment" / "model")
    # As the pipeline does: the feature stage saves the tables, the recsys stage
    # saves the model pointing at them.
    tables = trained.tables
    previous = tables.path
    tables.save(run / "features")
    try:
        trained.save(run / "recsys")
    finally:
        tables.path = previous
    return run


def test_exports_a_run_with_the_runs_config_and_flag_overrides(run_dir, tmp_path, capsys,
                                                               caplog):
    # Defaults from the run's config.json, then the flags (the tool's resolve_config).
    default = export.resolve_config(export.parse_args(["--run", str(run_dir)]))
    assert default.top_k == 4 and default.model_name == "tfrec_sentiment"
    root = tmp_path / "served"
    # One export (each costs a SavedModel): into a model folder that already holds a
    # published version 1 and the leftovers of killed exports. The export removes a
    # killed export's leftover before it stages its own folder, and keeps a running
    # one's (the leftovers themselves: the --clean test).
    model_dir = root / "shop"
    (model_dir / "1" / "variables").mkdir(parents=True)
    killed_export, running_export = leftovers(model_dir)[::2]
    assert export.main(["--run", str(run_dir), "--root", str(root), "--name", "shop",
                        "--top-k", "2"]) == 0
    version = model_dir / "2"
    facts = json.loads((version / "assets.extra" / "export.json").read_text())
    assert facts["top_k"] == 2 and facts["version"] == 2  # the flag over the run's 4
    assert facts["signatures"]["recommend"]["outputs"]["scores"]["shape"] == [-1, 2]
    assert facts["source_run"] == str(run_dir.resolve())
    out = capsys.readouterr().out
    assert f"wrote {version}" in out and "minimum TF Serving: 2.12" in out
    # The run has no aspect profiles: no explain signature, and the reason is told.
    missing = str(run_dir / "aspects" / "aspect_profiles.npz")
    assert "explain" not in facts["signatures"]
    assert not facts["explain"]["served"] and missing in facts["explain"]["reason"]
    assert f"no explain signature: {missing} not found" in out
    assert f"the export has no explain signature: {missing}" in caplog.text
    assert (model_dir / "1").is_dir()
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([
        ".publish.lock", running_export.name, "1", "2", "models.config"])
    assert not killed_export.exists()


def test_incomplete_run_and_bad_flags_exit_nonzero(tmp_path, capsys):
    assert export.main(["--run", str(tmp_path), "--root", str(tmp_path / "s")]) == 1
    assert "not a finished run folder" in capsys.readouterr().err
    assert export.main(["--run", str(tmp_path), "--top-k", "0"]) == 2
    assert "top_k" in capsys.readouterr().err


def leftovers(model_dir: Path) -> tuple[Path, Path, Path]:
    """Half-written folders in `model_dir`: a killed export's, a killed prune's, and
    an export of this (running) process."""
    import socket
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that is gone
    host, token = socket.gethostname(), "ab" * 16
    killed_export = model_dir / f".staging-{token}.{child.pid}@{host}"
    killed_prune = model_dir / f".deleting-4-{token}.{child.pid}@{host}"
    running_export = model_dir / f".staging-{token}.{os.getpid()}@{host}"
    for folder in (killed_export, killed_prune, running_export):
        (folder / "variables").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"half")
    return killed_export, killed_prune, running_export


def test_clean_removes_orphaned_leftovers_only(tmp_path, capsys):
    # That an export removes them too: the first test.
    model_dir = tmp_path / "served" / "shop"
    model_dir.mkdir(parents=True)
    killed_export, killed_prune, running_export = leftovers(model_dir)
    assert export.main(["--clean", "--root", str(tmp_path / "served"), "--name", "shop"]) == 0
    out = capsys.readouterr().out
    assert f"removed {killed_export}" in out and f"removed {killed_prune}" in out
    assert f"kept {running_export} (its owner, process {os.getpid()}, is running)" in out
    assert "2 leftover(s) removed, 1 kept" in out
    assert sorted(p.name for p in model_dir.iterdir()) == [running_export.name]
    assert export.main(["--clean", "--root", str(tmp_path / "absent"), "--name", "x"]) == 1
    assert "is not a folder" in capsys.readouterr().err
