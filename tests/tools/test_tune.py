"""`tools/tune.py` and `pipeline/tuning.py` on a tiny finished run (demo data, tiny BERT)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.pipeline.update_fixture import tiny_sentiment_dir
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.pipeline import tuning

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import train  # noqa: E402
import tune  # noqa: E402

RECSYS = ["recsys.embedding_dim=8", "recsys.output_dim=8", "recsys.fusion_units=8",
          "recsys.text_units=4", "recsys.hidden_units=16", "recsys.history_dim=8",
          "recsys.batch_size=64", "recsys.learning_rate=0.01", "recsys.epochs=1"]
SPACE = {"recsys.learning_rate": {"low": 0.001, "high": 0.05, "log": True},
         "recsys.embedding_dim": {"choices": [4, 8]},
         "features.similarity_shrinkage": {"low": 0.0, "high": 10.0}}
TRIALS = 2


def tiny_run(folder: Path) -> Path:
    """A finished run's data/, sentiment/ (model and score cache) and config.json."""
    from tfrec_sentiment.distribute.strategy import make_strategy
    from tfrec_sentiment.pipeline import train as pipeline

    config = config_lib.resolve("smoke", [
        "data.demo_users=60", "data.demo_items=30",
        f"sentiment.model_dir={tiny_sentiment_dir(folder)}", "sentiment.sequence_length=32",
        "sentiment.inference_bfloat16=false", *RECSYS])
    run_dir = folder / "run"
    config_lib.save(config, run_dir / "config.json")
    _, split = pipeline.data_stage(config, run_dir)
    pipeline.sentiment_stage(config, split, run_dir, make_strategy("default"), False)
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("tune"))


@pytest.fixture(scope="module")
def space_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("space") / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


@pytest.fixture(scope="module")
def tuned(run_dir, space_file) -> tuple[Path, list[dict]]:
    """The tool run once: 2 trials (the first is the run's own config)."""
    status = tune.main(["--run", str(run_dir), "--trials", str(TRIALS), "--space",
                        str(space_file), "--seed", "3"])
    assert status == 0
    lines = (run_dir / "tuning" / "trials.jsonl").read_text().splitlines()
    return run_dir / "tuning", [json.loads(line) for line in lines]


def test_every_trial_is_logged_and_the_first_is_the_runs_config(tuned, run_dir):
    folder, trials = tuned
    assert [t["trial"] for t in trials] == list(range(TRIALS))
    assert all(t["state"] == "complete" and t["objective"] == "val_ndcg_at_10"
               for t in trials)
    # The run's own values (lr 0.01, dim 8, shrinkage 5) lie inside SPACE.
    assert trials[0]["baseline"] and trials[0]["overrides"] == [
        "recsys.learning_rate=0.01", "recsys.embedding_dim=8",
        "features.similarity_shrinkage=5.0"]
    for trial in trials:
        assert trial["value"] == trial["metrics"]["ndcg@10"]
        assert 0.0 <= trial["value"] <= 1.0 and trial["metrics"]["epochs"] <= 1
        assert {"rmse", "liked_ndcg@10", "recall@10"} <= set(trial["metrics"])
    # Trials after the first sample the space: other values than the run's.
    assert trials[1]["overrides"] != trials[0]["overrides"]
    assert (folder / "study.db").is_file() and (folder / "trials.png").stat().st_size > 0


def test_best_config_is_the_run_config_with_the_best_trials_overrides(tuned, run_dir):
    folder, trials = tuned
    best = max(trials, key=lambda t: t["value"])
    summary = json.loads((folder / "best.json").read_text())
    assert summary["best_trial"] == best["trial"] and summary["best_value"] == best["value"]
    assert summary["baseline_value"] == trials[0]["value"]
    assert summary["trials"] == {"complete": TRIALS}
    expected = config_lib.apply_overrides(config_lib.load(run_dir / "config.json"),
                                          best["overrides"])
    assert config_lib.load(folder / "best_config.json") == expected


def test_train_config_flag_resolves_the_tuned_file(tuned):
    folder, _ = tuned
    path = str(folder / "best_config.json")
    tuned_config = config_lib.load(path)
    assert train.config_from_args(train.parse_args(["--config", path])) == tuned_config
    # --set still overrides after the file; everything else stays as tuned.
    changed = train.config_from_args(train.parse_args(
        ["--config", path, "--set", "recsys.epochs=3", "--seeds", "1,2"]))
    assert changed.recsys.epochs == 3 and changed.evaluation.seeds == (1, 2)
    assert changed.recsys.learning_rate == tuned_config.recsys.learning_rate
    assert changed.features == tuned_config.features


def test_train_config_flag_errors_name_the_file(tmp_path, capsys):
    assert train.main(["--config", str(tmp_path / "absent.json")]) == 2
    assert "absent.json: cannot read the config" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"recsys": {"dropout": 1.5}}))
    assert train.main(["--config", str(bad)]) == 2
    assert f"{bad}: recsys.dropout=1.5: must be < 1.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a preset and a config file are exclusive
        train.parse_args(["--config", str(bad), "--preset", "smoke"])


def test_an_existing_study_needs_resume_and_resume_adds_trials(tuned, run_dir, space_file,
                                                                capsys):
    folder, _ = tuned
    arguments = ["--run", str(run_dir), "--space", str(space_file), "--seed", "3"]
    assert tune.main([*arguments, "--trials", "1"]) == 2
    assert "study.db exists: pass resume (--resume)" in capsys.readouterr().err
    assert tune.main([*arguments, "--trials", "1", "--objective", "val_rmse",
                      "--resume"]) == 2
    assert "optimises val_ndcg_at_10, not val_rmse" in capsys.readouterr().err
    assert tune.main([*arguments, "--trials", "1", "--resume"]) == 0
    lines = (folder / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["trial"] for line in lines] == list(range(TRIALS + 1))
    assert not json.loads(lines[-1])["baseline"]


def test_the_test_part_is_never_read(tuned, run_dir, space_file, tmp_path):
    """A copy whose test part is garbage gives the same trial as the intact run.

    One trial (the run's own config) suffices: training and validation read the same
    parts whatever the overrides, and each trial costs a training.
    """
    _, intact = tuned
    copy = tmp_path / "garbage"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("tuning"))
    (copy / "data" / "test.parquet").write_bytes(b"not a parquet file")
    inputs = tuning.load_run(copy)
    assert len(inputs.split.test) == 0
    garbage = tuning.tune(copy, trials=1, space=tuning.SearchSpace.load(space_file),
                          seed=3, inputs=inputs, log=lambda line: None).trials
    intact = intact[:1]
    assert [t["overrides"] for t in garbage] == [t["overrides"] for t in intact]
    for a, b in zip(intact, garbage):
        assert b["value"] == pytest.approx(a["value"], abs=1e-3)


@pytest.mark.parametrize("space, message", [
    ({"recsys.nope": {"low": 1, "high": 2}}, "recsys.nope: unknown config field"),
    ({"data.min_reviews": {"low": 1, "high": 2}}, "data.min_reviews: tune only features."),
    ({"recsys.dropout": {"low": 0.0, "high": 1.5}}, "recsys.dropout=1.5: must be < 1.0"),
    ({"recsys.variant": {"choices": ["full", "nope"]}},
     "recsys.variant='nope': choose one of ids, ratings, full, aspects"),
    ({"recsys.learning_rate": {"low": 0.1, "high": 0.01}}, "low (0.1) is above high (0.01)"),
    ({"recsys.learning_rate": {"low": 0.0, "high": 0.01, "log": True}},
     "a log range needs low > 0"),
    ({"recsys.epochs": {"low": 1.5, "high": 4}}, "an int field needs int low"),
    ({"recsys.use_text": {"low": 0, "high": 1}}, "takes choices, not a range"),
    ({"recsys.epochs": {"min": 1, "high": 4}}, "unknown key 'min'"),
    ({"recsys.epochs": 4}, "expected {low, high"),
    ([], "expected a non-empty mapping"),
])
def test_a_bad_space_names_the_file_and_the_field(tmp_path, space, message):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    with pytest.raises(ConfigError) as error:
        tuning.SearchSpace.load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_bad_space_file_exits_before_any_work(tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text("recsys.dropout: {low: 0.0, high: 2.0}\n")
    assert tune.main(["--run", str(tmp_path / "no-run"), "--space", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: recsys.dropout=2.0: must be < 1.0\n")
    path.write_text("recsys.dropout: {low: 0.0\n")
    assert tune.main(["--run", str(tmp_path / "no-run"), "--space", str(path)]) == 2
    assert f"error: {path}: not valid YAML" in capsys.readouterr().err
    assert tune.main(["--run", str(tmp_path / "no-run")]) == 2
    assert "is not a finished run folder: missing" in capsys.readouterr().err


def test_a_yaml_space_with_a_tuple_field():
    space = tuning.SearchSpace.from_dict(
        {"recsys.hidden_units": {"choices": [[32], [32, 16]]},
         "recsys.epochs": {"low": 10, "high": 40, "step": 10}})
    units, epochs = space.params
    assert units.choices == ("32", "32,16") and epochs.kind == "int"
    assert space.overrides({"recsys.hidden_units": "32,16", "recsys.epochs": 20}) == [
        "recsys.hidden_units=32,16", "recsys.epochs=20"]
    config = config_lib.RunConfig()  # hidden_units (32,), epochs 40: both inside
    assert space.defaults(config) == {"recsys.hidden_units": "32", "recsys.epochs": 40}
    assert not epochs.contains(25) and not epochs.contains(50) and epochs.contains(30)


@pytest.mark.parametrize("name, metric, k, direction", [
    ("val_ndcg_at_10", "ndcg@10", 10, "maximize"),
    ("val_liked_ndcg_at_5", "liked_ndcg@5", 5, "maximize"),
    ("val_disliked_at_10", "disliked@10", 10, "minimize"),
    ("val_rmse", "rmse", 10, "minimize"),
])
def test_objective_names(name, metric, k, direction):
    assert tuning.Objective.parse(name) == tuning.Objective(name, metric, k, direction)


@pytest.mark.parametrize("name", ["ndcg_at_10", "val_ndcg", "val_foo_at_10", "val_ndcg_at_0"])
def test_a_bad_objective_is_refused(name):
    with pytest.raises(ConfigError, match=f"objective='{name}': choose val_rmse"):
        tuning.Objective.parse(name)


def test_the_default_space_fits_the_default_config():
    space = tuning.SearchSpace.default()
    assert [p.name for p in space.params] == list(tuning.DEFAULT_SPACE)
    # Every default value lies inside it, so the baseline trial is the run's config.
    assert set(space.defaults(config_lib.RunConfig())) == set(tuning.DEFAULT_SPACE)
