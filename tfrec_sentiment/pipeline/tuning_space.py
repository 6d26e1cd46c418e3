"""What a tuning study searches and for what: the objective and the search space.

The search space maps dotted `features.*` / `recsys.*` fields to a range
(`{"low": a, "high": b, "log": true, "step": s}`, int or float fields) or a list
of `{"choices": [...]}` (any field; a list value for a tuple field such as
`recsys.hidden_units`); every bound and choice is checked by the field's own
constraints before any work (`SearchSpace.check`). The study itself is `tuning.py`.

Example:

>>> space = SearchSpace.from_dict({"recsys.learning_rate": {"low": 0.001, "high": 0.01,
...                                                          "log": True}})
>>> space.params[0].kind, Objective.parse("val_liked_ndcg_at_10").metric
('float', 'liked_ndcg@10')
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import yaml

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.config_checks import ConfigError, type_hints
from tfrec_sentiment.evaluation.evaluate import LOWER_IS_BETTER

# Sections a trial may change: the run's data and sentiment scores are reused as they are.
TUNABLE_SECTIONS = ("features", "recsys")
# Metric bases of `evaluate_split` that take an "@k" (see evaluation/evaluate.py).
_TOPK_BASES = ("recall", "ndcg", "hitrate", "liked_recall", "liked_ndcg", "disliked",
               "disliked_cond")
_RATING_METRICS = ("rmse", "mae")
_SPEC_KEYS = ("low", "high", "log", "step", "choices")

# The default search space: the recommender's regularisation, size, optimiser and
# retrieval settings, the item-similarity shrinkage and text weight; ranges bracket the defaults
# chosen by hand on Musical Instruments (README, "How the defaults were chosen").
DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "recsys.embedding_dim": {"choices": [8, 16, 32]},
    "recsys.id_l2": {"low": 20.0, "high": 2000.0, "log": True},
    "recsys.bias_l2": {"low": 1.0, "high": 50.0, "log": True},
    "recsys.history_l2": {"low": 20.0, "high": 2000.0, "log": True},
    "recsys.learning_rate": {"low": 0.001, "high": 0.03, "log": True},
    "recsys.temperature": {"low": 0.03, "high": 1.0, "log": True},
    "recsys.similarity_weight": {"low": 0.5, "high": 20.0, "log": True},
    "recsys.dropout": {"low": 0.0, "high": 0.4},
    "recsys.epochs": {"low": 10, "high": 40, "step": 10},
    "features.similarity_shrinkage": {"low": 0.0, "high": 20.0},
    "features.text_similarity_weight": {"low": 0.0, "high": 1.5},
}


# === Objective and search space ===


@dataclasses.dataclass(frozen=True)
class Objective:
    """A validation metric to optimise, named as the recommender's monitors are.

    Attributes:
        name: "val_<metric>" ("val_rmse") or "val_<metric>_at_<k>" ("val_ndcg_at_10").
        metric: the `evaluate_split` key ("rmse", "ndcg@10").
        k: the top-K cut-off the evaluation uses (10 for rating metrics).
        direction: "maximize" or "minimize" (`evaluation.evaluate.LOWER_IS_BETTER`).
    """

    name: str
    metric: str
    k: int
    direction: str

    @classmethod
    def parse(cls, name: str) -> Objective:
        """Raises ConfigError naming the objective and the allowed forms."""
        allowed = ("val_rmse, val_mae, or val_<metric>_at_<k> with <metric> one of "
                   + ", ".join(_TOPK_BASES))
        body = name.removeprefix("val_")
        if name.startswith("val_") and body in _RATING_METRICS:
            return cls(name, body, 10, "minimize")
        match = re.fullmatch(r"val_(\w+?)_at_(\d+)", name)
        if not match or match[1] not in _TOPK_BASES or int(match[2]) < 1:
            raise ConfigError(f"choose {allowed}", "objective", name)
        metric = f"{match[1]}@{int(match[2])}"
        direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
        return cls(name, metric, int(match[2]), direction)

    def better(self, a: float, b: float) -> bool:
        """Whether value `a` beats `b` in this objective's direction."""
        return a < b if self.direction == "minimize" else a > b


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched field.

    Attributes:
        name: dotted config field, e.g. "recsys.learning_rate".
        kind: "int", "float" (a range) or "categorical" (`choices`).
        low, high: inclusive range bounds; log: sample on a log scale; step: grid step.
        choices: the categorical values, as Optuna stores them (a list value for a
            tuple field is kept as its override string, "32,16").
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step,
                                       log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether `value` (a config value) is one this parameter can take."""
        if self.kind == "categorical":
            return _choice(value) in self.choices
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.step:
            steps = (value - self.low) / self.step
            return math.isclose(steps, round(steps), abs_tol=1e-9)
        return True

    def override(self, value: Any) -> str:
        """The `section.field=value` override of a sampled value."""
        return f"{self.name}={format_value(value)}"


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The searched fields, in the order given."""

    params: tuple[Param, ...]
    source: str | None = None

    @classmethod
    def default(cls) -> SearchSpace:
        return cls.from_dict(DEFAULT_SPACE, source="default search space")

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Reads a space file: JSON, or YAML for `.yaml` / `.yml`.

        Raises:
            ConfigError: unreadable file, or a field / spec the space does not allow;
                one line naming the file, the field and what is allowed.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigError(f"cannot read the search space ({error.strerror})",
                              source=str(path)) from None
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                values = yaml.safe_load(text)
            else:
                values = json.loads(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise ConfigError(f"not valid {'YAML' if path.suffix != '.json' else 'JSON'}: "
                              f"{' '.join(str(error).split())}", source=str(path)) from None
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: Any, source: str | None = None) -> SearchSpace:
        """Builds and checks a space from `{field: spec}`; see the module docstring.

        Raises:
            ConfigError: naming `source`, the field and what is allowed.
        """
        if not isinstance(values, Mapping) or not values:
            raise ConfigError("expected a non-empty mapping of section.field -> "
                              "{low, high[, log, step]} or {choices}", source=source)
        params = tuple(_param(str(name), spec, source) for name, spec in values.items())
        space = cls(params, source)
        space.check(config_lib.RunConfig())
        return space

    def check(self, config: config_lib.RunConfig) -> None:
        """Checks every bound and choice by the field's own constraints in `config`.

        Raises:
            ConfigError: naming the space's source, the field and the refused value.
        """
        for param in self.params:
            values = param.choices if param.kind == "categorical" else (param.low, param.high)
            for value in values:
                try:
                    config_lib.apply_overrides(config, [param.override(value)])
                except ConfigError as error:
                    raise error.within(source=self.source) from None

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """Overrides of a trial's sampled values (`trial.params`), in space order."""
        return [p.override(params[p.name]) for p in self.params if p.name in params]

    def defaults(self, config: config_lib.RunConfig) -> dict[str, Any]:
        """The values `config` has for the searched fields, where inside the space."""
        found = {}
        for param in self.params:
            value = _field_value(config, param.name)
            if param.contains(value):
                found[param.name] = _choice(value) if param.kind == "categorical" else value
        return found


def format_value(value: Any) -> str:
    """A config value as `apply_overrides` parses it back (lists comma-joined).

    >>> format_value((32, 16)), format_value(True), format_value(None), format_value(0.005)
    ('32,16', 'true', 'none', '0.005')
    """
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def _choice(value: Any) -> Any:
    # Optuna keeps categorical choices as None/bool/int/float/str: a list becomes its
    # override string.
    return format_value(value) if isinstance(value, (list, tuple)) else value


def _field_value(config: Any, name: str) -> Any:
    for part in name.split("."):
        config = getattr(config, part)
    return config


def _param(name: str, spec: Any, source: str | None) -> Param:
    def error(reason: str, *value: Any) -> ConfigError:  # value: the refused one, if any
        return ConfigError(reason, name, *value, source=source)

    section, _, field = name.partition(".")
    if section not in TUNABLE_SECTIONS or not field or "." in field:
        raise error("tune only features.<field> or recsys.<field> (the run's data and "
                    "sentiment scores are reused as they are)")
    section_type = type_hints(config_lib.RunConfig)[section]
    hints = type_hints(section_type)
    if field not in hints:
        raise error(f"unknown config field; have {', '.join(sorted(hints))}")
    if not isinstance(spec, Mapping):
        raise error("expected {low, high[, log, step]} or {choices: [...]}", spec)
    unknown = sorted(set(spec) - set(_SPEC_KEYS))
    if unknown:
        raise error(f"unknown key {unknown[0]!r}; use {', '.join(_SPEC_KEYS)}")
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise error("give either choices or low/high, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise error("choices must be a non-empty list", choices)
        return Param(name, "categorical", choices=tuple(_choice(c) for c in choices))
    if "low" not in spec or "high" not in spec:
        raise error("a range needs both low and high (or give choices)")
    kind = _range_kind(hints[field])
    if kind is None:
        raise error(f"a {hints[field]} field takes choices, not a range")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    numbers = [v for v in (low, high, step) if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
        raise error("low, high and step must be numbers", spec)
    if kind == "int" and any(not isinstance(v, int) for v in numbers):
        raise error("an int field needs int low, high and step", spec)
    if not isinstance(log, bool):
        raise error("log must be true or false", log)
    if low > high:
        raise error(f"low ({low}) is above high ({high})")
    if log and low <= 0:
        raise error(f"a log range needs low > 0, got {low}")
    if step is not None and (step <= 0 or log):
        raise error("step must be > 0 and cannot go with log", step)
    return Param(name, kind, low, high, log, step)


def _range_kind(hint: Any) -> str | None:
    args = [a for a in getattr(hint, "__args__", (hint,)) if a is not type(None)]
    if len(args) != 1:
        return None
    return {int: "int", float: "float"}.get(args[0])
