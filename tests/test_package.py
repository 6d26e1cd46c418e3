"""The package's import-time contract: two Keras worlds in one process."""

import subprocess
import sys
import textwrap


def _run(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(env_extra or {})
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_import_selects_keras_2_for_tf_keras_and_keeps_keras_3():
    result = _run("""
        import tfrec_sentiment
        import tensorflow as tf
        import keras
        import tensorflow_recommenders as tfrs
        print(tf.keras.__name__, keras.__version__)
    """)
    assert result.returncode == 0, result.stderr
    tf_keras_name, keras_version = result.stdout.split()
    assert tf_keras_name.startswith("tf_keras")
    assert keras_version.startswith("3.")


def test_import_after_tensorflow_resolved_keras_3_fails_clearly():
    result = _run("""
        import tensorflow as tf
        tf.keras.layers  # resolves tf.keras to Keras 3
        import tfrec_sentiment
    """)
    assert result.returncode != 0
    assert "KerasVersionError" in result.stderr
    assert "Import tfrec_sentiment before tensorflow" in result.stderr


def test_import_after_tensorflow_but_before_tf_keras_is_accepted():
    result = _run("""
        import tensorflow as tf
        import tfrec_sentiment
        print(tf.keras.__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")
