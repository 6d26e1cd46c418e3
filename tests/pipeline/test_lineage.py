"""`update_records.check_lineage`: an update or erasure publishes only over its own lineage.

Hand-made version folders (an export.json each); the end-to-end refusals of
`run_update` and `run_forget` are in tests/pipeline/test_update.py and test_forget.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tfrec_sentiment.pipeline.update_records import (
    LINEAGE_FILE,
    RECORD_KEY,
    OtherLineageError,
    check_lineage,
    lineage_root,
    version_root,
)


def _version(model_dir: Path, version: int, facts: dict) -> Path:
    folder = model_dir / str(version) / "assets.extra"
    folder.mkdir(parents=True)
    (folder / "export.json").write_text(json.dumps(facts))
    return folder.parent


def _run(folder: Path, root: Path | None = None) -> Path:
    folder.mkdir(parents=True)
    if root is not None:
        (folder / LINEAGE_FILE).write_text(json.dumps({"root_run": str(root.resolve())}))
    return folder


def test_the_root_comes_from_the_record_the_old_record_or_the_source_run(tmp_path):
    train = _run(tmp_path / "runs" / "shop")
    update = _run(tmp_path / "runs" / "shop-update-1", root=train)
    model_dir = tmp_path / "saved" / "shop"
    assert lineage_root(train) == str(train.resolve())
    assert lineage_root(update) == str(train.resolve())  # an update's root is its training run
    exported = _version(model_dir, 1, {"source_run": str(train)})
    recorded = _version(model_dir, 2, {RECORD_KEY: {"run_dir": "/gone", "root_run": "/r"}})
    older = _version(model_dir, 3, {RECORD_KEY: {"run_dir": str(update)}})  # no root_run yet
    gone = _version(model_dir, 4, {RECORD_KEY: {"run_dir": str(tmp_path / "deleted")}})
    unnamed = _version(model_dir, 5, {"top_k": 10})
    assert version_root(exported) == str(train.resolve())
    assert version_root(recorded) == "/r"
    assert version_root(older) == str(train.resolve())
    assert version_root(gone) is None and version_root(unnamed) is None
    assert version_root(model_dir / "9") is None  # no export.json


def test_another_lineage_or_an_unknown_one_is_refused_unless_allowed(tmp_path, caplog):
    mine, theirs = _run(tmp_path / "runs" / "demo"), _run(tmp_path / "runs" / "smoke")
    model_dir = tmp_path / "saved" / "shop"
    root = lineage_root(mine)
    check_lineage(model_dir, None, root, allow=False)  # nothing published: nothing to guard
    _version(model_dir, 1, {"source_run": str(mine)})
    check_lineage(model_dir, 1, root, allow=False)  # its own lineage
    _version(model_dir, 2, {"source_run": str(theirs)})
    with pytest.raises(OtherLineageError, match=r"shop/2 was exported from the lineage of "
                       r".*smoke, not from this run's lineage .*demo\).*export.model_name"):
        check_lineage(model_dir, 2, root, allow=False)
    _version(model_dir, 3, {})
    with pytest.raises(OtherLineageError, match="does not record the run it came from"):
        check_lineage(model_dir, 3, root, allow=False)
    with caplog.at_level(logging.WARNING):
        check_lineage(model_dir, 2, root, allow=True)
    assert "replacing it (replace_other_lineage)" in caplog.text


def test_an_update_carries_the_parents_student_and_aspect_profiles(tmp_path, monkeypatch):
    # update_stages.sentiment_stage links what the parent trained beside its classifier;
    # the classifier and the scoring are stood in for (no model is needed for the links).
    import types

    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.pipeline import update_stages

    parent, run_dir = tmp_path / "parent", tmp_path / "update"
    for part in ("sentiment/model", "sentiment/student", "aspects"):
        (parent / part).mkdir(parents=True)
        (parent / part / "file.txt").write_text(part)
    stand_in = types.SimpleNamespace(fingerprint=lambda: "f")
    monkeypatch.setattr(update_stages.SentimentModel, "load", lambda folder: stand_in)
    monkeypatch.setattr(update_stages, "score_reviews", lambda *args: "scores")
    model, scores = update_stages.sentiment_stage(parent, run_dir, [], config_lib.RunConfig(),
                                                  progress=False)
    assert (model, scores) == (stand_in, "scores")
    for part in ("sentiment/model", "sentiment/student", "aspects"):
        assert (run_dir / part / "file.txt").read_text() == part
