"""tools/export.py on a run folder written by the stages' own save methods.

The tool's export is tests/export/conftest.py's `tool_export` (the version the blend
signature's and the partitioned index's SavedModel tests serve), so this file shares
the xdist worker of the other export tests.
"""

from __future__ import annotations

import json
import os

from tests.export.conftest import RUN_TOP_K, TOP_K, export_tool, leftovers

export = export_tool()


def test_exports_a_run_with_the_runs_config_and_flag_overrides(tool_export):
    run_dir = tool_export.run
    # Defaults from the run's config.json, then the flags (the tool's resolve_config).
    default = export.resolve_config(export.parse_args(["--run", str(run_dir)]))
    assert default.top_k == RUN_TOP_K and default.model_name == "tfrec_sentiment"
    # One export (each costs a SavedModel): into a model folder that already holds a
    # published version 1 and the leftovers of killed exports. The export removes a
    # killed export's leftover before it stages its own folder, and keeps a running
    # one's (the leftovers themselves: the --clean test).
    model_dir = tool_export.model_dir
    assert tool_export.code == 0, tool_export.out
    version = model_dir / "2"
    facts = json.loads((version / "assets.extra" / "export.json").read_text())
    assert facts["top_k"] == TOP_K != RUN_TOP_K and facts["version"] == 2  # the flag's
    assert facts["signatures"]["recommend"]["outputs"]["scores"]["shape"] == [-1, TOP_K]
    assert facts["source_run"] == str(run_dir.resolve())
    assert facts["index"]["kind"] == "partitioned"  # the run config's index
    out = tool_export.out
    assert f"wrote {version}" in out and "minimum TF Serving: 2.12" in out
    # The run has no aspect profiles: no explain signature, and the reason is told.
    missing = str(run_dir / "aspects" / "aspect_profiles.npz")
    assert "explain" not in facts["signatures"]
    assert not facts["explain"]["served"] and missing in facts["explain"]["reason"]
    assert f"no explain signature: {missing} not found" in out
    assert f"the export has no explain signature: {missing}" in tool_export.log
    assert (model_dir / "1").is_dir()
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([
        ".publish.lock", tool_export.running_export.name, "1", "2", "models.config"])
    assert not tool_export.killed_export.exists()


def test_incomplete_run_and_bad_flags_exit_nonzero(tmp_path, capsys):
    assert export.main(["--run", str(tmp_path), "--root", str(tmp_path / "s")]) == 1
    assert "not a finished run folder" in capsys.readouterr().err
    assert export.main(["--run", str(tmp_path), "--top-k", "0"]) == 2
    assert "top_k" in capsys.readouterr().err


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
