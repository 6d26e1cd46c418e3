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
from pathlib import Path

import numpy as np
import tensorflow as tf

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


def test_saved_module_serves_raw_strings_with_core_and_tf_text_ops_only(tiny_model, tmp_path):
    export = Export(tiny_model.as_module())
    expected = export.score(tf.constant(TEXTS))
    tf.saved_model.save(export, str(tmp_path), signatures={"sentiment": export.score})
    served = serve(tmp_path, TEXTS)
    assert served["unknown_ops"] == []
    assert "TFText>RoundRobinTrim" not in served["text_ops"]
    assert set(served["text_ops"]) <= {"CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets",
                                       "RegexSplitWithOffsets", "NormalizeUTF8"}
    assert served["modules"] == []
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-5)
    np.testing.assert_allclose(served["embedding"], expected["embedding"], atol=1e-5)
    assert served["label"] == [v.decode() for v in expected["label"].numpy()]
    # The in-graph path agrees with batch inference (sorting and bucket padding).
    batch = tiny_model.score(TEXTS)
    np.testing.assert_allclose(batch.probabilities, expected["probabilities"], atol=1e-5)
