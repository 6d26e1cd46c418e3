"""The docstring examples of the package run, one test per module that has any.

A test file rather than `--doctest-modules` in the pytest options, because:

- `pytest tests/some_file.py` stays as it was: no extra collection, and nothing is
  imported for doctests unless this file is run (`make test` runs it with the rest);
- the examples run under the same set-up as the tests (tests/conftest.py splits the
  CPU into two logical devices first, which `distribute/strategy.py`'s example needs),
  and under pytest-xdist they form one group (this file) on one worker;
- modules are found from the files, so a module is not imported to be listed, and
  `__main__.py` (a command line) is never imported.

An example that needs data, weights, a trained model or minutes of work is marked
`# doctest: +SKIP` in its module, on purpose; the test of that module says so. The
option flag is ELLIPSIS (pytest's default for doctests).
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "tfrec_sentiment"


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path.name == "__main__.py" or ">>>" not in path.read_text(encoding="utf-8"):
            continue
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_modules_are_found():
    assert "tfrec_sentiment" in MODULES and "tfrec_sentiment.lazy" in MODULES
    assert not any(name.endswith("__main__") for name in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=report.write)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} failing example(s) in {name}:\n" \
                                f"{report.getvalue()}"
    if results.attempted == 0:
        pytest.skip(f"{name}: every example is marked +SKIP (needs data, weights or a run)")
