"""Fixtures of the export tests: a tiny BERT, a tiny trained recommender, one export.

The tiny sentiment model's embedding width (8) matches the synthetic reviews' text
embeddings the tiny recommender was trained on, as one run's two models match.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recsys.trained_fixture import trained_full
from tfrec_sentiment.export.config import ExportConfig

TOP_K = 5
SEQUENCE_LENGTH = 32


@pytest.fixture(scope="session")
def tiny_sentiment():
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    config = SentimentConfig(preset="tiny", tiny_hidden_dim=8, tiny_heads=2,
                             sequence_length=SEQUENCE_LENGTH, bucket_boundaries=(8, 16, 32))
    return SentimentModel.from_config(config)


@pytest.fixture(scope="session")
def trained():
    return trained_full()


@pytest.fixture(scope="session")
def serving_module(tiny_sentiment, trained):
    from tfrec_sentiment.export.module import build_serving_module

    return build_serving_module(tiny_sentiment, trained, top_k=TOP_K)


@pytest.fixture(scope="session")
def export_config(tmp_path_factory) -> ExportConfig:
    return ExportConfig(root=str(tmp_path_factory.mktemp("saved_models")), top_k=TOP_K)


@pytest.fixture(scope="session")
def exported(tiny_sentiment, trained, export_config, tmp_path_factory) -> Path:
    """The version folder of one export, through the pipeline's entry point."""
    from tfrec_sentiment.export.saved_model import export_run

    run_dir = tmp_path_factory.mktemp("run")
    return export_run(run_dir, export_config, sentiment=tiny_sentiment, recommender=trained)
