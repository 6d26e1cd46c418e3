"""tfrec_sentiment: sentiment-aware recommendations in one TF Serving SavedModel.

Two Keras worlds share this process (see docs/design.md): the recommender side uses
TensorFlow Recommenders, which needs Keras 2 (`tf-keras`) as `tf.keras`; the
sentiment side uses keras-nlp / keras-hub, which needs Keras 3 (`import keras`).
`TF_USE_LEGACY_KERAS=1` must be set before TensorFlow first resolves `tf.keras`,
so this module sets it at import and refuses to run if that is already too late.

Example:

>>> import tfrec_sentiment  # first, before `import tensorflow`
>>> import tensorflow as tf
>>> tf.keras.__name__.startswith("tf_keras")
True
"""

import os
import sys

__version__ = "0.1.0"

_LEGACY_KERAS_VAR = "TF_USE_LEGACY_KERAS"


class KerasVersionError(ImportError):
    """`tf.keras` already resolved to Keras 3, so TFRS cannot run here."""


def _configure_keras_worlds() -> None:
    os.environ[_LEGACY_KERAS_VAR] = "1"
    if "tensorflow" not in sys.modules:
        return
    # TensorFlow was imported first. `tf.keras` is resolved lazily, on first
    # access, so the variable may still take effect; check what it resolved to.
    import tensorflow as tf

    version_fn = getattr(tf.keras, "version", None)  # only Keras 3 has it
    if version_fn is not None and version_fn().startswith("3."):
        raise KerasVersionError(
            "tfrec_sentiment needs tf.keras to be Keras 2 (tf-keras) for "
            "TensorFlow Recommenders, but TensorFlow was imported and tf.keras "
            f"already resolved to Keras {version_fn()}. Import tfrec_sentiment "
            "before tensorflow, or set TF_USE_LEGACY_KERAS=1 in the environment "
            "before starting Python."
        )


_configure_keras_worlds()
