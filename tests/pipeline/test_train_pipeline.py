"""The whole chain through `tools/train.py`, on a small demo set with a tiny BERT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.features.tables import FeatureTables
from tfrec_sentiment.pipeline import stages
from tfrec_sentiment.pipeline.train import RECSYS_VARIANTS, plot_history
from tfrec_sentiment.quiet import is_tensorflow_log_line

REPO = Path(__file__).resolve().parents[2]
# One evaluation seed (`--seeds 0`, the run's seed): the ablation reuses the recsys
# stage's model and trains 2 recommenders instead of 5. Several seeds per variant
# (per-seed values, means, intervals) are tests/evaluation/test_ablation.py's.
SMALL = ["data.demo_users=80", "data.demo_items=40",
         # a one-layer, 8-wide tiny BERT: tracing its fine-tuning, scoring and export
         # graphs is most of the sentiment stage's cost
         "sentiment.tiny_layers=1", "sentiment.tiny_hidden_dim=8",
         "evaluation.n_resamples=200", "recsys.epochs=2",
         # the smoke preset switches the extra protocols off; the chain runs both, the
         # comment-only one in its background process (pipeline/background.py)
         "evaluation.cold_start_ks=1", "evaluation.comment_only=true"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("run")
    run_dir = base / "smoke"
    command = [sys.executable, str(REPO / "tools" / "train.py"), "--preset", "smoke",
               "--run-dir", str(run_dir), "--quiet", "--seeds", "0",
               "--set", f"export.root={base / 'saved_models'}"]
    for override in SMALL:
        command += ["--set", override]
    # as a user runs it: no TF_CPP_MIN_LOG_LEVEL (tests/conftest.py sets one; --quiet
    # keeps a level the environment sets)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO,
                            env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    # --quiet: stdout is the summary line alone; stderr has no TensorFlow log line
    assert result.stdout.count("\n") == 1, result.stdout[:2000]
    assert not [line for line in result.stderr.splitlines() if is_tensorflow_log_line(line)
                or line.startswith("WARNING:tensorflow")], result.stderr[-4000:]
    return run_dir, json.loads(result.stdout)


def test_cli_writes_every_stage_of_the_run_folder(cli_run):
    run_dir, summary = cli_run
    assert Path(summary["run_dir"]) == run_dir
    for relative in ["config.json", "report.md", "timing.json",
                     "data/reviews.parquet", "data/report.json", "data/train.parquet",
                     "data/test.parquet", "sentiment/model", "sentiment/metrics.json",
                     "features/features.json", "recsys/recsys.json",
                     "evaluation/metrics.json", "evaluation/ablation.png",
                     "evaluation/cold_start.md",
                     "recsys/blend.md",
                     "sentiment/training_curves.png", "recsys/training_curves.png"]:
        assert (run_dir / relative).exists(), relative
    assert (run_dir / "evaluation" / "ablation.png").stat().st_size > 1000
    # The comment-only protocol ran in its background child, quiet from its first import
    # (`python -m tfrec_sentiment.quiet`): its log holds its own output only.
    log = (run_dir / "evaluation" / "comment_only.log").read_text()
    assert (run_dir / "evaluation" / "comment_only.md").exists()
    assert not [line for line in log.splitlines() if is_tensorflow_log_line(line)
                or line.startswith("WARNING:tensorflow")], log[-4000:]


def test_resolved_config_is_the_one_that_ran(cli_run):
    run_dir, _ = cli_run
    config = config_lib.load(run_dir / "config.json")
    assert config.sentiment.preset == "tiny"
    assert config.data.demo_users == 80
    assert config.evaluation.seeds == (0,)  # --seeds 0 (also the default)


def test_every_input_record_is_accounted_for(cli_run):
    run_dir, _ = cli_run
    report = json.loads((run_dir / "data" / "report.json").read_text())
    assert report["lines"] == report["accepted"] + sum(report["rejected"].values()) \
        + report["duplicates"]
    split = json.loads((run_dir / "data" / "split.json").read_text())
    assert sum(part["rows"] for part in split.values()) == report["accepted"]


def test_sentiment_metrics_say_how_it_computed(cli_run):
    run_dir, _ = cli_run
    compute = json.loads((run_dir / "sentiment" / "metrics.json").read_text())["compute"]
    assert compute["runtime"] in ("tensorflow", "openvino")  # "auto" resolved
    assert isinstance(compute["bfloat16"], bool)
    assert isinstance(compute["train_bfloat16"], bool)
    assert compute["frozen_token_embeddings"] is False  # the tiny preset's table trains


def test_sentiment_metrics_say_how_many_reviews_the_fine_tune_read(cli_run):
    run_dir, _ = cli_run
    metrics = json.loads((run_dir / "sentiment" / "metrics.json").read_text())
    split = json.loads((run_dir / "data" / "split.json").read_text())
    cap = metrics["max_train_examples"]
    assert metrics["train_rows_available"] == split["train"]["rows"]
    assert metrics["train_rows"] == min(split["train"]["rows"], cap or split["train"]["rows"])
    assert sum(metrics["train_class_counts"]) == metrics["train_rows"]
    assert metrics["validation_rows"] == split["validation"]["rows"]
    assert f"Fine-tuned on {metrics['train_rows']:,} of" in (
        run_dir / "sentiment" / "metrics.md").read_text()


def test_ablation_has_baselines_and_the_three_recommender_variants(cli_run):
    run_dir, _ = cli_run
    metrics = json.loads((run_dir / "evaluation" / "metrics.json").read_text())
    names = set(metrics["variants"])
    assert set(RECSYS_VARIANTS) <= names
    assert {"global mean", "popularity", "user + item bias"} <= names
    full = metrics["variants"]["full"]
    assert full["seeds"] == [0] and len(full["per_seed"]) == 1
    rmse = full["mean"]["rmse"]
    assert 0.0 < rmse < 2.5


def test_timing_covers_the_stages_that_ran_and_marks_the_skipped_one(cli_run):
    run_dir, summary = cli_run
    timing = json.loads((run_dir / "timing.json").read_text())
    assert [stage for stage, _ in stages.stage_rows(timing)] == list(stages.STAGES)
    assert timing["skipped"] == {"aspects": "aspects.enabled is off",  # smoke
                                 "explanations": "aspects.enabled is off"}
    assert "cold_start" in timing["seconds"]
    assert abs(sum(timing["share"].values()) - 1.0) < 1e-3
    assert set(timing["peak_rss_mib"]) == set(timing["seconds"])
    # comment-only ran in a child process: its own wall time and peak, its CPU counted
    child = timing["background"]["comment_only"]
    assert child["seconds"] > timing["seconds"]["comment_only"] >= 0.0
    assert child["whole_stage"] is True  # this process only joined it
    assert timing["cpu_seconds"]["comment_only"] >= child["cpu_seconds"] > 0.0
    assert child["peak_rss_mib"] > 100
    result = json.loads((run_dir / "evaluation" / "comment_only.json").read_text())
    assert result["chosen"] in result["selection"]
    assert summary["timing"] == timing
    assert summary["report"] == str(run_dir / "report.md")
    report = (run_dir / "report.md").read_text()
    assert "## Recommendation" in report and "## Stage wall times" in report
    assert "| aspects | skipped: aspects.enabled is off | | |" in report
    assert (f"| comment_only | {child['seconds']:.1f} in a background process (peak "
            f"{child['peak_rss_mib']:.0f} MiB), beside the other stages; "
            f"{timing['seconds']['comment_only']:.1f} s waiting at its join |") in report


def test_the_run_ends_with_an_integer_version_folder_and_models_config(cli_run):
    run_dir, summary = cli_run
    version = Path(summary["export_dir"])
    assert version.name == "1" and version.parent.name == "tfrec_sentiment"
    assert (version / "saved_model.pb").is_file()
    assert (version / "assets" / "vocab.txt").is_file()
    assert (version.parent / "models.config").is_file()
    assert f"`{version}`" in (run_dir / "report.md").read_text()


def test_the_export_holds_every_training_user_and_no_cold_one(cli_run):
    """The export's bytes (graph, variables, assets) hold every training user id and no
    cold one: the user vocabulary and the seen-items index know only training.

    (Formerly in tests/evaluation/test_cold_start.py, on an export of its own.)
    """
    run_dir, summary = cli_run
    cold_users = sorted(set(Split.load(run_dir / "data").cold["user_id"]))
    assert len(cold_users) >= 5
    users = FeatureTables.load(run_dir / "features").ids["user"]
    version = Path(summary["export_dir"])
    blob = b"".join(path.read_bytes() for path in sorted(version.rglob("*")) if path.is_file())
    assert all(str(u).encode() in blob for u in users)
    assert [u for u in cold_users if u.encode() in blob] == []


def test_bad_override_exits_with_a_named_error():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "train.py"), "--set", "recsys.nope=1"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 2
    assert "unknown config field 'nope'" in result.stderr


def test_a_missing_student_text_file_fails_before_any_work(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "train.py"), "--quiet", "--run-dir",
         str(tmp_path / "run"), "--set", "sentiment.student_layers=1", "--set",
         f"sentiment.student_extra_texts={tmp_path / 'nowhere.json.gz'}"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 2
    assert "student_extra_texts=" in result.stderr and "nowhere.json.gz" in result.stderr
    assert "no such file" in result.stderr
    assert not (tmp_path / "run").exists()


def test_plot_history_accepts_both_history_shapes(tmp_path):
    per_epoch = [{"loss": 1.0, "val_loss": 1.2}, {"loss": 0.5, "val_loss": 0.9}]
    assert plot_history(per_epoch, tmp_path / "a.png", "t").stat().st_size > 1000
    keras_style = {"loss": [1.0, 0.5], "top_10": [0.0, 0.0]}
    assert plot_history(keras_style, tmp_path / "b.png", "t").is_file()
    assert plot_history({"top_10": [0.0, 0.0]}, tmp_path / "c.png", "t") is None


def test_stage_timer_accumulates_and_shares(tmp_path):
    timer = stages.StageTimer()
    with timer("a"):
        time.sleep(0.02)
    with timer("b"):
        pass
    with timer("a"):
        time.sleep(0.01)
    assert list(timer.seconds) == ["a", "b"]
    assert timer.seconds["a"] >= 0.03
    assert abs(sum(timer.shares().values()) - 1.0) < 1e-9
    config = config_lib.resolve("smoke", [f"run_root={tmp_path}"])
    run_dir = stages.new_run_dir(config)
    assert run_dir.parent == tmp_path and run_dir.name.startswith("smoke-")
    assert config_lib.load(run_dir / "config.json") == config
