"""The tools refuse an unusable export folder in one line (exit 2) BEFORE any training,
turn a failed SavedModel write into one line, and name a --format that rejects every
feedback line."""

from __future__ import annotations

import importlib.util
import json
from collections import namedtuple
from pathlib import Path

import pandas as pd
import pytest
import tensorflow as tf

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.export import preflight
from tfrec_sentiment.export import saved_model as saved_model_lib
from tfrec_sentiment.pipeline import train as pipeline_train

TOOLS = Path(__file__).resolve().parents[2] / "tools"
Usage = namedtuple("Usage", "total used free")


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"_preflight_tool_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def _no_training(*args, **kwargs):
    raise AssertionError("training started")


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file where the export root's parent folder should be."""
    path = tmp_path / "export"
    path.write_text("a file, not a folder")
    return path


def test_train_refuses_an_export_root_under_a_file_before_any_work(tmp_path, blocker,
                                                                   monkeypatch, capsys):
    monkeypatch.setattr(pipeline_train, "data_stage", _no_training)
    run = tmp_path / "run"
    code = _tool("train").main(["--preset", "smoke", "--quiet", "--run-dir", str(run),
                                "--set", f"export.root={blocker / 'saved_models'}"])
    assert code == 2
    assert _error_lines(capsys) == [
        f"error: export folder {blocker / 'saved_models' / 'tfrec_sentiment'}: cannot "
        f"create it: {blocker} is a file, not a folder"]
    assert not run.exists()  # not even the run folder: no sentiment/ was written


def test_train_refuses_a_full_disk_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline_train, "data_stage", _no_training)
    monkeypatch.setattr(preflight.shutil, "disk_usage",
                        lambda path: Usage(total=64 * preflight.MIB, used=63 * preflight.MIB,
                                           free=preflight.MIB))
    run = tmp_path / "run"
    code = _tool("train").main(["--preset", "smoke", "--quiet", "--run-dir", str(run),
                                "--set", f"export.root={tmp_path / 'saved_models'}"])
    assert code == 2
    (line,) = _error_lines(capsys)
    assert line.startswith(f"error: export folder {tmp_path / 'saved_models'}")
    assert "not enough free space: 1.0 MiB free" in line
    assert not run.exists() and not (tmp_path / "saved_models").exists()  # no trace


def test_train_without_export_does_not_check_the_export_folder(tmp_path, blocker,
                                                               monkeypatch):
    monkeypatch.setattr(pipeline_train, "data_stage", _no_training)
    with pytest.raises(AssertionError, match="training started"):
        _tool("train").main(["--preset", "smoke", "--quiet", "--no-export",
                             "--run-dir", str(tmp_path / "run"),
                             "--set", f"export.root={blocker / 'saved_models'}"])


def test_export_tool_refuses_the_folder_before_loading_the_run(tmp_path, blocker, capsys):
    run = tmp_path / "run"
    run.mkdir()  # an empty run folder: loading it would fail with exit 1
    code = _tool("export").main(["--run", str(run), "--root", str(blocker / "models")])
    assert code == 2
    assert _error_lines(capsys) == [
        f"error: export folder {blocker / 'models' / 'tfrec_sentiment'}: cannot create it: "
        f"{blocker} is a file, not a folder"]


def test_export_tool_reports_a_disk_filling_up_during_the_write_in_one_line(
        tmp_path, monkeypatch, capsys):
    def fill_up(run_dir, config, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{config.root}/{config.model_name}/.staging-1/variables/"
            "variables.data-00000-of-00001.tempstate7; No space left on device")

    monkeypatch.setattr(saved_model_lib, "export_run", fill_up)
    root = tmp_path / "models"
    code = _tool("export").main(["--run", str(tmp_path), "--root", str(root)])
    assert code == 2
    assert _error_lines(capsys) == [
        f"error: export folder {root / 'tfrec_sentiment'}: cannot write the SavedModel: "
        f"No space left on device: {root}/tfrec_sentiment/.staging-1/variables/"
        "variables.data-00000-of-00001.tempstate7"]


def _fake_parent(folder: Path) -> Path:
    """The files `load_parent_config` and the feedback stage read, and nothing more."""
    frame = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "x"], "rating": [5, 4],
                          "helpful_votes": [0, 0], "timestamp": [1_500_000_000, 1_500_000_100],
                          "text": ["good", "fine"], "title": "", "verified": True,
                          "source": "test"})
    frame = to_canonical(frame)
    Split(train=frame, validation=frame.iloc[:0], test=frame.iloc[:0]).save(folder / "data")
    pd.DataFrame({"source_item_id": ["x"], "item_id": ["x"]}).to_parquet(
        folder / "data" / "item_map.parquet", index=False)
    config_lib.save(config_lib.RunConfig(), folder / "config.json")
    (folder / "sentiment" / "model").mkdir(parents=True)
    (folder / "recsys").mkdir()
    (folder / "recsys" / "recsys.json").write_text("{}\n")
    return folder


def test_update_whose_format_rejects_every_line_names_it_with_counts(tmp_path, capsys):
    parent = _fake_parent(tmp_path / "parent")
    feedback = tmp_path / "new.csv"
    feedback.write_text("user_id,item_id,rating,text,timestamp\n"
                        "c,x,5,great,1500000200\nd,y,1,broke,1500000300\n")
    update = tmp_path / "update"
    code = _tool("update").main(["--run", str(parent), "--feedback", str(feedback),
                                 "--format", "amazon2014", "--root", str(tmp_path / "models"),
                                 "--run-dir", str(update), "--quiet"])
    assert code == 2
    assert _error_lines(capsys) == [
        "error: every line of the feedback was rejected by the reader (format "
        f"'amazon2014'): {feedback}: 3 of 3 lines rejected (invalid_json: 3; read as "
        "'amazon2014'); check --format and --columns"]
    decision = json.loads((update / "decision.json").read_text())
    assert decision["status"] == "failed" and "FeedbackRejectedError" in decision["error"]


def test_update_refuses_an_unusable_export_folder_before_any_work(tmp_path, blocker,
                                                                  capsys):
    parent = _fake_parent(tmp_path / "parent")
    feedback = tmp_path / "new.csv"
    feedback.write_text("user_id,item_id,rating,text,timestamp\nc,x,5,great,1500000200\n")
    update = tmp_path / "update"
    code = _tool("update").main(["--run", str(parent), "--feedback", str(feedback),
                                 "--root", str(blocker / "models"), "--run-dir", str(update),
                                 "--quiet"])
    assert code == 2
    (line,) = _error_lines(capsys)
    assert f"{blocker} is a file, not a folder" in line
    assert not update.exists()  # refused before the update's run folder was made


def test_train_stops_after_the_data_stage_when_the_run_cannot_fit_its_memory(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline_train, "sentiment_stage", _no_training)
    run = tmp_path / "run"
    code = _tool("train").main(["--preset", "smoke", "--quiet", "--no-export",
                                "--run-dir", str(run), "--set", "data.demo_users=60",
                                "--set", "memory_budget_gb=0.5"])
    assert code == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: this run would need about ")
    assert "more than its 0.5 GiB budget" in err and "training examples" in err
    assert (run / "data").is_dir() and not (run / "sentiment").exists()
    assert json.loads((run / "memory.json").read_text())["budget_gib"] == 0.5
