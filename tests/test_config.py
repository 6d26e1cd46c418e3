"""Run config: presets, overrides, and values refused at once, by the API and the tools."""

import dataclasses
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ConfigError, from_dict
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.sentiment.config import SentimentConfig

REPO = Path(__file__).resolve().parents[1]

# The issue's four examples, each with the one line that refuses it.
ISSUE_EXAMPLES = [
    ("recsys.variant=nope", "recsys.variant='nope': choose one of ids, ratings, full, aspects"),
    ("sentiment.sequence_length=1", "sentiment.sequence_length=1: must be >= 3"),
    ("export.top_k=0", "export.top_k=0: must be >= 1"),
    ("recsys.rating_loss=l1", "recsys.rating_loss='l1': choose one of mse, huber"),
]


def test_resolve_applies_preset_then_overrides():
    config = config_lib.resolve("smoke", ["recsys.epochs=3", "seed=7", "replicas=2",
                                          "strategy=mirrored"])
    assert config.name == "smoke"
    assert config.sentiment.preset == "tiny"
    assert (config.recsys.epochs, config.seed, config.replicas) == (3, 7, 2)


def test_optional_fields_accept_none():
    config = config_lib.resolve("demo", ["replicas=2", "replicas=none"])
    assert config.replicas is None


@pytest.mark.parametrize("override, message", [
    ("recsys.nope=1", "unknown config field 'nope'"),
    ("nosection.epochs=1", "unknown config section 'nosection'"),
    ("recsys.epochs=many", "recsys.epochs='many': expected int"),
    ("recsys.epochs", "not of the form"),
])
def test_bad_overrides_are_named(override, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.resolve("demo", [override])


def test_unknown_preset_lists_the_choices():
    with pytest.raises(config_lib.ConfigError, match="choose one of"):
        config_lib.resolve("nope")


@pytest.mark.parametrize("override, line", ISSUE_EXAMPLES)
def test_issue_examples_are_refused_with_one_line(override, line):
    with pytest.raises(config_lib.ConfigError) as caught:
        config_lib.resolve("smoke", ["recsys.epochs=2", override])
    assert str(caught.value) == line
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("override, line", [
    ("data.format=xml", "data.format='xml': choose one of amazon2014, amazon2018, amazon2023, "
                        "yelp, yelp_csv, yelp_json, csv, parquet, jsonl"),
    ("data.split=random", "data.split='random': choose one of leave_last_out, time_cutoff"),
    ("data.split_test_start=last tuesday", "data.split_test_start='last tuesday': expected an "
                                           "ISO date (2013-06-01) or Unix seconds"),
    ("features.training_features=all", "features.training_features='all': choose one of "
                                       "past_only, leave_one_out"),
    ("recsys.score_mode=best", "recsys.score_mode='best': choose one of retrieval, rating, "
                               "blend"),
    ("recsys.hidden_units=32,0", "recsys.hidden_units=(32, 0): each item must be >= 1"),
    ("recsys.dropout=1", "recsys.dropout=1.0: must be < 1.0"),
    ("evaluation.seeds=", "evaluation.seeds=(): needs at least 1 item(s)"),
    ("strategy=tpu", "strategy='tpu': choose one of default, mirrored, multi_worker"),
    ("replicas=2", "replicas=2: the default strategy has one replica; set strategy=mirrored"),
    ("export.model_name=a/b", "export.model_name='a/b': use letters, digits, '_', '.' or '-' "
                              "(it is a folder and a URL path segment)"),
])
def test_more_bad_values_name_field_value_and_choices(override, line):
    with pytest.raises(config_lib.ConfigError) as caught:
        config_lib.resolve("demo", [override])
    assert str(caught.value).startswith(line)  # other formats may join the list


def test_cross_field_checks_wait_for_all_overrides():
    # 32 hidden units cannot split over 3 heads, but 30 can: order must not matter.
    for overrides in (["sentiment.tiny_heads=3", "sentiment.tiny_hidden_dim=30"],
                      ["sentiment.tiny_hidden_dim=30", "sentiment.tiny_heads=3"]):
        sentiment = config_lib.resolve("demo", overrides).sentiment
        assert (sentiment.tiny_hidden_dim, sentiment.tiny_heads) == (30, 3)
    with pytest.raises(ConfigError) as caught:
        config_lib.resolve("demo", ["sentiment.tiny_heads=3"])
    assert str(caught.value) == "sentiment.tiny_hidden_dim=32: must be a multiple of tiny_heads=3"
    config = config_lib.resolve("demo", ["strategy=mirrored", "replicas=2"])
    assert (config.strategy, config.replicas) == ("mirrored", 2)


def test_apply_overrides_returns_a_checked_copy():
    config = config_lib.RunConfig()
    changed = config_lib.apply_overrides(config, ["recsys.epochs=3", "data.columns=user_id=u"])
    assert (changed.recsys.epochs, changed.data.columns) == (3, ("user_id=u",))
    assert (config.recsys.epochs, config.data.columns) == (40, ())  # the input is untouched
    with pytest.raises(ConfigError, match="data.columns='color=c': column mapping names "
                                          "unknown field 'color'"):
        config_lib.apply_overrides(config, ["data.columns=color=c"])


@pytest.mark.parametrize("make, line", [
    (lambda: RecsysConfig(epochs="3"), "epochs='3': expected int"),
    (lambda: RecsysConfig(use_text=1), "use_text=1: expected bool"),
    (lambda: RecsysConfig(epochs=True), "epochs=True: expected int"),
    (lambda: RecsysConfig(hidden_units=("8",)), "hidden_units=('8',): expected a list of int"),
    (lambda: UpdateConfig(guard_metrics=("ndcg", "auc")), "guard_metrics=('ndcg', 'auc'): "
     "each item must be one of rmse, mae, recall, ndcg, hitrate"),
    (lambda: UpdateConfig(eval_fraction=0.5, validation_fraction=0.5),
     "validation_fraction=0.5: must be < 1 - eval_fraction = 0.5"),
    (lambda: DataConfig(split_validation_quantile=0.95),
     "split_validation_quantile=0.95: must be <= split_test_quantile=0.9"),
])
def test_configs_check_themselves_when_built(make, line):
    with pytest.raises(ConfigError) as caught:
        make()
    assert str(caught.value) == line


def test_constructors_normalise_json_shapes():
    config = RecsysConfig(hidden_units=[8, 4], temperature=1, learning_rate=1)
    assert config.hidden_units == (8, 4)
    assert (config.temperature, config.learning_rate) == (1.0, 1.0)
    assert isinstance(config.learning_rate, float)


def _stage_configs() -> list[type]:
    hints = typing.get_type_hints(config_lib.RunConfig)
    nested = [hints[f.name] for f in dataclasses.fields(config_lib.RunConfig)
              if dataclasses.is_dataclass(hints[f.name])]
    return [config_lib.RunConfig, *nested, UpdateConfig]


@pytest.mark.parametrize("cls", _stage_configs(), ids=lambda cls: cls.__name__)
def test_every_field_of_every_config_is_type_checked(cls):
    # A field added without metadata is still checked against its annotation.
    for field in dataclasses.fields(cls):
        with pytest.raises(ConfigError) as caught:
            cls(**{field.name: object()})
        assert str(caught.value).startswith(f"{field.name}=<object object at ")


@pytest.mark.parametrize("preset", config_lib.PRESETS)
def test_save_load_round_trip_for_every_preset(preset, tmp_path):
    config = config_lib.resolve(preset, ["seed=3"])
    path = config_lib.save(config, tmp_path / "run" / "config.json")
    loaded = config_lib.load(path)
    assert loaded == config
    assert config_lib.save(loaded, tmp_path / "again.json").read_text() == path.read_text()


def _hand_edit(path: Path, section: str, field: str, value) -> None:
    values = json.loads(path.read_text())
    values[section][field] = value
    path.write_text(json.dumps(values))


@pytest.mark.parametrize("section, field, value, line", [
    ("recsys", "variant", "nope",
     "recsys.variant='nope': choose one of ids, ratings, full, aspects"),
    ("recsys", "epochs", "3", "recsys.epochs='3': expected int"),
    ("sentiment", "bucket_boundaries", [16, 2], "sentiment.bucket_boundaries=(16, 2): "
                                                "each item must be >= 3"),
    ("export", "top_k", 0, "export.top_k=0: must be >= 1"),
    ("recsys", "varaint", "ids", "recsys.varaint: unknown field; have "),
])
def test_a_bad_value_in_a_saved_config_is_refused_at_load(tmp_path, section, field, value,
                                                           line):
    path = config_lib.save(config_lib.resolve("smoke"), tmp_path / "config.json")
    _hand_edit(path, section, field, value)
    with pytest.raises(ConfigError) as caught:
        config_lib.load(path)
    assert str(caught.value).startswith(f"{path}: {line}")
    assert "\n" not in str(caught.value)


def test_a_config_json_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{recsys: 1")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        config_lib.load(path)


def test_update_and_stage_configs_written_by_the_package_reload():
    # The update lineage stores asdict(UpdateConfig); recsys.json and features.json
    # store their stage config the same way; all go through JSON (tuples -> lists).
    update = UpdateConfig(guard_metrics=("mae", "recall"), seed=4, learning_rate=0.01)
    assert from_dict(UpdateConfig, json.loads(json.dumps(dataclasses.asdict(update)))) == update
    recsys = RecsysConfig(variant="ratings", hidden_units=(8, 4), topk_ks=(5,))
    assert RecsysConfig(**json.loads(json.dumps(dataclasses.asdict(recsys)))) == recsys
    with pytest.raises(ConfigError, match=r"^guard_metrics=\(.auc.,\): each item must be"):
        from_dict(UpdateConfig, {"guard_metrics": ["auc"]})


def test_sentiment_run_config_written_by_the_tool_reloads():
    sys.path.insert(0, str(REPO / "tools"))
    import train_sentiment

    args = train_sentiment.parse_args(["--dataset", "sst2", "--preset", "tiny",
                                       "--set", "bucket_boundaries=8,24"])
    config = train_sentiment.resolve_config(args)
    assert (config.epochs, config.preset, config.bucket_boundaries) == (3, "tiny", (8, 24))
    written = json.loads(json.dumps({"sentiment": dataclasses.asdict(config)}))
    assert from_dict(SentimentConfig, written["sentiment"]) == config


def _tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "tools" / name), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("override, line", ISSUE_EXAMPLES)
def test_train_tool_refuses_the_issue_examples_before_any_work(override, line, tmp_path):
    result = _tool("train.py", "--preset", "smoke", "--set", override, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: {line}\n"  # one line, nothing else
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no runs/, no saved_models/


def _tool_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"tool_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bad_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    path = config_lib.save(config_lib.resolve("smoke"), run / "config.json")
    _hand_edit(path, "recsys", "rating_loss", "l1")
    return run


def test_update_and_export_tools_refuse_a_hand_edited_run_config(tmp_path, capsys):
    run = _bad_run(tmp_path)
    feedback = tmp_path / "new.jsonl"
    feedback.write_text("{}\n")
    line = f"error: {run / 'config.json'}: recsys.rating_loss='l1': choose one of mse, huber\n"
    update = _tool_module("update")
    assert update.main(["--run", str(run), "--feedback", str(feedback), "--quiet"]) == 2
    assert capsys.readouterr().err == line
    assert _tool_module("export").main(["--run", str(run), "--root", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.jsonl", "run"]
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


@pytest.mark.parametrize("tool, argv, line", [
    ("update", ["--set", "epochs=0"], "error: epochs=0: must be >= 1"),
    ("update", ["--tolerance", "-1"], "error: tolerance=-1.0: must be >= 0.0"),
    ("update", ["--name", "a/b"], "error: model_name='a/b': use letters, digits, '_', '.' or "
                                  "'-' (it is a folder and a URL path segment)"),
    ("train_sentiment", ["--set", "sequence_length=1"],
     "error: sequence_length=1: must be >= 3"),
    ("train_sentiment", ["--preset", "tiny", "--epochs", "0"], "error: epochs=0: must be >= 1"),
    ("prepare_data", ["--chunk-size", "0"], "error: chunk_size=0: must be >= 1"),
])
def test_tools_exit_2_with_one_line_before_any_work(tool, argv, line, tmp_path, capsys):
    run = tmp_path / "run"
    config_lib.save(config_lib.resolve("smoke"), run / "config.json")
    feedback = tmp_path / "new.jsonl"
    feedback.write_text("{}\n")
    common = {"update": ["--run", str(run), "--feedback", str(feedback)],
              "train_sentiment": ["--out", str(tmp_path / "out")],
              "prepare_data": ["--input", str(feedback), "--out", str(tmp_path / "out")]}
    assert _tool_module(tool).main([*common[tool], *argv]) == 2
    assert capsys.readouterr().err == f"{line}\n"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


@pytest.mark.parametrize("tool, argv, line", [
    ("fetch_data", ["amazon2018", "All_Beauty", "--timeout", "0"], "--timeout=0.0: must be > 0"),
    ("fetch_data", ["amazon2018", "All_Beauty", "--retries", "-1"],
     "--retries=-1: must be >= 0"),
    ("train", ["--replicas", "two"], "argument --replicas: invalid int value: 'two'"),
    ("export", ["--run", "r", "--top-k", "x"], "argument --top-k: invalid int value: 'x'"),
    ("train", ["--preset", "huge"], "argument --preset: invalid choice: 'huge' (choose from "
                                    "'demo', 'smoke')"),
])
def test_bad_flags_are_one_line_and_exit_2(tool, argv, line, capsys):
    with pytest.raises(SystemExit) as caught:
        _tool_module(tool).main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"error: {line} (see --help)\n"


def test_tools_check_arguments_before_importing_tensorflow(tmp_path):
    # Each tool's module level (parsing + config checks) leaves TensorFlow unimported.
    tools = ["train", "train_sentiment", "update", "export", "prepare_data", "distil_student"]
    script = (
        "import importlib.util, sys\n"
        "heavy = {}\n"
        f"for name in {tools!r}:\n"
        f"    path = {str(REPO / 'tools')!r} + '/' + name + '.py'\n"
        "    spec = importlib.util.spec_from_file_location('tool_' + name, path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "    heavy[name] = 'tensorflow' in sys.modules\n"
        "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str({name: False for name in tools})


def test_dispatch_sites_use_the_configs_allowed_values():
    # One definition next to the field; the code that dispatches on it imports it.
    from tfrec_sentiment.data import config as data_config
    from tfrec_sentiment.data import splits
    from tfrec_sentiment.distribute import strategy
    from tfrec_sentiment.features import config as features_config
    from tfrec_sentiment.features import leakage
    from tfrec_sentiment.pipeline import guardrail
    from tfrec_sentiment.recsys import config as recsys_config
    from tfrec_sentiment.recsys import model, serving

    fields = {f.name: f for f in dataclasses.fields(RecsysConfig)}
    assert fields["rating_loss"].metadata["choices"] is model.RATING_LOSSES
    assert fields["retrieval_candidates"].metadata["choices"] is model.RETRIEVAL_CANDIDATES
    assert fields["score_mode"].metadata["choices"] is serving.SCORE_MODES
    assert guardrail.SCORE_MODES is recsys_config.SCORE_MODES
    assert splits.SPLIT_METHODS is data_config.SPLIT_METHODS
    assert leakage.TRAINING_FEATURES is features_config.TRAINING_FEATURES
    assert strategy.STRATEGIES is config_lib.STRATEGIES
    with pytest.raises(strategy.StrategyError, match="choose one of"):
        strategy.make_strategy("tpu")


def test_title_names_the_data_set_unless_the_run_is_named_after_it():
    assert config_lib.resolve("demo", []).title == "demo"
    named = config_lib.resolve("demo", ["name=musical"])
    assert named.title == f"musical: {named.data.dataset}" != "musical"
