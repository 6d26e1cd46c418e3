"""Weights saved in format 1 (the towers before their composition) still load, unchanged.

`data/format_1_run` was written by the previous version (its `make_fixture.py` says
how): a tiny recommender with every tower part (text, history with signals, retrieval
bias, item-to-item block) and random weights, and its outputs on fixed ids. Loaded by
this version (`weights_format.restore_format_1`), it must give the same outputs.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfrec_sentiment.recsys.trained import TrainedRecommender
from tfrec_sentiment.recsys.weights_format import FORMAT, MARKER, check_backup

RUN = Path(__file__).parent / "data" / "format_1_run"


def test_format_1_run_loads_with_the_same_outputs():
    expected = dict(np.load(RUN / "expected.npz"))
    assert json.loads((RUN / "recsys" / "recsys.json").read_text())["format_version"] == 1
    loaded = TrainedRecommender.load(RUN / "recsys")
    users, items = expected.pop("users"), expected.pop("items")
    actual = {"rating": loaded.predict_rating(np.repeat(users, len(items)),
                                              np.tile(items, len(users))),
              "scores": loaded.score_items(users, items)}
    for side, ids in (("user", users), ("item", items)):
        out = getattr(loaded.serving, f"{side}_tower")(tf.constant(ids))
        actual.update({f"{side}_{key}": value.numpy() for key, value in out.items()})
    assert set(actual) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-5, err_msg=key)


def test_saved_again_it_is_format_2_and_loads(tmp_path):
    loaded = TrainedRecommender.load(RUN / "recsys")
    loaded.save(tmp_path / "recsys")
    assert json.loads((tmp_path / "recsys" / "recsys.json").read_text())["format_version"] == 2
    again = TrainedRecommender.load(tmp_path / "recsys")
    assert len(again.model.variables) == len(loaded.model.variables)
    for old, new in zip(loaded.model.variables, again.model.variables):  # same build order
        np.testing.assert_array_equal(new.numpy(), old.numpy(), err_msg=old.name)


def test_unknown_format_and_other_layout_are_refused_with_retrain(tmp_path):
    copy = shutil.copytree(RUN / "recsys", tmp_path / "recsys")
    meta = json.loads((copy / "recsys.json").read_text())
    (copy / "recsys.json").write_text(json.dumps({**meta, "format_version": 7}))
    with pytest.raises(ValueError, match="format_version 7.*retrain"):
        TrainedRecommender.load(copy)
    # A format-1 folder whose towers had no history: this config's history table has
    # no old key.
    meta["config"]["variant"] = "ratings"
    (copy / "recsys.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="not the layout of format 1.*retrain"):
        TrainedRecommender.load(copy)


def test_a_training_backup_of_the_earlier_format_is_refused(tmp_path):
    backup = tmp_path / "checkpoints" / "backup"
    check_backup(backup, write=True)  # a new run marks its (empty) backup folder
    assert (backup / MARKER).read_text().strip() == str(FORMAT)
    (backup / "chief").mkdir()
    (backup / "chief" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    check_backup(backup, write=False)  # this format's backup: resumed
    (backup / MARKER).unlink()  # a backup written before the marker existed: format 1
    with pytest.raises(ValueError, match="weights format 1.*Delete the folder"):
        check_backup(backup, write=True)
