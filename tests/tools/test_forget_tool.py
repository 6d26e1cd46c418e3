"""`tools/forget.py` as a user runs it: arguments, the request file, unknown ids.

The erasure itself (training, publishing, cleanup) is proven by
tests/pipeline/test_forget.py; these cases stop before any training, in this process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = str(REPO / "tools" / "forget.py")


def _tool():
    spec = importlib.util.spec_from_file_location("_forget_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_users_come_from_flags_and_a_file(tmp_path):
    tool = _tool()
    request = tmp_path / "request.txt"
    request.write_text("# erasure requests\nA1\n\n  B2  \nA1\n")
    args = tool.parse_args(["--run", "r", "--user", "C3", "--users-file", str(request)])
    assert tool.read_users(args) == ["C3", "A1", "B2", "A1"]  # repeats are dropped later
    config = tool.resolve(tool.parse_args(["--run", "r", "--user", "x", "--cleanup", "list",
                                           "--unknown-ids", "count", "--set", "epochs=2"]))
    assert (config.cleanup, config.unknown_ids, config.epochs) == ("list", "count", 2)


def test_no_user_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _tool().main(["--run", "r"])
    assert exit_info.value.code == 2 and "--user" in capsys.readouterr().err


def test_unknown_ids_exit_2_by_position_without_echoing_them(update_parent, tmp_path, capsys):
    secret = "SOMEONE-WHO-NEVER-WROTE"
    code = _tool().main(["--run", str(update_parent.run), "--user", secret,
                         "--root", str(tmp_path / "saved"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "none of the 1 requested id(s) is a user of the run" in err
    assert secret not in err and not (tmp_path / "saved").exists()


def test_the_cleanup_is_said_in_one_plain_line():
    from tfrec_sentiment.pipeline.forget_cleanup import Cleanup

    lines = _tool().cleanup_lines
    record = Path("run/erasure.json")
    deleted = Cleanup("delete", versions=[1], runs=["runs/demo"], done=True)
    assert lines(deleted, record) == [
        "deleted (they held the erased users; see run/erasure.json): versions [1], "
        "run folders ['runs/demo']"]
    listed = Cleanup("list", runs=["runs/demo"], score_cache="cache", cache_entries=3)
    assert lines(listed, record)[0].startswith("to delete by the operator")
    assert lines(listed, record)[0].endswith(", 3 entries of the score cache cache")
    assert lines(Cleanup("delete", done=True), record) == []
