"""OpenVINO batch scoring: the same scores as TensorFlow's, cached apart, refused cleanly."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.sentiment.conftest import NEGATIVE_TEXTS, NEUTRAL_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.inference import (
    ScoreCache,
    predict_sorted,
    score_texts,
    scoring_options,
)
from tfrec_sentiment.sentiment.openvino_runtime import check_runtime, resolve_runtime

TEXTS = POSITIVE_TEXTS + NEGATIVE_TEXTS + NEUTRAL_TEXTS + ["", "<b>ok</b> " * 30]
needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason="openvino is not installed (the [test] and [openvino] extras install it)")
needs_nncf = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None or importlib.util.find_spec("nncf") is None,
    reason="openvino or nncf is not installed (the [test] and [openvino] extras install them)")


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


@needs_nncf
def test_openvino_int8_keeps_the_answers_and_is_cached_apart(tiny_model, tmp_path):
    reference = score_texts(tiny_model, TEXTS, batch_size=4)
    cache = ScoreCache(tmp_path)
    score_texts(tiny_model, TEXTS[:4], cache=cache, runtime="openvino")
    scores = score_texts(tiny_model, TEXTS, batch_size=4, cache=cache, runtime="openvino_int8")
    assert cache.stats["hits"] == 0  # not read from the float graph's scores
    # int8 matmuls: close to float32, not equal (the tiny model's answers are near 1/3).
    np.testing.assert_allclose(scores.probabilities, reference.probabilities, atol=0.02)
    assert np.abs(scores.embedding - reference.embedding).max() > 0
    assert np.allclose(scores.probabilities.sum(axis=1), 1.0, atol=1e-3)
    # The empty text keeps the class prior and a zero embedding.
    np.testing.assert_allclose(scores.probabilities[-2], tiny_model.class_prior, atol=1e-6)
    assert not scores.embedding[-2].any()
    again = score_texts(tiny_model, TEXTS, batch_size=4, cache=cache, runtime="openvino_int8")
    np.testing.assert_array_equal(again.probabilities, scores.probabilities)


@needs_nncf
def test_openvino_int8_graph_is_kept_with_its_scores(tmp_path):
    """Every process scoring into one cache reads the graph that scored what it holds,
    whatever texts it would have been calibrated on itself."""
    from tfrec_sentiment.sentiment import openvino_runtime
    from tfrec_sentiment.sentiment.model import SentimentModel

    model = SentimentModel.from_config(SentimentConfig(
        preset="tiny", tiny_layers=1, tiny_hidden_dim=8, sequence_length=16,
        bucket_boundaries=(8, 16)))
    cache = ScoreCache(tmp_path)
    score_texts(model, TEXTS[:6], cache=cache, runtime="openvino_int8")  # calibrates
    saved = list(tmp_path.glob(f"*/{openvino_runtime.INT8_GRAPH}"))
    assert len(saved) == 1 and saved[0].with_suffix(".bin").exists()
    assert "-openvino_int8" in saved[0].parent.name
    expected = score_texts(model, TEXTS[6:], runtime="openvino_int8")  # the same graph
    openvino_runtime._COMPILED.clear()  # as a new process
    read_back = score_texts(model, TEXTS[6:], cache=cache, runtime="openvino_int8")
    np.testing.assert_array_equal(read_back.probabilities, expected.probabilities)
    openvino_runtime._COMPILED.clear()
    recalibrated = score_texts(model, TEXTS[6:], runtime="openvino_int8")  # other texts
    assert not np.array_equal(recalibrated.embedding, expected.embedding)
    # A process that quantised on its own texts first takes the cache's graph when it
    # scores into that cache.
    run = openvino_runtime.openvino_function(model, False, True, TEXTS[6:], saved[0])
    np.testing.assert_array_equal(
        predict_sorted(model, TEXTS[6:], 32, predict_fn=run).probabilities,
        expected.probabilities)


def test_calibration_sample_spreads_and_tops_up():
    from tfrec_sentiment.sentiment.openvino_runtime import calibration_sample

    texts = [f"review {i}" for i in range(1000)]
    sample = calibration_sample(texts, count=10)
    assert sample == [texts[i] for i in (0, 111, 222, 333, 444, 555, 666, 777, 888, 999)]
    topped = calibration_sample(texts[:3], count=8)
    assert topped[:3] == texts[:3] and len(topped) == 8
    assert all(text not in texts for text in topped[3:])  # demo reviews


@needs_nncf
def test_quantize_int8_puts_int8_on_the_matmuls(tiny_model):
    from tfrec_sentiment.sentiment.inference import forward_function
    from tfrec_sentiment.sentiment.openvino_runtime import (
        calibration_batches,
        calibration_sample,
        convert,
        quantize_int8,
    )

    converted = convert(forward_function(tiny_model))
    batches = calibration_batches(tiny_model, calibration_sample(TEXTS, 64))
    kinds = [op.get_type_name() for op in quantize_int8(converted, batches).get_ops()]
    assert kinds.count("FakeQuantize") >= 4  # at least Q, K, V and the output projection
    assert "FakeQuantize" not in [op.get_type_name() for op in converted.get_ops()]
    with pytest.raises(ValueError, match="at least one calibration batch"):
        quantize_int8(converted, [])


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
def test_openvino_int8_without_nncf_fails_at_once(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nncf" else real(name, *a))
    with pytest.raises(ConfigError, match="openvino and nncf packages"):
        SentimentConfig(inference_runtime="openvino_int8")
    assert SentimentConfig(inference_runtime="openvino").inference_runtime == "openvino"
    with pytest.raises(ModuleNotFoundError, match="nncf"):
        check_runtime("openvino_int8")


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


def test_a_copied_cache_keeps_its_int8_graph(tmp_path):
    """An erasure's copy of the score cache (`cache_edit.copy_scores`) carries the int8
    graph of a fingerprint it copies, so texts scored into the copy later come from
    the graph that scored the copied ones."""
    from tfrec_sentiment.sentiment.cache_edit import copy_scores
    from tfrec_sentiment.sentiment.inference import text_keys
    from tfrec_sentiment.sentiment.openvino_runtime import INT8_GRAPH
    from tfrec_sentiment.sentiment.scores import Scores

    cache = ScoreCache(tmp_path / "cache")
    for fingerprint in ("fp-openvino_int8", "fp"):
        cache.add(fingerprint, text_keys(["mine", "theirs"]),
                  Scores(np.ones([2, 3], np.float32), np.ones([2, 4], np.float32)))
    graph = tmp_path / "cache" / "fp-openvino_int8" / INT8_GRAPH
    graph.write_text("<net/>")
    graph.with_suffix(".bin").write_bytes(b"\x01\x02")
    copy = copy_scores(cache, tmp_path / "copy", text_keys(["theirs"]))
    copied = copy.directory / "fp-openvino_int8" / INT8_GRAPH
    assert copied.read_text() == "<net/>" and copied.with_suffix(".bin").read_bytes() == b"\x01\x02"
    assert not (copy.directory / "fp" / INT8_GRAPH).exists()
    assert len(copy.keys("fp-openvino_int8")) == 1
