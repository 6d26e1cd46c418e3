"""OpenVINO batch scoring: the same scores as TensorFlow's, cached apart, refused cleanly."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.sentiment.conftest import NEGATIVE_TEXTS, NEUTRAL_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.inference import ScoreCache, score_texts, scoring_options
from tfrec_sentiment.sentiment.openvino_runtime import check_runtime, resolve_runtime

TEXTS = POSITIVE_TEXTS + NEGATIVE_TEXTS + NEUTRAL_TEXTS + ["", "<b>ok</b> " * 30]
needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason="openvino is not installed (the [test] and [openvino] extras install it)")


@needs_openvino
def test_openvino_float32_scores_equal_tensorflows(tiny_model):
    reference = score_texts(tiny_model, TEXTS, batch_size=4)
    scores = score_texts(tiny_model, TEXTS, batch_size=4, runtime="openvino")
    np.testing.assert_allclose(scores.probabilities, reference.probabilities, atol=1e-5)
    np.testing.assert_allclose(scores.embedding, reference.embedding, atol=1e-4)
    # The empty text gets the class prior and a zero embedding in both runtimes.
    np.testing.assert_allclose(scores.probabilities[-2], tiny_model.class_prior, atol=1e-6)
    assert not scores.embedding[-2].any()


@needs_openvino
def test_openvino_bfloat16_keeps_the_answers(tiny_model):
    reference = score_texts(tiny_model, TEXTS, batch_size=4)
    scores = score_texts(tiny_model, TEXTS, batch_size=4, runtime="openvino", bfloat16=True)
    # bfloat16 keeps 8 bits of mantissa: close, not equal (where the CPU has no bfloat16,
    # OpenVINO computes in float32 and the two are equal).
    np.testing.assert_allclose(scores.probabilities, reference.probabilities, atol=0.03)
    assert np.allclose(scores.probabilities.sum(axis=1), 1.0, atol=1e-3)


@needs_openvino
def test_openvino_scores_are_cached_apart_and_follow_new_weights(tmp_path):
    from tfrec_sentiment.sentiment.model import SentimentModel

    model = SentimentModel.from_config(SentimentConfig(
        preset="tiny", tiny_layers=1, tiny_hidden_dim=8, sequence_length=16,
        bucket_boundaries=(8, 16)))
    cache = ScoreCache(tmp_path)
    score_texts(model, TEXTS[:4], cache=cache)
    score_texts(model, TEXTS[:4], cache=cache, runtime="openvino")
    assert cache.stats == {"hits": 0, "misses": 8}  # not read from TensorFlow's scores
    head = model.output_dense
    head.set_weights([w + 0.5 for w in head.get_weights()])
    changed = score_texts(model, TEXTS[:4], runtime="openvino")
    np.testing.assert_allclose(changed.probabilities,
                               score_texts(model, TEXTS[:4]).probabilities, atol=1e-5)


def test_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="not one of auto, tensorflow, openvino"):
        check_runtime("onnx")
    with pytest.raises(ConfigError, match="inference_runtime"):
        SentimentConfig(inference_runtime="onnx")


def test_openvino_without_the_package_fails_at_once(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[openvino\]' in a clone"):
        SentimentConfig(inference_runtime="openvino")
    with pytest.raises(ModuleNotFoundError, match="openvino"):
        check_runtime("openvino")


@needs_openvino
def test_run_settings_carry_the_runtime():
    options = scoring_options(SentimentConfig(inference_runtime="openvino"))
    assert options["runtime"] == "openvino"
    assert scoring_options(SentimentConfig(inference_runtime="tensorflow"))[
        "runtime"] == "tensorflow"


def test_auto_is_openvino_where_installed_on_a_cpu_else_tensorflow(monkeypatch):
    import tensorflow as tf

    from tfrec_sentiment.sentiment import openvino_runtime

    monkeypatch.setattr(openvino_runtime, "openvino_available", lambda: True)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert resolve_runtime("auto") == "openvino"
    assert scoring_options(SentimentConfig(inference_runtime="auto"))["runtime"] == "openvino"
    assert resolve_runtime("tensorflow") == "tensorflow"
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert resolve_runtime("auto") == "tensorflow"
    monkeypatch.setattr(openvino_runtime, "openvino_available", lambda: False)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert resolve_runtime("auto") == "tensorflow"
    assert SentimentConfig(inference_runtime="auto").inference_runtime == "auto"  # no package
    assert SentimentConfig().inference_runtime == "tensorflow"  # the default


@needs_openvino
def test_compiled_graph_owns_its_weights(tmp_path):
    """The compiled graph holds a copy of the weights it was converted from.

    OpenVINO's frontend shares TensorFlow's variable buffers by default; once training
    or `set_weights` replaces a buffer and TensorFlow reuses the memory, a shared graph
    reads whatever lands there (in a fresh-clone suite, a distilled student's per-epoch
    validation came out as its teacher's).
    """
    import tensorflow as tf

    from tfrec_sentiment.sentiment.inference import openvino_function
    from tfrec_sentiment.sentiment.model import SentimentModel

    model = SentimentModel.from_config(SentimentConfig(
        preset="tiny", tiny_layers=1, tiny_hidden_dim=32, sequence_length=16,
        bucket_boundaries=(8, 16)))
    features = {name: np.asarray(value) for name, value in
                model.preprocessor(tf.constant(TEXTS[:4])).items()}
    run = openvino_function(model, bfloat16=False)
    before = run(features)["probabilities"]
    weights = model.classifier.get_weights()
    model.classifier.set_weights([np.full_like(w, 0.25) for w in weights])
    # Allocations that may land in the memory the old weights held.
    reuse = [tf.constant(np.full_like(w, 9.0)) + 0.0 for w in weights for _ in range(3)]
    np.testing.assert_allclose(run(features)["probabilities"], before, atol=1e-6)
    assert reuse
