"""Tensors as JSON for the stand-in server: {"dtype", "shape", "values"}, strings base64.

Imported by the test (as `tests.export.wire`) and by `standalone_server.py` (as the
top-level module `wire`, its own folder being first on sys.path), so it must import
nothing but numpy and TensorFlow.
"""

import base64

import numpy as np
import tensorflow as tf


def encode(tensor: tf.Tensor) -> dict:
    """A tensor -> {"dtype", "shape", "values"}; string values base64 (any bytes)."""
    value = tensor.numpy()
    if tensor.dtype == tf.string:
        flat = [base64.b64encode(v).decode() for v in value.reshape(-1)]
    else:
        flat = value.reshape(-1).tolist()
    return {"dtype": tensor.dtype.name, "shape": list(value.shape), "values": flat}


def decode(spec: dict) -> np.ndarray:
    """The inverse of `encode`, as a numpy array (strings: an object array of bytes)."""
    if spec["dtype"] == "string":
        values = np.array([base64.b64decode(v) for v in spec["values"]], dtype=object)
    else:
        values = np.array(spec["values"], dtype=spec["dtype"])
    return values.reshape(spec["shape"])
