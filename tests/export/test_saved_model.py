"""The version folder TF Serving reads, and proof that it serves without this project.

The CI machine has no tensorflow_model_server: `standalone_server.py`, run in a fresh
process with Keras, keras-hub, TFRS and this package unimportable and only TF Text's
op libraries loaded, is the stand-in (docs/design.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import TOP_K
from tests.export.wire import decode, encode
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.explain import NO_MENTIONS
from tfrec_sentiment.export.module import SIGNATURE_NAMES
from tfrec_sentiment.export.ops import OpAuditError
from tfrec_sentiment.export.saved_model import (
    METADATA_FILE,
    MODELS_CONFIG,
    versions,
    write_version,
)
from tfrec_sentiment.export.versions import LOCK_FILE

SERVER = Path(__file__).with_name("standalone_server.py")
LONG = ("great sound, " * 8000).encode()  # ~100 KB
BAD_UTF8 = b"bad \xff\xfe cable \xc3("

REQUESTS = [
    ("serving_default", {"user_id": ["u001", "nobody"]}),
    ("recommend", {"user_id": ["u001", "u042", "nobody", "", "x" * 100_000, b"\xff\xfe"]}),
    ("rank", {"user_id": ["u001", "u042", "nobody", ""], "item_id": ["i003", "zz", "i010", ""]}),
    ("sentiment", {"text": ["great strings, love them", "", LONG, BAD_UTF8, "caf\u00e9 \u2603"]}),
    ("recommend_from_reviews", {
        "text": ["love these strings", "the cable broke", LONG, BAD_UTF8, "ok"],
        "user_index": np.array([0, 1, 1, -1, 0], np.int32),
        "rating": np.array([5, 0, 2, 3, 0], np.float32),
        "item_id": ["i003", "", "zzz", "", "i010"]}),
    # Known and unknown users and items (tests/export/conftest.py `tiny_profiles`),
    # then an empty batch.
    ("explain", {"user_id": ["u001", "nobody", " u002", "u001", ""],
                 "item_id": ["i003", "i003", "i010", "zzz", ""]}),
    ("explain", {"user_id": [], "item_id": []}),
]


def _tensor(values) -> tf.Tensor:
    if isinstance(values, np.ndarray):
        return tf.constant(values)
    return tf.constant([v if isinstance(v, bytes) else v.encode() for v in values], tf.string)


def _serve(version_dir: Path, tmp_path: Path, calls=REQUESTS) -> dict:
    """`calls` ((signature, {input: values}) pairs, as `REQUESTS`) answered by the
    stand-in server in a fresh process; its JSON line."""
    return _serve_all([(version_dir, calls)], tmp_path)[0]


def _serve_all(models: list[tuple[Path, list]], tmp_path: Path) -> list[dict]:
    """Each (version folder, calls) pair answered by the stand-in server, all in ONE
    fresh process (a fresh TensorFlow is most of a call's cost); their JSON lines."""
    arguments = []
    for number, (version_dir, calls) in enumerate(models):
        requests = [{"signature": name,
                     "inputs": {k: encode(_tensor(v)) for k, v in inputs.items()}}
                    for name, inputs in calls]
        path = tmp_path / f"requests-{number}.json"
        path.write_text(json.dumps(requests))
        arguments += [str(version_dir), str(path)]
    # TF Serving knows nothing of the Keras-world switch.
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, str(SERVER), *arguments],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()[-len(models):]
    assert len(lines) == len(models), result.stdout[-3000:]
    return [json.loads(line) for line in lines]


def test_version_folder_layout_assets_and_metadata(exported, export_config, tiny_sentiment):
    model_dir = Path(export_config.root) / export_config.model_name
    assert exported.parent == model_dir and exported.name.isdigit()
    assert (exported / "saved_model.pb").is_file() and (exported / "variables").is_dir()
    # No staging or deleting folder left; only the publish lock file stays hidden there.
    assert [p.name for p in model_dir.iterdir() if p.name.startswith(".")] in ([], [LOCK_FILE])
    vocabulary = (exported / "assets" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocabulary == tiny_sentiment.preprocessor.tokenizer.get_vocabulary()
    facts = json.loads((exported / "assets.extra" / METADATA_FILE).read_text())
    assert facts["version"] == int(exported.name) and facts["top_k"] == TOP_K
    assert set(facts["signatures"]) == {*SIGNATURE_NAMES, "explain"}  # the run has profiles
    assert facts["explain"]["served"] and facts["explain"]["aspects"] == 4
    assert facts["signatures"]["explain"]["outputs"] == {
        "aspects": {"dtype": "string", "shape": [-1, 5]},
        "mentions": {"dtype": "int32", "shape": [-1, 5]},
        "polarity": {"dtype": "float32", "shape": [-1, 5]},
        "sentence": {"dtype": "string", "shape": [-1]},
        "weight": {"dtype": "float32", "shape": [-1, 5]}}
    recommend = facts["signatures"]["recommend"]
    assert recommend["inputs"] == {"user_id": {"dtype": "string", "shape": [-1]}}
    assert recommend["outputs"]["item_ids"] == {"dtype": "string", "shape": [-1, TOP_K]}
    assert facts["ops"]["non_core_ops"] == sorted(
        ["CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets", "NormalizeUTF8",
         "RegexSplitWithOffsets"])
    assert facts["min_tf_serving"] == "2.12"
    assert facts["vocabulary"]["tokens"] == len(vocabulary)
    assert facts["exported_with"]["tensorflow"] == tf.__version__


def test_models_config_points_tf_serving_at_the_model_folder(exported, export_config):
    text = (exported.parent / MODELS_CONFIG).read_text()
    assert re.search(r'name: "tfrec_sentiment"\s+base_path: "/models/tfrec_sentiment"', text)
    assert re.search(r"model_version_policy \{\s+latest \{\s+num_versions: 1\s+\}", text)
    assert text.count("{") == text.count("}")


def test_a_fresh_process_without_keras_serves_every_signature_like_the_module(
        exported, serving_module, fresh_served):
    served = fresh_served[exported]  # every call of REQUESTS (tests/export/conftest.py)
    assert served["modules"] == []
    assert served["ops"]["unknown"] == []
    facts = json.loads((exported / "assets.extra" / METADATA_FILE).read_text())
    assert served["ops"]["tf_text"] == facts["ops"]["non_core_ops"]
    assert {*SIGNATURE_NAMES, "explain"} <= set(served["signatures"])
    assert len(served["results"]) == len(REQUESTS)
    explained, empty = served["results"][-2:]
    assert decode(explained["sentence"])[3] == NO_MENTIONS.encode()  # an unknown item
    assert decode(empty["aspects"]).shape == (0, 5) and decode(empty["sentence"]).shape == (0,)
    for (name, inputs), got in zip(REQUESTS, served["results"]):
        method = getattr(serving_module, "recommend" if name == "serving_default" else name)
        want = method(**{k: _tensor(v) for k, v in inputs.items()})
        assert set(got) == set(want), name
        for key, tensor in want.items():
            value = decode(got[key])
            if tensor.dtype == tf.string:
                np.testing.assert_array_equal(value, tensor.numpy(), err_msg=f"{name}/{key}")
            else:
                np.testing.assert_allclose(value, tensor.numpy(), atol=1e-5,
                                           err_msg=f"{name}/{key}")


def test_saved_model_cli_shows_the_signatures_names_and_dtypes(exported):
    result = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
         str(exported), "--all"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def\[|\Z)",
                             result.stdout, flags=re.S))
    assert set(SIGNATURE_NAMES) <= set(blocks)
    expected = {
        "recommend": {"user_id": "DT_STRING", "item_ids": "DT_STRING", "scores": "DT_FLOAT"},
        "rank": {"user_id": "DT_STRING", "item_id": "DT_STRING",
                 "predicted_rating": "DT_FLOAT", "score": "DT_FLOAT"},
        "sentiment": {"text": "DT_STRING", "probabilities": "DT_FLOAT", "label": "DT_STRING",
                      "embedding": "DT_FLOAT"},
        "recommend_from_reviews": {"text": "DT_STRING", "user_index": "DT_INT32",
                                   "rating": "DT_FLOAT", "item_id": "DT_STRING",
                                   "item_ids": "DT_STRING", "scores": "DT_FLOAT"},
        "explain": {"user_id": "DT_STRING", "item_id": "DT_STRING", "aspects": "DT_STRING",
                    "polarity": "DT_FLOAT", "mentions": "DT_INT32", "weight": "DT_FLOAT",
                    "sentence": "DT_STRING"},
    }
    for name, tensors in expected.items():
        for tensor, dtype in tensors.items():
            assert re.search(rf"\['{tensor}'\] tensor_info:\s+dtype: {dtype}", blocks[name]), \
                (name, tensor)
    assert re.search(r"\['item_ids'\] tensor_info:\s+dtype: DT_STRING\s+shape: "
                     rf"\(-1, {TOP_K}\)", blocks["serving_default"])


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def double(self, x):
        return {"y": 2.0 * x}


class _PythonCallback(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def call(self, x):
        return {"y": tf.py_function(lambda v: v + 1.0, [x], tf.float32)}


def test_versions_count_up_and_are_never_overwritten(tmp_path):
    config = ExportConfig(root=str(tmp_path), model_name="toy", num_versions=2)
    module = _Doubler()
    first = write_version(module, {"serving_default": module.double}, config)
    marker = first / "assets.extra" / METADATA_FILE
    before = marker.read_text()
    (tmp_path / "toy" / "notes").mkdir()  # non-integer folders do not count
    second = write_version(module, {"serving_default": module.double}, config)
    assert (first.name, second.name) == ("1", "2")
    assert marker.read_text() == before
    assert versions(tmp_path / "toy") == [1, 2]
    assert "num_versions: 2" in (tmp_path / "toy" / MODELS_CONFIG).read_text()
    loaded = tf.saved_model.load(str(second))
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant([1.5]))["y"],
                               [3.0])


def test_an_unservable_op_fails_the_export_by_name_and_writes_no_version(tmp_path):
    config = ExportConfig(root=str(tmp_path), model_name="toy")
    module = _PythonCallback()
    with pytest.raises(OpAuditError, match="EagerPyFunc"):
        write_version(module, {"serving_default": module.call}, config)
    assert versions(tmp_path / "toy") == []
    assert list((tmp_path / "toy").iterdir()) == []


def test_export_config_checks_its_fields():
    assert ExportConfig(base_path="/srv/m").serving_base_path == "/srv/m"
    with pytest.raises(ValueError, match="model_name"):
        ExportConfig(model_name="a/b")
    with pytest.raises(ValueError, match="top_k"):
        ExportConfig(top_k=0)
