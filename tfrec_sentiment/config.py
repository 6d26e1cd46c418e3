"""Run configuration: dataclasses with defaults, overridden from the command line.

A run's config is a tree of dataclasses, one per stage, each owned by its stage's
sub-package. Tools pick a named preset and override single fields with
`section.field=value` strings; the resolved config is written into the run folder.

Example:

>>> config = resolve("demo", ["recsys.epochs=2", "seed=7"])
>>> config.recsys.epochs, config.seed
(2, 7)
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.sentiment.config import SentimentConfig


class ConfigError(ValueError):
    """An override names an unknown field or a value of the wrong type."""


@dataclasses.dataclass
class RunConfig:
    """Everything one `tools/train.py` run needs, with defaults for the demo data."""

    name: str = "demo"
    seed: int = 0  # data, sentiment and the exported recommender; see evaluation.seeds
    run_root: str = "runs"
    strategy: str = "default"  # default | mirrored | multi_worker
    replicas: int | None = None  # mirrored: devices; None = all GPUs or 1 CPU
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    sentiment: SentimentConfig = dataclasses.field(default_factory=SentimentConfig)
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    recsys: RecsysConfig = dataclasses.field(default_factory=RecsysConfig)
    evaluation: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)


def _preset_overrides() -> dict[str, list[str]]:
    # Presets are override lists, so they read like command lines and stay checkable.
    return {
        "demo": [],
        "smoke": [
            "name=smoke",
            "sentiment.preset=tiny",
            "sentiment.epochs=1",
            "recsys.epochs=1",
        ],
    }


PRESETS: tuple[str, ...] = tuple(_preset_overrides())


def resolve(preset: str = "demo", overrides: Sequence[str] = ()) -> RunConfig:
    """Builds the config of a named preset, then applies `section.field=value` overrides."""
    presets = _preset_overrides()
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(presets)}")
    config = RunConfig()
    for override in [*presets[preset], *overrides]:
        apply_override(config, override)
    return config


def apply_override(config: Any, override: str) -> None:
    """Sets one dotted field from a `path.to.field=value` string, parsing by field type."""
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not of the form section.field=value")
    dotted, raw = override.split("=", 1)
    *parents, leaf = dotted.strip().split(".")
    target = config
    for part in parents:
        if not dataclasses.is_dataclass(target) or not hasattr(target, part):
            raise ConfigError(f"unknown config section {part!r} in {dotted!r}")
        target = getattr(target, part)
    fields = {f.name: f for f in dataclasses.fields(target)}
    if leaf not in fields:
        raise ConfigError(f"unknown config field {leaf!r} in {dotted!r}; have {sorted(fields)}")
    hints = typing.get_type_hints(type(target))
    setattr(target, leaf, _parse(raw.strip(), hints[leaf], dotted))


def _parse(raw: str, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw.lower() in ("none", "null", ""):
            return None
        hint, origin = options[0], typing.get_origin(options[0])
    try:
        if hint is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        if hint in (int, float, str):
            return hint(raw)
        if origin in (list, tuple):
            (item,) = set(typing.get_args(hint)) - {Ellipsis} or {str}
            values = [item(v.strip()) for v in raw.split(",") if v.strip()]
            return tuple(values) if origin is tuple else values
    except ValueError as error:
        raise ConfigError(f"{name}={raw!r}: expected {getattr(hint, '__name__', hint)}") from error
    raise ConfigError(f"{name}: cannot parse fields of type {hint}")


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def save(config: RunConfig, path: str | Path) -> Path:
    """Writes the resolved config as JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")
    return path


def load(path: str | Path) -> RunConfig:
    """Reads a config written by `save` back into dataclasses."""
    return _from_dict(RunConfig, json.loads(Path(path).read_text()))


def _from_dict(cls: type, values: dict) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            value = _from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and value is not None:
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
