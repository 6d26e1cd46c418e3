"""Keeping the last N versions: atomic removal, never the newest, never a protected one."""

from __future__ import annotations

import pytest

from tfrec_sentiment.export.versions import latest_version, prune_versions, versions


def _make(root, names):
    for name in names:
        (root / name).mkdir()
        (root / name / "saved_model.pb").write_bytes(b"x")


def test_prune_keeps_the_newest_and_protected_versions(tmp_path):
    _make(tmp_path, ["1", "2", "3", "10", "staging", ".staging-abc"])
    assert latest_version(tmp_path) == 10
    assert prune_versions(tmp_path, keep=2, protect=[1]) == [2]
    assert versions(tmp_path) == [1, 3, 10]
    # Non-version folders are not TF Serving's and are left alone; nothing hidden remains.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-abc", "1", "10", "3",
                                                          "staging"]
    assert prune_versions(tmp_path, keep=5) == []


def test_prune_refuses_to_delete_everything(tmp_path):
    _make(tmp_path, ["1"])
    with pytest.raises(ValueError, match="keep must be >= 1"):
        prune_versions(tmp_path, keep=0)
    assert latest_version(tmp_path / "absent") is None
