"""The REST `:predict` bodies shown in docs/serving.md (and README.md) work as written.

Each JSON body is decoded the way TF Serving's REST API decodes it (row format
"instances" or columnar "inputs"; `{"b64": ...}` for binary strings), fed to the
LOADED SavedModel, checked against the in-process module, and its answer encoded the
way TF Serving answers ("predictions" / "outputs"), which must be valid JSON.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = [REPO_ROOT / "docs" / "serving.md", REPO_ROOT / "README.md"]


def request_bodies() -> list[tuple[str, dict]]:
    """(where, body) of every ```json block with "instances" or "inputs"."""
    bodies = []
    for path in DOCS:
        if not path.is_file():
            continue
        for block in re.findall(r"```json\n(.*?)```", path.read_text(), flags=re.S):
            body = json.loads(block)
            if "instances" in body or "inputs" in body:
                bodies.append((f"{path.name}: {body.get('signature_name', 'serving_default')}",
                               body))
    return bodies


BODIES = request_bodies()


def _string(value) -> bytes:
    if isinstance(value, dict):
        assert set(value) == {"b64"}, value
        return base64.b64decode(value["b64"])
    assert isinstance(value, str), value
    return value.encode("utf-8")


def _tensor(values: list, spec: tf.TensorSpec) -> tf.Tensor:
    if spec.dtype == tf.string:
        return tf.constant([_string(v) for v in values], tf.string)
    return tf.constant(values, spec.dtype)


def decode_request(body: dict, function) -> dict[str, tf.Tensor]:
    """TF Serving's JSON -> named input tensors for the signature `function`."""
    specs = function.structured_input_signature[1]
    if "instances" in body:
        rows = body["instances"]
        named = all(isinstance(r, dict) and "b64" not in r for r in rows)
        if not named:  # bare values: the signature has exactly one input
            (name,) = specs
            columns = {name: rows}
        else:
            for row in rows:
                assert set(row) == set(specs), f"an instance must name {sorted(specs)}"
            columns = {name: [row[name] for row in rows] for name in specs}
    else:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            (name,) = specs
            columns = {name: columns}
        assert set(columns) == set(specs), f"inputs must be {sorted(specs)}"
    return {name: _tensor(values, specs[name]) for name, values in columns.items()}


def encode_response(body: dict, outputs: dict[str, tf.Tensor]) -> str:
    """TF Serving's answer: row format for "instances", columnar for "inputs"."""
    values = {k: _jsonable(v.numpy()) for k, v in outputs.items()}
    if "instances" in body:
        batch = {len(v) for v in values.values()}
        assert len(batch) == 1, "row format needs one batch size for every output"
        answer = {"predictions": [{k: v[i] for k, v in values.items()}
                                  for i in range(batch.pop())]}
    else:
        answer = {"outputs": values}
    return json.dumps(answer, allow_nan=False)


def _jsonable(value: np.ndarray):
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist() \
            if value.size else value.tolist()
    return value.tolist()


@pytest.fixture(scope="module")
def loaded(loaded_export):
    return loaded_export


def test_the_docs_show_a_request_for_every_signature():
    shown = {body.get("signature_name", "serving_default") for _, body in BODIES}
    assert shown >= {"serving_default", "recommend", "rank", "sentiment",
                     "recommend_from_reviews", "explain"}


@pytest.mark.parametrize("where, body", BODIES, ids=[w for w, _ in BODIES])
def test_each_documented_request_is_answered_by_the_loaded_model(
        where, body, loaded, serving_module):
    name = body.get("signature_name", "serving_default")
    function = loaded.signatures[name]
    inputs = decode_request(body, function)
    outputs = function(**inputs)
    answer = json.loads(encode_response(body, outputs))
    method = getattr(serving_module, "recommend" if name == "serving_default" else name)
    expected = method(**inputs)
    assert set(outputs) == set(expected)
    for key, tensor in expected.items():
        if tensor.dtype == tf.string:
            np.testing.assert_array_equal(outputs[key].numpy(), tensor.numpy())
        else:
            np.testing.assert_allclose(outputs[key].numpy(), tensor.numpy(), atol=1e-5)
    rows = answer["predictions"] if "predictions" in answer else None
    if rows is not None:
        assert len(rows) == len(next(iter(inputs.values())))
    else:
        users = int(max(inputs["user_index"].numpy(), default=-1)) + 1
        assert np.shape(answer["outputs"]["item_ids"])[0] == users
