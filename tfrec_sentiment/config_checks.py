"""Configs that check themselves: each field's constraints are defined once, next to it.

A stage config states a field's allowed values in the field's metadata and calls
`check_fields` in `__post_init__`; `tfrec_sentiment.config` runs the same checks on
every `section.field=value` override and on every config it loads. Metadata keys:

- `choices`: the allowed values (a tuple, or a function returning one, for lists
  owned by a module too heavy to import here); for a tuple field, of each item.
- `min` / `max`: inclusive bounds; `above` / `below`: exclusive bounds (of each item
  for a tuple field).
- `min_items`: the fewest items of a tuple field.
- `hint`: appended to a failed bound's message, e.g. what to set instead.

A field without metadata is only type-checked against its annotation (`int`, `float`,
`str`, `bool`, `X | None`, `tuple[X, ...]`, a nested config); lists become tuples and
ints become floats where the annotation says so. `None` passes every constraint of an
`X | None` field. Cross-field checks follow `check_fields` in `__post_init__` and raise
`ConfigError` naming one field.

Every error is a `ConfigError` (a `ValueError`) whose message is ONE line naming the
field, the value and what is allowed, e.g. `recsys.variant='nope': choose one of ids,
ratings, full`.

Example:

>>> @dataclasses.dataclass
... class Toy:
...     mode: str = dataclasses.field(default="a", metadata={"choices": ("a", "b")})
...     steps: int = dataclasses.field(default=1, metadata={"min": 1})
...     def __post_init__(self) -> None:
...         check_fields(self)
>>> Toy(mode="c")
Traceback (most recent call last):
...
tfrec_sentiment.config_checks.ConfigError: mode='c': choose one of a, b
>>> from_dict(Toy, {"mode": "b", "steps": 3})
Toy(mode='b', steps=3)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

_NO_VALUE = object()


class ConfigError(ValueError):
    """A config value is not allowed, an override is malformed, or a field is unknown.

    Attributes:
        reason: what is wrong or allowed, e.g. "choose one of ids, ratings, full".
        field: the dotted field name ("recsys.variant"), or None.
        value: the refused value (absent when the error is not about one value).
        source: the file the value came from, or None.
    """

    def __init__(self, reason: str, field: str | None = None, value: Any = _NO_VALUE,
                 source: str | None = None) -> None:
        self.reason, self.field, self.value, self.source = reason, field, value, source
        head = field if value is _NO_VALUE or field is None else f"{field}={value!r}"
        line = ": ".join(part for part in (source, head, reason) if part)
        super().__init__(" ".join(line.split("\n")))

    def within(self, section: str | None = None, source: str | None = None) -> ConfigError:
        """The same error with the field under `section` and/or read from `source`."""
        field = self.field
        if section:
            field = f"{section}.{field}" if field else section
        return ConfigError(self.reason, field, self.value, source or self.source)


def check_fields(config: Any) -> None:
    """Checks (and normalises) every field of the dataclass `config` in place.

    Nested configs are checked again through their own `__post_init__`, so that an
    error names the full dotted field. Raises `ConfigError` on the first bad field.
    """
    hints = type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        checked = check_value(field, hints[field.name], value, field.name)
        if checked is not value:
            object.__setattr__(config, field.name, checked)  # works for frozen ones too


def check_value(field: dataclasses.Field, hint: Any, value: Any, name: str) -> Any:
    """Checks one value of `field` (annotation `hint`); returns it normalised.

    Raises:
        ConfigError: naming `name`, the value and the allowed values.
    """
    value = _check_type(value, hint, name)
    if dataclasses.is_dataclass(value):
        try:
            revalidate(value)
        except ConfigError as error:
            raise error.within(name) from None
        return value
    if value is None:
        return value
    meta = field.metadata
    items = value if isinstance(value, tuple) else (value,)
    if "min_items" in meta and len(value) < meta["min_items"]:
        raise ConfigError(f"needs at least {meta['min_items']} item(s)", name, value)
    choices = meta.get("choices")
    if choices is not None:
        allowed = tuple(choices() if callable(choices) else choices)
        if any(item not in allowed for item in items):
            head = "each item must be" if isinstance(value, tuple) else "choose"
            raise ConfigError(f"{head} one of {', '.join(map(str, allowed))}", name, value)
    bounds = (("min", "must be >= {}", lambda v, b: v >= b),
              ("max", "must be <= {}", lambda v, b: v <= b),
              ("above", "must be > {}", lambda v, b: v > b),
              ("below", "must be < {}", lambda v, b: v < b))
    for key, message, holds in bounds:
        if key in meta and not all(holds(item, meta[key]) for item in items):
            each = "each item " if isinstance(value, tuple) else ""
            hint = f"; {meta['hint']}" if "hint" in meta else ""
            raise ConfigError(each + message.format(meta[key]) + hint, name, value)
    return value


def revalidate(config: Any) -> None:
    """Runs the config's own checks again (its `__post_init__`, else `check_fields`)."""
    post_init = getattr(config, "__post_init__", None)
    if post_init is not None:
        post_init()
    else:
        check_fields(config)


def from_dict(cls: type, values: Mapping, source: str | None = None) -> Any:
    """Builds the config `cls` from a JSON-style dict (as `dataclasses.asdict` wrote it).

    Nested configs are built from nested dicts; a missing key keeps the default.

    Raises:
        ConfigError: a key is not a field, or a value is not allowed; the message
            names `source` (e.g. the config.json) and the dotted field.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"expected an object of {cls.__name__} fields", value=values,
                          source=source)
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown field; have {', '.join(sorted(fields))}", unknown[0],
                          source=source)
    kwargs = {}
    for name, value in values.items():
        nested = _dataclass_of(hints[name])
        if nested is not None and isinstance(value, Mapping):
            try:
                value = from_dict(nested, value)
            except ConfigError as error:
                raise error.within(name, source) from None
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise error.within(source=source) from None


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a config class (cached)."""
    return typing.get_type_hints(cls)


def _dataclass_of(hint: Any) -> type | None:
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _check_type(value: Any, hint: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        others = [o for o in options if o is not type(None)]
        if len(others) == 1:
            return _check_type(value, others[0], name)
        return value  # a wider union: not checked here
    expected = _TYPE_NAMES.get(hint)
    if expected is not None:
        checker, convert = _SCALARS[hint]
        if not checker(value):
            raise ConfigError(f"expected {expected}", name, value)
        return convert(value)
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"expected a list of {_item_name(hint)}", name, value)
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if len(args) == 1:
            try:
                items = [_check_type(item, args[0], name) for item in value]
            except ConfigError:
                raise ConfigError(f"expected a list of {_item_name(hint)}", name,
                                  value) from None
        else:
            items = list(value)
        return tuple(items) if origin is tuple else items
    nested = _dataclass_of(hint)
    if nested is not None and not isinstance(value, nested):
        raise ConfigError(f"expected a {nested.__name__}", name, value)
    return value


def _item_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not Ellipsis]
    return _TYPE_NAMES.get(args[0], str(args[0])) if len(args) == 1 else "values"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SCALARS: dict[type, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    bool: (lambda v: isinstance(v, bool), lambda v: v),
    int: (_is_int, lambda v: v),
    float: (lambda v: _is_int(v) or isinstance(v, float), float),
    str: (lambda v: isinstance(v, str), lambda v: v),
}
_TYPE_NAMES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}


class ToolArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose errors are ONE stderr line and exit status 2.

    The tools in `tools/` use it so that a bad flag reads like a bad config value:
    `error: argument --top-k: invalid int value: 'x' (see --help)`.
    """

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {' '.join(message.split())} (see --help)\n")
