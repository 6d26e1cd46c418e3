import dataclasses

import pytest

from tfrec_sentiment import config as config_lib


def test_resolve_applies_preset_then_overrides():
    config = config_lib.resolve("smoke", ["recsys.epochs=3", "seed=7", "replicas=2"])
    assert config.name == "smoke"
    assert config.sentiment.preset == "tiny"
    assert (config.recsys.epochs, config.seed, config.replicas) == (3, 7, 2)


def test_optional_fields_accept_none():
    config = config_lib.resolve("demo", ["replicas=2", "replicas=none"])
    assert config.replicas is None


@pytest.mark.parametrize("override, message", [
    ("recsys.nope=1", "unknown config field 'nope'"),
    ("nosection.epochs=1", "unknown config section 'nosection'"),
    ("recsys.epochs=many", "expected int"),
    ("recsys.epochs", "not of the form"),
])
def test_bad_overrides_are_named(override, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.resolve("demo", [override])


def test_unknown_preset_lists_the_choices():
    with pytest.raises(config_lib.ConfigError, match="choose one of"):
        config_lib.resolve("nope")


def test_save_load_round_trip(tmp_path):
    config = config_lib.resolve("smoke", ["seed=3"])
    path = config_lib.save(config, tmp_path / "run" / "config.json")
    loaded = config_lib.load(path)
    assert dataclasses.asdict(loaded) == dataclasses.asdict(config)
