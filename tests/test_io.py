"""Atomic writes and JSON-ready values (tfrec_sentiment/io.py) and the writers that use them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfrec_sentiment import io as io_lib
from tfrec_sentiment.pipeline import stages


class CrashError(RuntimeError):
    """Stands for a writer dying half way."""


def _half_then_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Path.write_text / write_bytes write half of their data, then raise."""
    def write_text(self: Path, data: str, *args: object, **kwargs: object) -> None:
        with open(self, "w") as handle:
            handle.write(data[: len(data) // 2])
        raise CrashError(str(self))

    def write_bytes(self: Path, data: bytes) -> None:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise CrashError(str(self))

    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_replaces_text_and_bytes(tmp_path):
    target = tmp_path / "state.json"
    assert io_lib.atomic_write(target, '{"epoch": 1}\n') == target
    io_lib.atomic_write(target, b'{"epoch": 2}\n', fsync=True)
    assert target.read_text() == '{"epoch": 2}\n'
    assert _names(tmp_path) == ["state.json"]


@pytest.mark.parametrize("data", ['{"epoch": 2, "padding": "....."}', b"\x00\x01\x02\x03"])
def test_a_crash_mid_write_keeps_the_old_file_and_no_staging_file(tmp_path, monkeypatch, data):
    target = tmp_path / "state.json"
    target.write_text("old\n")
    _half_then_crash(monkeypatch)
    with pytest.raises(CrashError) as crash:
        io_lib.atomic_write(target, data)
    staged = Path(str(crash.value))  # the writer wrote half into the staging file
    assert staged.parent == tmp_path and staged.name.startswith(io_lib.STAGING_PREFIX)
    assert staged.name.endswith("state.json")  # suffixes kept for picky writers
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert _names(tmp_path) == ["state.json"]


def test_atomic_path_for_writers_that_need_a_path(tmp_path):
    target = tmp_path / "part-1.npz"
    with io_lib.atomic_path(target) as staging:
        assert staging.parent == tmp_path and staging.name.endswith("part-1.npz")
        np.savez(staging, keys=np.arange(3))  # adds no second ".npz"
    with np.load(target) as data:
        np.testing.assert_array_equal(data["keys"], [0, 1, 2])
    with pytest.raises(CrashError), io_lib.atomic_path(target) as staging:
        np.savez(staging, keys=np.arange(5))
        raise CrashError("after the write, before the move")
    with np.load(target) as data:
        np.testing.assert_array_equal(data["keys"], [0, 1, 2])  # the old shard
    assert _names(tmp_path) == ["part-1.npz"]
    with pytest.raises(FileNotFoundError), io_lib.atomic_path(target):
        pass  # nothing written: nothing to move, the old file stays
    assert _names(tmp_path) == ["part-1.npz"]


def test_publish_moves_a_kept_staging_file(tmp_path):
    part = tmp_path / "data.gz.part"
    part.write_bytes(b"whole")
    assert io_lib.publish(part, tmp_path / "data.gz", fsync=True) == tmp_path / "data.gz"
    assert _names(tmp_path) == ["data.gz"] and (tmp_path / "data.gz").read_bytes() == b"whole"


def test_write_json_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "run" / "metrics.json"
    stages.write_json(target, {"ndcg": np.float32(0.5), "dir": Path("a/b"), "ks": (1, 5)})
    assert json.loads(target.read_text()) == {"ndcg": 0.5, "dir": "a/b", "ks": [1, 5]}
    with pytest.raises(TypeError, match="cannot write object as JSON"):
        stages.write_json(target, {"bad": object()})  # fails before anything is written
    _half_then_crash(monkeypatch)
    with pytest.raises(CrashError):
        stages.write_json(target, {"ndcg": 0.75})
    monkeypatch.undo()
    assert json.loads(target.read_text())["ndcg"] == 0.5
    assert _names(target.parent) == ["metrics.json"]


def test_epoch_history_backup_write_is_atomic(tmp_path, monkeypatch):
    from tfrec_sentiment.recsys.train import EpochHistoryBackup

    path = tmp_path / "checkpoints" / "history.json"
    backup = EpochHistoryBackup(path)
    backup.on_train_begin()
    backup.on_epoch_begin(0)
    backup.on_epoch_end(0, {"loss": 0.5})
    assert json.loads(path.read_text()) == [{"loss": 0.5}]
    _half_then_crash(monkeypatch)
    with pytest.raises(CrashError):
        backup.on_epoch_end(1, {"loss": 0.25})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == [{"loss": 0.5}]
    assert _names(path.parent) == ["history.json"]


def test_jsonable_one_conversion_for_every_writer():
    value = {"a": np.arange(3), "b": (np.float64(0.25), None), 7: Path("x/y"), "c": "s"}
    assert io_lib.jsonable(value) == {"a": [0, 1, 2], "b": [0.25, None], "7": "x/y", "c": "s"}
    with pytest.raises(TypeError, match="cannot write object"):
        io_lib.jsonable({"x": object()})
    marker = object()
    assert io_lib.jsonable({"x": marker}, fallback=lambda v: "other") == {"x": "other"}
    assert io_lib.jsonable({"x": np.int64(3)}, fallback=str) == {"x": 3}  # not "3"


def test_sentiment_state_and_score_cache_writes_are_atomic(tmp_path, monkeypatch):
    from tfrec_sentiment.sentiment.checkpoints import STATE_FILE, read_state, write_state
    from tfrec_sentiment.sentiment.inference import ScoreCache
    from tfrec_sentiment.sentiment.model import Scores

    write_state(tmp_path, {"epochs_done": 1})
    _half_then_crash(monkeypatch)
    with pytest.raises(CrashError):
        write_state(tmp_path, {"epochs_done": 2})
    monkeypatch.undo()
    assert read_state(tmp_path) == {"epochs_done": 1}
    assert _names(tmp_path) == [STATE_FILE]

    cache = ScoreCache(tmp_path / "cache")
    keys = np.array([b"k1"], "S32")
    scores = Scores(np.full((1, 3), 1 / 3, np.float32), np.ones((1, 2), np.float32))
    cache.add("fp", keys, scores)

    import pyarrow.parquet as pq

    def write_half(table: object, file: Path, **kwargs: object) -> None:
        Path(file).write_bytes(b"PAR1 torn")
        raise CrashError(str(file))

    monkeypatch.setattr(pq, "write_table", write_half)
    with pytest.raises(CrashError):
        cache.add("fp", np.array([b"k2"], "S32"), scores)
    monkeypatch.undo()
    assert len(_names(tmp_path / "cache" / "fp")) == 1  # the first shard, no torn one
    fresh = ScoreCache(tmp_path / "cache")
    found = fresh.lookup("fp", np.array([b"k1", b"k2"], "S32"))
    assert found[0] is not None and found[1] is None
