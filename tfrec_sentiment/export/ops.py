"""Op audit: every op a SavedModel runs must exist in a stock TF Serving binary.

Stock TF Serving links the core TensorFlow kernels and every TF Text op of the TF Text
release it pins (docs/design.md), and runs no Python. So an op is servable when it is

- a core TensorFlow op: built into TensorFlow itself, i.e. listed in `tf.raw_ops`
  (ops registered later by plugin libraries, such as TF Text or ScaNN, are not),
  and not one of the ops that call back into Python (`tf.py_function`,
  `tf.numpy_function`): the server has no interpreter; or
- a TF Text op: registered by one of `tensorflow_text`'s op libraries (read from the
  libraries themselves, not guessed from names).

Anything else fails the export with `OpAuditError`, naming the op and the function
that uses it. The TF Text ops found decide the oldest TF Serving release that can
load the model (`min_tf_serving`).

Example:

>>> audit = audit_ops({"MatMul": {"graph"}, "FastWordpieceTokenizeWithOffsets": {"f"}})
>>> audit.tf_text_ops, audit.min_tf_serving
(['FastWordpieceTokenizeWithOffsets'], '2.12')
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

# Core ops that run Python at call time: registered by TensorFlow, unservable.
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})

# Released TF Serving images pin TF Text 2.12.1 (tensorflow/serving workspace.bzl until
# PR #4057), which has the WordPiece ops (FastWordpieceTokenizeWithOffsets, CaseFoldUTF8,
# RegexSplitWithOffsets). Ops added to TF Text later need a server built from a newer
# TF Serving tree: keras-hub's MultiSegmentPacker emits RoundRobinTrim, which 2.12.1
# lacks (tensorflow/serving #2267); TF Serving's head pins TF Text 2.20.
TF_SERVING_FLOOR = "2.12"
NEEDS_NEWER_TF_TEXT = "a TF Serving build with TF Text >= 2.16 (no released image has it)"
TF_TEXT_AFTER_2_12 = frozenset({"TFText>RoundRobinTrim"})


class OpAuditError(ValueError):
    """The graph uses an op that stock TF Serving cannot run."""


@dataclasses.dataclass(frozen=True)
class OpAudit:
    """What a graph needs from the server.

    Attributes:
        core_ops: core TensorFlow ops used, sorted.
        tf_text_ops: TF Text ops used, sorted (the non-core ops).
        min_tf_serving: oldest TF Serving release with all of `tf_text_ops`.
    """

    core_ops: list[str]
    tf_text_ops: list[str]
    min_tf_serving: str

    def to_dict(self) -> dict:
        return {
            "core_op_count": len(self.core_ops),
            "non_core_ops": self.tf_text_ops,  # all from tensorflow_text, by the audit
            "min_tf_serving": self.min_tf_serving,
        }


def saved_model_ops(path: str | Path) -> dict[str, set[str]]:
    """Ops of a SavedModel's graph and of every function in its library.

    Args:
        path: the SavedModel folder (with `saved_model.pb`).

    Returns:
        op name -> names of the functions using it ("graph" for the top-level graph).
        Calls of library functions by name are not ops and are left out.
    """
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    uses: dict[str, set[str]] = {}
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {f.signature.name for f in library.function}
        nodes = [("graph", node.op) for node in meta_graph.graph_def.node]
        nodes += [(f.signature.name, node.op) for f in library.function for node in f.node_def]
        for owner, op in nodes:
            if op not in functions:
                uses.setdefault(op, set()).add(owner)
    return uses


def audit_ops(uses: Mapping[str, Iterable[str]]) -> OpAudit:
    """Checks that every op is core TensorFlow or TF Text.

    Args:
        uses: op name -> where it is used (see `saved_model_ops`).

    Returns:
        The OpAudit.

    Raises:
        OpAuditError: naming each offending op and (some of) its users.
    """
    core, text = core_ops(), tf_text_ops()
    bad = {op: sorted(users) for op, users in uses.items()
           if op in PYTHON_OPS or (op not in core and op not in text)}
    if bad:
        lines = [f"  {op} ({_reason(op)}; used in {', '.join(users[:3])})"
                 for op, users in sorted(bad.items())]
        raise OpAuditError("ops that stock TF Serving cannot run:\n" + "\n".join(lines))
    used_text = sorted(op for op in uses if op not in core)
    return OpAudit(sorted(op for op in uses if op in core), used_text, min_tf_serving(used_text))


def min_tf_serving(tf_text_ops_used: Iterable[str]) -> str:
    """Oldest TF Serving release whose bundled TF Text has all of these ops.

    The graph's core ops come from the exporting TensorFlow (recorded beside this);
    the floor here is the TF Text one.
    """
    if TF_TEXT_AFTER_2_12.intersection(tf_text_ops_used):
        return NEEDS_NEWER_TF_TEXT
    return TF_SERVING_FLOOR


@functools.cache
def core_ops() -> frozenset[str]:
    """Ops built into TensorFlow (its generated `tf.raw_ops`, no plugin ops)."""
    return frozenset(name for name in dir(tf.raw_ops) if not name.startswith("_"))


@functools.cache
def tf_text_ops() -> frozenset[str]:
    """Ops registered by tensorflow_text's op libraries (empty if it is absent)."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    spec = importlib.util.find_spec("tensorflow_text")
    if spec is None or spec.origin is None:
        return frozenset()
    names: set[str] = set()
    for library in sorted((Path(spec.origin).parent / "python" / "ops").glob("*.so")):
        handle = pywrap_tf_session.TF_LoadLibrary(str(library))
        try:
            op_list = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetOpList(handle))
        finally:
            pywrap_tf_session.TF_DeleteLibraryHandle(handle)
        names.update(op.name for op in op_list.op)
    return frozenset(names)


def _reason(op: str) -> str:
    if op in PYTHON_OPS:
        return "calls back into Python"
    return "neither a core TensorFlow op nor a TF Text op"
