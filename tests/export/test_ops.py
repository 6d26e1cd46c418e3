"""The op audit: core TensorFlow and TF Text ops pass, anything else fails by name."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tfrec_sentiment.export.ops import (
    NEEDS_NEWER_TF_TEXT,
    TF_SERVING_FLOOR,
    OpAuditError,
    audit_ops,
    core_ops,
    saved_model_ops,
    tf_text_ops,
)

WORDPIECE_OPS = ("CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets", "RegexSplitWithOffsets")


def test_tf_text_ops_are_read_from_its_libraries_and_are_not_core():
    text = tf_text_ops()
    assert set(WORDPIECE_OPS) <= text
    assert "TFText>RoundRobinTrim" in text
    assert not text & core_ops()
    assert {"MatMul", "StatefulPartitionedCall", "LookupTableFindV2"} <= core_ops()


def test_core_and_tf_text_ops_pass_and_set_the_serving_floor():
    audit = audit_ops({"MatMul": {"graph"}, **{op: {"f"} for op in WORDPIECE_OPS}})
    assert audit.core_ops == ["MatMul"]
    assert audit.tf_text_ops == sorted(WORDPIECE_OPS)
    assert audit.min_tf_serving == TF_SERVING_FLOOR
    assert audit_ops({"TFText>RoundRobinTrim": {"f"}}).min_tf_serving == NEEDS_NEWER_TF_TEXT


def test_unknown_and_python_ops_fail_naming_the_op_and_its_function():
    with pytest.raises(OpAuditError, match=r"ScannSearchBatched .*neither.*__inference_index"):
        audit_ops({"MatMul": {"graph"}, "ScannSearchBatched": {"__inference_index_7"}})
    with pytest.raises(OpAuditError, match=r"EagerPyFunc \(calls back into Python"):
        audit_ops({"EagerPyFunc": {"__inference_f_1"}})


def test_saved_model_ops_lists_graph_and_library_ops_but_not_function_calls(tmp_path):
    module = tf.Module()
    module.double = tf.function(lambda x: tf.matmul(x, x),
                                input_signature=[tf.TensorSpec([2, 2], tf.float32)])
    tf.saved_model.save(module, str(tmp_path))
    uses = saved_model_ops(tmp_path)
    assert "MatMul" in uses
    assert all(not op.startswith("__inference") for op in uses)
    assert any(user.startswith("__inference") for user in uses["MatMul"])
