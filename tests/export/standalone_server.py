"""The stand-in for TF Serving: run as a script in a fresh Python process.

    python tests/export/standalone_server.py SAVED_MODEL_DIR REQUESTS_JSON [DIR JSON ...]

Before TensorFlow is imported, Keras (both worlds), keras-hub / keras-nlp, TFRS and
this project are made unimportable, and TF Text is not imported as a Python package
(its package imports Keras): its op libraries are loaded directly, as TF Serving
links them. Then, for each SavedModel in turn (one fresh TensorFlow serves several,
as one TF Serving process serves several models), it lists the graph's ops (core =
registered by TensorFlow alone, tf_text = registered by the TF Text libraries,
unknown = neither), loads the SavedModel, calls each requested signature and prints
one JSON line:

    {"ops": {...}, "signatures": [...], "results": [...], "modules": [...]}

Requests and results carry tensors as {"dtype", "shape", "values"}; strings are
base64 (any bytes, invalid UTF-8 included).
"""

import json
import sys
from pathlib import Path

BLOCKED = ("keras", "keras_hub", "keras_nlp", "tf_keras", "tensorflow_recommenders",
           "tensorflow_text", "tfrec_sentiment", "tests")
for _name in BLOCKED:
    sys.modules[_name] = None  # `import keras` now fails: the model must not need it

import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402
from wire import decode, encode  # noqa: E402  (this folder: first on sys.path)


def graph_ops(path: Path) -> set[str]:
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    ops = set()
    for graph in proto.meta_graphs:
        functions = {f.signature.name for f in graph.graph_def.library.function}
        ops |= {node.op for node in graph.graph_def.node}
        for function in graph.graph_def.library.function:
            ops |= {node.op for node in function.node_def}
        ops -= functions
    return ops


def load_tf_text_ops() -> None:
    # The package name is blocked, so find its folder on sys.path by hand.
    for entry in sys.path:
        folder = Path(entry) / "tensorflow_text" / "python" / "ops"
        if folder.is_dir():
            for library in sorted(folder.glob("*.so")):
                tf.load_op_library(str(library))
            return
    raise RuntimeError("tensorflow_text's op libraries not found")


def main() -> None:
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2:
        raise SystemExit("usage: standalone_server.py SAVED_MODEL_DIR REQUESTS_JSON [...]")
    # Which ops TensorFlow alone registers: read for every model before TF Text loads.
    paths = [Path(a) for a in arguments[::2]]
    ops = [graph_ops(path) for path in paths]
    core = [{op for op in used if op_def_registry.get(op) is not None} for used in ops]
    load_tf_text_ops()
    for path, requests, used, registered in zip(paths, arguments[1::2], ops, core,
                                                strict=True):
        serve(path, json.loads(Path(requests).read_text()), used, registered)


def serve(path: Path, requests: list, ops: set[str], core: set[str]) -> None:
    """Loads one SavedModel, answers `requests` and prints its JSON line."""
    text = {op for op in ops - core if op_def_registry.get(op) is not None}
    model = tf.saved_model.load(str(path))
    results = []
    for request in requests:
        function = model.signatures[request["signature"]]
        inputs = {name: tf.constant(decode(spec)) for name, spec in request["inputs"].items()}
        results.append({name: encode(t) for name, t in function(**inputs).items()})
    print(json.dumps({
        "ops": {"core": sorted(core), "tf_text": sorted(text),
                "unknown": sorted(ops - core - text)},
        "signatures": sorted(model.signatures.keys()),
        "results": results,
        "modules": sorted({m.split(".")[0] for m, v in sys.modules.items()
                           if v is not None and m.split(".")[0] in BLOCKED}),
    }))


if __name__ == "__main__":
    main()
