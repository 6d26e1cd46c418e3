"""Lazy public names for a stage package's `__init__` (PEP 562 module `__getattr__`).

A stage package lists its public names and the submodule each lives in; a name's
submodule is imported on first access, so that importing a light submodule (e.g.
`tfrec_sentiment.features.config`) does not pull in TensorFlow through its siblings.

Example:

>>> getattr_, names = lazy_exports("tfrec_sentiment.features", {"FeatureConfig": "config"})
>>> names, getattr_("FeatureConfig").__name__
(['FeatureConfig'], 'FeatureConfig')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], list[str]]:
    """A module `__getattr__` that imports each public name from its submodule, and `__all__`.

    Args:
        package: the package's `__name__`.
        exports: public name -> submodule (relative to `package`) that defines it.

    Returns:
        (`__getattr__`, `__all__`): the function raises AttributeError for a name
        not in `exports`, as a module does.

    Example (in a package's `__init__.py`):
        >>> __getattr__, __all__ = lazy_exports(__name__, {"Thing": "things"})  # doctest: +SKIP
    """
    exports = dict(exports)

    def __getattr__(name: str) -> Any:  # noqa: N807  (the module hook's own name)
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__, sorted(exports)
