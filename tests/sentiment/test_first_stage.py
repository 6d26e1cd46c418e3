"""The SST first stage: trained once, the reviews start from its weights, skipped cleanly."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.sentiment.conftest import labelled
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import sst_training_data
from tfrec_sentiment.sentiment.evaluate import write_report
from tfrec_sentiment.sentiment.first_stage import first_stage
from tfrec_sentiment.sentiment.model import SentimentModel
from tfrec_sentiment.sentiment.training import train_classifier

# Ten trees: roots 3-4 positive, 2 neutral, 0-1 negative (SST's fine-grained labels).
TREES = [
    "(4 (2 (2 The) (2 film)) (4 (2 is) (4 great)) (2 .))",
    "(3 (2 A) (3 (3 fine) (2 cast)))",
    "(2 (2 It) (2 (2 exists) (2 .)))",
    "(0 (2 Awful) (0 (1 and) (0 dull)))",
    "(1 (2 Too) (1 long))",
    "(4 (4 Wonderful) (2 fun))",
    "(2 (2 A) (2 movie))",
    "(0 (0 Terrible) (2 plot))",
    "(3 (3 Nice) (2 ending))",
    "(1 (1 Weak) (2 start))",
]


@pytest.fixture
def tiny(tmp_path):
    return SentimentConfig(preset="tiny", tiny_layers=1, tiny_hidden_dim=8, batch_size=4,
                           inference_batch_size=8, sequence_length=32,
                           bucket_boundaries=(8, 16, 32), learning_rate=1e-3,
                           warmup_fraction=0.0)


@pytest.fixture
def sst_folder(tmp_path):
    (tmp_path / "sst").mkdir()
    (tmp_path / "sst" / "train.txt").write_text("\n".join(TREES) + "\n")
    return tmp_path


def small(config, folder, tmp_path):
    # A saved tiny model as the preset: the "tiny" preset itself skips the stage.
    preset = SentimentModel.from_config(config).save(tmp_path / "pretrained")
    return dataclasses.replace(config, epochs=1, batch_size=4, dropout=0.0, preset=str(preset),
                               first_stage="sst3", first_stage_data=str(folder))


def test_sst3_training_data_holds_out_whole_trees_with_a_neutral_class(sst_folder):
    train, held_out = sst_training_data("sst3", sst_folder / "sst" / "train.txt")
    assert len(train) == 9 and held_out.texts == ["Weak start"]
    assert set(train.labels.tolist()) == {0, 1, 2} and not train.binary
    phrases, _ = sst_training_data("sst3-phrases", sst_folder / "sst" / "train.txt")
    assert len(phrases) > len(train)  # every phrase of the nine trees
    with pytest.raises(ValueError, match="not one of"):
        sst_training_data("uci", sst_folder / "sst" / "train.txt")


def test_reviews_start_from_the_first_stages_weights(tiny, sst_folder, tmp_path):
    config = small(tiny, sst_folder, tmp_path)
    start, summary = first_stage(config, tmp_path / "run", seed=1)
    model_dir = tmp_path / "run" / "first_stage" / "model"
    assert start.preset == str(model_dir) and start.epochs == config.epochs
    assert summary["first_stage"]["train_rows"] == 9
    assert summary["first_stage"]["best_epoch"] == 1
    trained = SentimentModel.load(model_dir)
    fresh = SentimentModel.from_config(config)  # the saved starting point
    assert not np.allclose(trained.output_dense.get_weights()[0],
                           fresh.output_dense.get_weights()[0])
    # The reviews' fine-tuning builds its model from the first stage's.
    continued = SentimentModel.from_config(start)
    for a, b in zip(continued.classifier.get_weights(), trained.classifier.get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    result = train_classifier(start, labelled(1), labelled(1, "validation"),
                              tmp_path / "run", seed=1, verbose=0)
    assert result.best_epoch == 1
    # A rerun reuses the finished first stage (its summary is not rewritten).
    before = (tmp_path / "run" / "first_stage" / "summary.json").stat().st_mtime_ns
    again, again_summary = first_stage(config, tmp_path / "run", seed=1)
    assert again == start and again_summary == summary
    assert (tmp_path / "run" / "first_stage" / "summary.json").stat().st_mtime_ns == before
    assert json.loads((tmp_path / "run" / "first_stage" / "summary.json").read_text())[
        "name"] == "sst3"
    # Other settings: the old first stage is not reused, it is trained again.
    longer = dataclasses.replace(config, first_stage_epochs=2)
    _, retrained = first_stage(longer, tmp_path / "run", seed=1)
    assert retrained["first_stage"]["epochs"] == 2
    assert len(retrained["first_stage"]["history"]) == 2
    # Nor across precisions (sentiment.train_bfloat16).
    before = (tmp_path / "run" / "first_stage" / "summary.json").stat().st_mtime_ns
    other = not longer.train_bfloat16
    _, half = first_stage(dataclasses.replace(longer, train_bfloat16=other),
                          tmp_path / "run", seed=1)
    assert half["first_stage"]["settings"]["train_bfloat16"] is other
    # Its class weights are its own: the reviews' weighting does not reach it.
    halved = dataclasses.replace(longer, train_bfloat16=other, class_weighting="none")
    assert first_stage(halved, tmp_path / "run", seed=1)[1] == half  # reused as it was
    assert half["first_stage"]["settings"]["class_weighting"] == "balanced"
    _, unweighted = first_stage(dataclasses.replace(halved, first_stage_class_weighting="none"),
                                tmp_path / "run", seed=1)
    assert unweighted["first_stage"]["settings"]["class_weighting"] == "none"
    assert (tmp_path / "run" / "first_stage" / "summary.json").stat().st_mtime_ns != before


def test_metrics_md_says_whether_the_first_stage_ran(tmp_path):
    ran = {"name": "sst3", "train_rows": 7690, "best_epoch": 1,
           "best_validation_macro_f1": 0.6224}
    write_report({}, tmp_path / "a", extra={"first_stage": ran})
    assert ("First stage: sst3, 7,690 SST sentences, best epoch 1 (held-out macro-F1 0.622)"
            in (tmp_path / "a" / "metrics.md").read_text())
    write_report({}, tmp_path / "b", extra={"first_stage": {"name": "sst3",
                                                             "skipped": "no SST trees"}})
    skipped = (tmp_path / "b" / "metrics.md").read_text()
    assert "First stage: sst3 skipped (no SST trees)." in skipped
    # What "auto" and the bfloat16 switches resolved to is said too.
    write_report({}, tmp_path / "c", extra={"compute": {
        "train_bfloat16": True, "runtime": "openvino", "bfloat16": True}})
    assert ("Fine-tuned in bfloat16; scored with openvino in bfloat16."
            in (tmp_path / "c" / "metrics.md").read_text())
    write_report({}, tmp_path / "c", extra={})
    assert "First stage" not in (tmp_path / "c" / "metrics.md").read_text()


def test_missing_sst_skips_the_stage_with_a_warning(tiny, tmp_path):
    config = small(tiny, tmp_path / "nowhere", tmp_path)
    with pytest.warns(UserWarning, match="first_stage=sst3 skipped"):
        start, summary = first_stage(config, tmp_path / "run")
    assert start is config
    assert "nowhere" in summary["first_stage"]["skipped"]
    assert not (tmp_path / "run" / "first_stage").exists()


def test_none_and_the_tiny_preset_skip_and_unknown_sources_are_refused(tiny, sst_folder,
                                                                       tmp_path):
    none = dataclasses.replace(tiny, first_stage="none")
    assert first_stage(none, tmp_path) == (none, {})
    tiny = dataclasses.replace(tiny, first_stage="sst3", first_stage_data=str(sst_folder))
    start, summary = first_stage(tiny, tmp_path)
    assert start is tiny and "tiny preset" in summary["first_stage"]["skipped"]
    assert not (tmp_path / "first_stage").exists()
    with pytest.raises(ConfigError, match="first_stage"):
        dataclasses.replace(tiny, first_stage="uci")
