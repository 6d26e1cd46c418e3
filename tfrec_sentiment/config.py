"""Run configuration: dataclasses with defaults, overridden from the command line.

A run's config is a tree of dataclasses, one per stage, each owned by its stage's
sub-package. Tools pick a named preset and override single fields with
`section.field=value` strings; the resolved config is written into the run folder.
Every field checks itself (allowed values next to the field, see
`tfrec_sentiment.config_checks`) when a config is built, overridden or loaded: a bad
value raises a one-line `ConfigError` before any work.

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

from tfrec_sentiment.aspects.config import AspectConfig
from tfrec_sentiment.config_checks import (
    ConfigError,
    check_fields,
    check_value,
    from_dict,
    type_hints,
)
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.evaluation.config import EvalConfig
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.privacy.config import PrivacyConfig
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.sentiment.config import SentimentConfig

STRATEGIES = ("default", "mirrored", "multi_worker")  # see distribute/strategy.py


@dataclasses.dataclass
class RunConfig:
    """Everything one `tools/train.py` run needs, with defaults for the demo data.

    Every field checks itself (`tfrec_sentiment.config_checks`): at construction, on
    every override and when loaded.
    """

    name: str = "demo"
    # data, sentiment and the exported recommender; see evaluation.seeds
    seed: int = dataclasses.field(default=0, metadata={"min": 0})
    run_root: str = "runs"
    strategy: str = dataclasses.field(default="default", metadata={"choices": STRATEGIES})
    # mirrored: devices; None = all GPUs or 1 CPU
    replicas: int | None = dataclasses.field(default=None, metadata={"min": 1})
    # tools/train.py runs spaCy's parse (from the end of the data stage) and the
    # comment-only protocol (from the end of aspects) in child processes beside the
    # chain, on the core it leaves idle (pipeline/background.py); off: in its process
    background_jobs: bool = True
    # peak memory the run may use (pipeline/memory.py); 0 = what the machine has free
    memory_budget_gb: float = dataclasses.field(default=0.0, metadata={"min": 0.0})
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    sentiment: SentimentConfig = dataclasses.field(default_factory=SentimentConfig)
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    recsys: RecsysConfig = dataclasses.field(default_factory=RecsysConfig)
    evaluation: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    # encryption at rest of the run's tables (privacy/config.py); off by default
    privacy: PrivacyConfig = dataclasses.field(default_factory=PrivacyConfig)
    # aspect profiles, the "aspect" feature group and explanations (aspects/config.py)
    aspects: AspectConfig = dataclasses.field(default_factory=AspectConfig)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.strategy == "default" and self.replicas not in (None, 1):
            raise ConfigError("the default strategy has one replica; set strategy=mirrored",
                              "replicas", self.replicas)

    @property
    def title(self) -> str:
        """The run's name and data set for report titles ("musical: amazon2014"); the
        name alone when they are the same ("demo", not "demo: demo")."""
        if self.name == self.data.dataset:
            return self.name
        return f"{self.name}: {self.data.dataset}"


def _preset_overrides() -> dict[str, list[str]]:
    # Presets are override lists, so they read like command lines and stay checkable.
    return {
        "demo": [],
        "smoke": [
            "name=smoke",
            "sentiment.preset=tiny",
            "sentiment.epochs=1",
            # the tiny model as the suite's trained fixtures were sized (128 positions,
            # every training row), not the MiniLM defaults (SentimentConfig)
            "sentiment.sequence_length=128",
            "sentiment.max_train_examples=none",
            "recsys.epochs=1",
            # quick checks: the extra protocols (each trains more recommenders) are off;
            # `demo` and real data sets run them
            "evaluation.comment_only=false",
            "evaluation.cold_start_ks=",
            # spaCy and the aspect variant cost more than the rest of a smoke run
            "aspects.enabled=false",
        ],
    }


PRESETS: tuple[str, ...] = tuple(_preset_overrides())


def resolve(preset: str = "demo", overrides: Sequence[str] = ()) -> RunConfig:
    """Builds the config of a named preset, then applies `section.field=value` overrides.

    Raises:
        ConfigError: an unknown preset, or an override that names no field or a value
            the field does not allow (one line: field, value, allowed values).
    """
    presets = _preset_overrides()
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(presets)}")
    return apply_overrides(RunConfig(), [*presets[preset], *overrides])


def apply_override(config: Any, override: str) -> Any:
    """A copy of `config` with one `path.to.field=value` applied; see `apply_overrides`."""
    return apply_overrides(config, [override])


def apply_overrides(config: Any, overrides: Sequence[str]) -> Any:
    """A copy of the dataclass `config` with `path.to.field=value` overrides applied.

    Each value is parsed by the field's type and checked against the field's allowed
    values at once (the first bad override fails); cross-field checks run once all
    overrides are in, when the config is rebuilt with `dataclasses.replace`. The
    given config is left unchanged.

    Raises:
        ConfigError: one line naming the field, the value and the allowed values.

    Example:

    >>> apply_overrides(RunConfig(), ["recsys.epochs=2"]).recsys.epochs
    2
    >>> apply_overrides(RunConfig(), ["export.top_k=0"])
    Traceback (most recent call last):
    ...
    tfrec_sentiment.config_checks.ConfigError: export.top_k=0: must be >= 1
    """
    changes: _Changes = _Changes()
    for override in overrides:
        path, value = _parse_override(config, override)
        node = changes
        for part in path[:-1]:
            node = node.setdefault(part, _Changes())
        node[path[-1]] = value
    return _rebuild(config, changes, "")


class _Changes(dict):
    """Overrides of one config section: field name -> value or nested `_Changes`."""


def _parse_override(config: Any, override: str) -> tuple[list[str], Any]:
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not of the form section.field=value")
    dotted, raw = override.split("=", 1)
    dotted = dotted.strip()
    *parents, leaf = dotted.split(".")
    target = config
    for part in parents:
        if not dataclasses.is_dataclass(target) or not _is_section(target, part):
            raise ConfigError(f"unknown config section {part!r} in {dotted!r}")
        target = getattr(target, part)
    fields = {f.name: f for f in dataclasses.fields(target)}
    if leaf not in fields:
        raise ConfigError(f"unknown config field {leaf!r} in {dotted!r}; have {sorted(fields)}")
    hint = type_hints(type(target))[leaf]
    value = check_value(fields[leaf], hint, _parse(raw.strip(), hint, dotted), dotted)
    return [*parents, leaf], value


def _is_section(config: Any, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(config)) and \
        dataclasses.is_dataclass(getattr(config, name))


def _rebuild(config: Any, changes: _Changes, section: str) -> Any:
    kwargs = {}
    for name, change in changes.items():
        if isinstance(change, _Changes):
            change = _rebuild(getattr(config, name), change, f"{section}{name}.")
        kwargs[name] = change
    try:
        return dataclasses.replace(config, **kwargs)
    except ConfigError as error:
        raise error.within(section.rstrip(".") or None) from None


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
    except ValueError:
        raise ConfigError(f"expected {getattr(hint, '__name__', hint)}", name, raw) from None
    raise ConfigError(f"cannot parse fields of type {hint}", name)


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def save(config: RunConfig, path: str | Path) -> Path:
    """Writes the resolved config as JSON; returns the path. `load` reads it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")
    return path


def load(path: str | Path) -> RunConfig:
    """Reads a config written by `save` back into dataclasses, checking every field.

    A key the file lacks keeps its default.

    Raises:
        ConfigError: the file is not JSON, has an unknown key or a value a field does
            not allow; one line naming the file, the field, the value and the choices.
    """
    try:
        values = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"not valid JSON ({error})", source=str(path)) from None
    return from_dict(RunConfig, values, source=str(path))
