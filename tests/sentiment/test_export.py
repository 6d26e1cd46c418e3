"""The in-graph function, saved with tf.saved_model and served by plain TensorFlow.

The stand-in for TF Serving (docs/design.md): a fresh process that imports only
`tensorflow` and `tensorflow_text` loads the SavedModel, calls it on raw strings, and
lists every op of the graph and its function library; all must be core TF ops or TF
Text ops, and keras-hub's `TFText>RoundRobinTrim` must not be among them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfrec_sentiment.sentiment.empty_text import NO_TEXT_LABEL

# The empty-text answer (tests/sentiment/test_empty_text.py): a class prior, and texts
# that are empty, whitespace only, or emoji only.
PRIOR = [0.1, 0.3, 0.6]
EMPTY = ["", "   ", "\u3000\t\r\n"]
EMOJI = ["\U0001F44D" * 3, "\U0001F44D", "\U0001F60D", "\U0001F621\U0001F44E", "\u2b50" * 5]
EMPTY_TEXTS = EMPTY + EMOJI + ["great strings, love them"]
TEXTS = ["great strings, love them", "the cable broke", "", "ok " * 300, "caf\u00e9 \u2603"]

SERVE = r"""
import json, sys
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

path, texts = sys.argv[1], json.loads(sys.argv[2])
proto = saved_model_pb2.SavedModel()
proto.ParseFromString(open(path + "/saved_model.pb", "rb").read())
ops = set()
for graph in proto.meta_graphs:
    ops |= {node.op for node in graph.graph_def.node}
    for function in graph.graph_def.library.function:
        ops |= {node.op for node in function.node_def}
core = {op for op in ops if op_def_registry.get(op) is not None}
import tensorflow_text  # noqa: F401  (registers the TF Text ops)
text_ops = {op for op in ops - core if op_def_registry.get(op) is not None}
loaded = tf.saved_model.load(path)
out = loaded.signatures["sentiment"](text=tf.constant(texts))
print(json.dumps({
    "probabilities": out["probabilities"].numpy().tolist(),
    "embedding": out["embedding"].numpy().tolist(),
    "label": [v.decode() for v in out["label"].numpy()],
    "text_ops": sorted(text_ops), "unknown_ops": sorted(ops - core - text_ops),
    # `import tensorflow` itself imports keras; the model must need nothing more.
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                      ("keras_hub", "keras_nlp", "tfrec_sentiment", "tensorflow_recommenders")),
}))
"""


class Export(tf.Module):
    """What the export helper builds: the sentiment module inside its own tf.Module."""

    def __init__(self, sentiment):
        super().__init__()
        self.sentiment = sentiment

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def score(self, text):
        return self.sentiment(text)


def serve(path: Path, texts: list[str]) -> dict:
    # A clean environment: TF Serving knows nothing of the Keras-world switch.
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", SERVE, str(path), json.dumps(texts)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def prior_model():
    """The tiny model with a class prior (the empty-text answer, `empty_text.py`)."""
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    config = SentimentConfig(preset="tiny", tiny_layers=1, tiny_hidden_dim=8, sequence_length=32,
                             bucket_boundaries=(8, 16, 32))
    built = SentimentModel.from_config(config)
    built.set_class_prior(PRIOR)
    return built


@pytest.fixture(scope="module")
def served(prior_model, tmp_path_factory) -> types.SimpleNamespace:
    """One SavedModel of `prior_model`, served once in a fresh process for both tests:
    `TEXTS` first, then `EMPTY_TEXTS` (saving and a fresh TensorFlow are most of the cost).
    """
    export = Export(prior_model.as_module())
    path = tmp_path_factory.mktemp("sentiment_export")
    expected = export.score(tf.constant(TEXTS))
    tf.saved_model.save(export, str(path), signatures={"sentiment": export.score})
    out = serve(path, TEXTS + EMPTY_TEXTS)
    n = len(TEXTS)
    rows = {key: out[key] for key in ("probabilities", "embedding", "label")}
    return types.SimpleNamespace(
        expected=expected, graph=out, texts={key: value[:n] for key, value in rows.items()},
        empty={key: value[n:] for key, value in rows.items()})


def test_saved_module_serves_raw_strings_with_core_and_tf_text_ops_only(prior_model, served):
    expected = served.expected
    assert served.graph["unknown_ops"] == []
    assert "TFText>RoundRobinTrim" not in served.graph["text_ops"]
    assert set(served.graph["text_ops"]) <= {"CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets",
                                             "RegexSplitWithOffsets", "NormalizeUTF8"}
    assert served.graph["modules"] == []
    np.testing.assert_allclose(served.texts["probabilities"], expected["probabilities"],
                               atol=1e-5)
    np.testing.assert_allclose(served.texts["embedding"], expected["embedding"], atol=1e-5)
    assert served.texts["label"] == [v.decode() for v in expected["label"].numpy()]
    # The in-graph path agrees with batch inference (sorting and bucket padding).
    batch = prior_model.score(TEXTS)
    np.testing.assert_allclose(batch.probabilities, expected["probabilities"], atol=1e-5)


def test_exported_signature_gives_the_same_numbers_as_batch_scoring(prior_model, served):
    # (tests/sentiment/test_empty_text.py's export case, sharing this module's export.)
    served, batch = served.empty, prior_model.score(EMPTY_TEXTS)
    np.testing.assert_allclose(served["probabilities"], batch.probabilities, atol=1e-5)
    np.testing.assert_allclose(served["embedding"], batch.embedding, atol=1e-5)
    assert served["label"] == batch.labels
    n = len(EMPTY)
    # A fresh process: the prior is in the SavedModel.
    np.testing.assert_allclose(served["probabilities"][:n], [PRIOR] * n, atol=1e-7)
    assert served["label"][:n] == [NO_TEXT_LABEL] * n
    # Emoji are words now: no two emoji texts share one [UNK] answer. The embeddings
    # tell them apart (the tiny model's random head gives near-equal probabilities).
    emoji_rows = np.array(served["embedding"][n:n + len(EMOJI)])
    gaps = np.abs(emoji_rows[:, None, :] - emoji_rows[None, :, :]).max(axis=-1)
    assert gaps[~np.eye(len(EMOJI), dtype=bool)].min() > 1e-3
