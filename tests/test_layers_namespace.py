"""`tfrec_sentiment.layers`: one namespace for the public layers, and the README example.

- The README's "Using the layers in your own model" block (the one after the marker
  `<!-- layers-example -->`) runs as written, so it cannot rot.
- Every exported name is the class of its stage module, registered under the package
  name in its own Keras world's registry (tf-keras, or Keras 3 for `layers.keras3`).
- Every registered class of the package is exported (the metric `MacroF1` and the
  training model `RecommenderModel` aside).
- `import tfrec_sentiment.layers` registers the tf-keras layers and imports no Keras 3
  and no keras-hub (a fresh process).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfrec_sentiment.layers as layers

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- layers-example -->"

# Exported name -> its home module, written out by hand.
TF_KERAS_HOMES = {
    "SentimentFusion": "tfrec_sentiment.features.fusion",
    "FeatureLookup": "tfrec_sentiment.features.lookup",
    "ReviewProfile": "tfrec_sentiment.features.profile",
    "UserTower": "tfrec_sentiment.recsys.towers",
    "ItemTower": "tfrec_sentiment.recsys.towers",
    "RatingHead": "tfrec_sentiment.recsys.head",
    "IdEmbedding": "tfrec_sentiment.recsys.id_embedding",
    "HistoryBag": "tfrec_sentiment.recsys.history_bag",
    "ProfilePath": "tfrec_sentiment.recsys.profile_path",
    "SimilarityProfile": "tfrec_sentiment.recsys.similarity_block",
    "CatalogueOneHot": "tfrec_sentiment.recsys.similarity_block",
}
KERAS3_HOMES = {
    "SentimentPreprocessor": "tfrec_sentiment.sentiment.preprocessor",
    "SingleSegmentPacker": "tfrec_sentiment.sentiment.preprocessor",
    "MaskedMeanPooling": "tfrec_sentiment.sentiment.pooling",
    "EmptyTextAnswer": "tfrec_sentiment.sentiment.empty_text",
    "TemperatureScaling": "tfrec_sentiment.sentiment.scorer",
    "BertInferenceEncoder": "tfrec_sentiment.sentiment.encoder",
}
# registered, but not layers: a metric, and the recommender's training model (recsys.model)
NOT_LAYERS = {"MacroF1", "RecommenderModel"}


def readme_example(readme: str) -> tuple[str, int]:
    """(code, line number of its first line) of the one block after MARKER."""
    blocks = list(re.finditer(re.escape(MARKER) + r"\n```python\n(.*?)^```", readme,
                              re.DOTALL | re.MULTILINE))
    assert len(blocks) == 1, f"README.md needs exactly one {MARKER} python block"
    return blocks[0].group(1), readme.count("\n", 0, blocks[0].start(1)) + 1


def test_readme_example_runs(tmp_path, monkeypatch):
    code, line = readme_example((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_layers_example"}
    # Padded so that a traceback names the README's own line numbers.
    exec(compile("\n" * (line - 1) + code, str(REPO_ROOT / "README.md"), "exec"), namespace)
    assert (tmp_path / "repeat.keras").is_file()
    assert int(namespace["model"].optimizer.iterations) == 1  # one step was trained
    fusion = namespace["restored"].get_layer("fusion")
    assert type(fusion) is layers.SentimentFusion
    assert fusion.statistics == {"rating": {"mean": [3.0, 1.0], "variance": [1.0, 0.25]}}
    np.testing.assert_allclose(fusion.get_weights()[0],
                               namespace["model"].get_layer("fusion").get_weights()[0])


def test_readme_example_is_found_exactly_once():
    code, line = readme_example(f"intro\n{MARKER}\n```python\nx = 1\n```\n")
    assert (code, line) == ("x = 1\n", 4)  # intro, marker, fence, code
    with pytest.raises(AssertionError, match="exactly one"):
        readme_example("```python\nx = 1\n```\n")


@pytest.mark.parametrize("name", sorted(TF_KERAS_HOMES))
def test_tf_keras_names_are_their_home_classes_and_registered(name):
    assert sorted(layers.__all__) == sorted(TF_KERAS_HOMES)
    cls = getattr(layers, name)
    assert cls is getattr(importlib.import_module(TF_KERAS_HOMES[name]), name)
    assert issubclass(cls, tf.keras.layers.Layer) and not issubclass(cls, keras.layers.Layer)
    assert tf.keras.utils.get_registered_name(cls) == f"tfrec_sentiment>{name}"
    assert tf.keras.utils.get_registered_object(f"tfrec_sentiment>{name}") is cls


@pytest.mark.parametrize("name", sorted(KERAS3_HOMES))
def test_keras3_names_are_their_home_classes_and_registered(name):
    keras3 = importlib.import_module("tfrec_sentiment.layers.keras3")
    assert sorted(keras3.__all__) == sorted(KERAS3_HOMES)
    cls = getattr(keras3, name)
    assert cls is getattr(importlib.import_module(KERAS3_HOMES[name]), name)
    assert issubclass(cls, keras.layers.Layer) and not issubclass(cls, tf.keras.layers.Layer)
    assert keras.saving.get_registered_name(cls) == f"tfrec_sentiment>{name}"
    assert keras.saving.get_registered_object(f"tfrec_sentiment>{name}") is cls


def test_every_registered_class_is_exported():
    # Read from the sources, so a new registered layer cannot be left out of the namespace.
    pattern = re.compile(r"register_keras_serializable\([^)]*\)\s*\nclass (\w+)")
    registered = set()
    for path in (REPO_ROOT / "tfrec_sentiment").rglob("*.py"):
        registered |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert registered - NOT_LAYERS == set(TF_KERAS_HOMES) | set(KERAS3_HOMES)
    assert NOT_LAYERS <= registered


def test_import_registers_tf_keras_layers_without_keras3():
    code = ("import sys\n"
            "import tfrec_sentiment.layers as layers\n"
            "import tensorflow as tf\n"
            "print(sorted(m for m in ('keras', 'keras_hub', 'keras_nlp') if m in sys.modules))\n"
            "print(tf.keras.utils.get_registered_object('tfrec_sentiment>UserTower')"
            " is layers.UserTower)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO_ROOT, env=env, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
