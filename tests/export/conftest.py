"""Fixtures of the export tests: a tiny BERT, a tiny trained recommender, two exports.

The tiny sentiment model's embedding width (8) matches the synthetic reviews' text
embeddings the tiny recommender was trained on, as one run's two models match.
`exported` is the recommender as trained (retrieval score, exact index); its run
folder also holds hand-made aspect profiles (`tiny_profiles`), so that one export
serves `explain` too; `loaded_export` is it loaded once in-process.
`learned_exported` is the same recommender with a fitted blend (`learned`) behind a
partitioned index that probes every partition, shared by the blend signature's and
the partitioned index's SavedModel tests and by the export tool's test (one export
instead of one each): tools/export.py writes it (`tool_export`) from a run folder the
stages' save methods wrote, into a model folder that already holds a version 1 and
the leftovers of killed exports.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import logging
import os
import socket
import subprocess
import sys
import types
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from tests.recsys.trained_fixture import trained_full
from tfrec_sentiment.export.config import ExportConfig

TOP_K = 5
RUN_TOP_K = 4  # the run config's top_k; the export tool's flag sets TOP_K
TOOLS = Path(__file__).resolve().parents[2] / "tools"
SEQUENCE_LENGTH = 32
# Every item a candidate, every partition probed: the two stages must give what the
# exact index gives (the rating moments' sample covers the 40 items: exact too).
ALL = dict(index="partitioned", partitions=4, probes=4, candidates=40, top_k=TOP_K)


@pytest.fixture(scope="session")
def tiny_sentiment():
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    config = SentimentConfig(preset="tiny", tiny_hidden_dim=8, tiny_heads=2, tiny_layers=1,
                             sequence_length=SEQUENCE_LENGTH, bucket_boundaries=(8, 16, 32))
    return SentimentModel.from_config(config)


@pytest.fixture(scope="session")
def trained():
    return trained_full()


def tiny_profiles():
    """Aspect profiles by hand, over ids of the tiny recommender's data: i003 has
    praised, blamed and rarely named aspects, i010 only lukewarm ones, i001 none;
    u001 writes about price and the cable, u002 about no aspect."""
    from tfrec_sentiment.aspects.profiles import AspectProfiles

    return AspectProfiles(
        aspects=np.array(["sound", "price", "cable", "strap"]),
        item_ids=np.array(["i003", "i010", "i001"]),
        item_mentions=np.array([[6, 3, 2, 1], [0, 4, 0, 2], [0, 0, 0, 0]], np.int32),
        item_polarity=np.array([[0.7, 0.4, -0.5, 0.9], [0, 0.1, 0, -0.2], [0, 0, 0, 0]],
                               np.float32),
        user_ids=np.array(["u001", "u002"]),
        user_attention=np.array([[0.0, 0.6, 0.4, 0.0], [0, 0, 0, 0]], np.float32),
        population_attention=np.array([0.4, 0.3, 0.2, 0.1], np.float32))


@pytest.fixture(scope="session")
def serving_module(tiny_sentiment, trained):
    from tfrec_sentiment.export.module import build_serving_module

    return build_serving_module(tiny_sentiment, trained, top_k=TOP_K, profiles=tiny_profiles())


@pytest.fixture(scope="session")
def export_config(tmp_path_factory) -> ExportConfig:
    return ExportConfig(root=str(tmp_path_factory.mktemp("saved_models")), top_k=TOP_K)


@pytest.fixture(scope="session")
def exported(tiny_sentiment, trained, export_config, tmp_path_factory) -> Path:
    """The version folder of one export, through the pipeline's entry point; the run
    folder holds the aspect profiles (`explain` is served)."""
    from tfrec_sentiment.export.run_parts import ASPECTS_DIR
    from tfrec_sentiment.export.saved_model import export_run

    run_dir = tmp_path_factory.mktemp("run")
    tiny_profiles().save(run_dir / ASPECTS_DIR)
    return export_run(run_dir, export_config, sentiment=tiny_sentiment, recommender=trained)


@pytest.fixture(scope="session")
def loaded_export(exported):
    """`exported` loaded in this process by `tf.saved_model.load`, once for the tests
    that call its signatures in-process (a load restores and retraces every function)."""
    import tensorflow as tf

    return tf.saved_model.load(str(exported))


@pytest.fixture(scope="session")
def learned(trained):
    """`trained` scoring with a fitted blend: distinct weights per history bucket and
    every component counting somewhere, so a wrong bucket or a lost component shows.

    Buckets (reviews of the user) "0": popularity alone (an unknown user's ranking is
    the popularity z-score), "1", "2-4" and "5+": distinct mixes of all four.
    """
    import numpy as np

    from tfrec_sentiment.recsys.blend import BlendWeights
    from tfrec_sentiment.recsys.trained import TrainedRecommender

    learned = TrainedRecommender(trained.model, trained.tables,
                                 dataclasses.replace(trained.config, score_mode="learned"))
    components = learned.serving.components
    assert components == ("retrieval", "rating", "popularity", "knn")
    learned.blend = BlendWeights(components, (1, 2, 5), np.array(
        [[0.0, 0.0, 1.0, 0.0], [0.4, 0.3, 0.1, 0.2], [0.25, 0.25, 0.25, 0.25],
         [0.1, 0.5, 0.1, 0.3]], np.float32))
    learned._serving = None
    return learned


def leftovers(model_dir: Path) -> tuple[Path, Path, Path]:
    """Half-written folders in `model_dir`: a killed export's, a killed prune's, and
    an export of this (running) process."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that is gone
    host, token = socket.gethostname(), "ab" * 16
    killed_export = model_dir / f".staging-{token}.{child.pid}@{host}"
    killed_prune = model_dir / f".deleting-4-{token}.{child.pid}@{host}"
    running_export = model_dir / f".staging-{token}.{os.getpid()}@{host}"
    for folder in (killed_export, killed_prune, running_export):
        (folder / "variables").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"half")
    return killed_export, killed_prune, running_export


def export_tool():
    """tools/export.py as a module."""
    spec = importlib.util.spec_from_file_location("_export_tool", TOOLS / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tool_export(tiny_sentiment, learned, tmp_path_factory) -> types.SimpleNamespace:
    """`learned` exported by `tools/export.py --top-k TOP_K` from a run folder written
    by the stages' own save methods (its config: the index `ALL` with top_k RUN_TOP_K;
    no aspect profiles), into a model folder `shop` that already holds a published
    version 1 and the leftovers of killed exports (`leftovers`).

    Fields: `code` (the tool's exit status), `run`, `root`, `model_dir`, `version`
    (the folder it wrote), `killed_export` and `running_export` (leftovers), `out`
    (its stdout) and `log` (the warnings it logged).
    """
    from tfrec_sentiment import config as config_lib

    folder = tmp_path_factory.mktemp("tool_export")
    run = folder / "run"
    config = config_lib.RunConfig()
    config.export = dataclasses.replace(config.export, **{**ALL, "top_k": RUN_TOP_K})
    config_lib.save(config, run / "config.json")
    tiny_sentiment.save(run / "sentiment" / "model")
    # As the pipeline does: the feature stage saves the tables, the recsys stage
    # saves the model pointing at them.
    tables = learned.tables
    previous = tables.path
    tables.save(run / "features")
    try:
        learned.save(run / "recsys")
    finally:
        tables.path = previous
    root = folder / "served"
    model_dir = root / "shop"
    (model_dir / "1" / "variables").mkdir(parents=True)
    killed_export, _, running_export = leftovers(model_dir)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            code = export_tool().main(["--run", str(run), "--root", str(root), "--name",
                                       "shop", "--top-k", str(TOP_K)])
    finally:
        logging.getLogger().removeHandler(handler)
    return types.SimpleNamespace(code=code, run=run, root=root, model_dir=model_dir,
                                 version=model_dir / "2", killed_export=killed_export,
                                 running_export=running_export, out=out.getvalue(),
                                 log=log.getvalue())


@pytest.fixture(scope="session")
def fresh_served(exported, learned_exported, tmp_path_factory) -> dict[Path, dict]:
    """Version folder -> the stand-in server's JSON line (`tests/export/standalone_server.py`)
    for `exported` (every call of test_saved_model's `REQUESTS`) and `learned_exported`
    (the same calls but `explain`: no aspect profiles), served by ONE fresh process for
    test_saved_model's and test_partitioned_index's fresh-process tests."""
    from tests.export.test_saved_model import REQUESTS, _serve_all

    calls = [(name, inputs) for name, inputs in REQUESTS if name != "explain"]
    folder = tmp_path_factory.mktemp("fresh_served")
    models = [(exported, REQUESTS), (learned_exported, calls)]
    return dict(zip([exported, learned_exported], _serve_all(models, folder), strict=True))


@pytest.fixture(scope="session")
def learned_exported(tool_export) -> Path:
    """The version folder of `learned` exported behind the partitioned index `ALL`
    (audits the ops: core TF and TF Text only), by the export tool (`tool_export`)."""
    assert tool_export.code == 0, tool_export.out
    return tool_export.version
