"""Temperature scaling: the fit, the model's scorer and module, the saved folder, the skip."""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from tests.sentiment.conftest import NEGATIVE_TEXTS, POSITIVE_TEXTS
from tfrec_sentiment.sentiment import calibration
from tfrec_sentiment.sentiment.calibration import calibrate, fit_temperature, temper
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.datasets import LabelledTexts
from tfrec_sentiment.sentiment.model import SentimentModel

TEXTS = POSITIVE_TEXTS[:3] + NEGATIVE_TEXTS[:3]


def test_the_fit_minimises_the_held_out_log_likelihood():
    rng = np.random.default_rng(1)
    calibrated = temper(np.exp(rng.normal(size=(400, 3))), 1.0)
    labels = np.array([rng.choice(3, p=row) for row in calibrated])  # drawn from it
    probabilities = temper(calibrated, 1 / 3)  # over-confident: logits x 3
    t = fit_temperature(probabilities, labels)

    def nll(candidate: float) -> float:
        tempered = temper(probabilities, candidate)
        return -np.mean(np.log(tempered[np.arange(400), labels]))

    assert 2 < t < 5  # flattened back, about 3
    assert nll(t) <= min(nll(t * 0.9), nll(t * 1.1), nll(1.0))
    with pytest.raises(ValueError, match="disagree"):
        fit_temperature(probabilities, labels[:3])
    with pytest.raises(ValueError, match="no held-out text"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0))


def test_the_temperature_reaches_calibrate_scores_module_fingerprint_and_folder(tmp_path):
    # One tiny model for every step.
    model = SentimentModel.from_config(SentimentConfig(preset="tiny", tiny_layers=1,
                                                       tiny_hidden_dim=8, sequence_length=16))
    texts, labels = TEXTS * 6, np.array([2, 2, 2, 0, 0, 0] * 6)
    raw, uncalibrated_fingerprint = model.score(texts).probabilities, model.fingerprint()
    model.set_temperature(1.0)
    assert model.fingerprint() == uncalibrated_fingerprint  # T = 1 keeps old caches valid
    # calibrate: skipped below 30 texts (T = 1), else the fit on the raw scores, even
    # when a temperature was set before.
    few = LabelledTexts("few", TEXTS, labels[:6], binary=False)
    skipped = calibrate(model, few)
    assert skipped["temperature"] == 1.0 and "fewer than 30" in skipped["skipped"]
    model.set_temperature(3.0)
    fitted = calibrate(model, LabelledTexts("val", texts, labels, binary=False))
    assert fitted["fitted"] == pytest.approx(fit_temperature(raw, labels), rel=1e-3)
    assert model.temperature == fitted["temperature"]
    assert fitted["temperature"] == (1.0 if "kept" in fitted else fitted["fitted"])
    assert fitted["validation_ece_after"] <= fitted["validation_ece_before"] + 1e-9
    # The scorer and the exported module divide the logits by T; labels unchanged.
    model.set_temperature(0.2)
    expected = temper(raw[:len(TEXTS)], 0.2)
    scored = model.score(TEXTS).probabilities
    np.testing.assert_allclose(scored, expected, atol=1e-5)
    np.testing.assert_array_equal(scored.argmax(1), raw[:len(TEXTS)].argmax(1))
    served = model.as_module()(tf.constant(TEXTS))["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)
    assert model.fingerprint() != uncalibrated_fingerprint
    model.save(tmp_path / "model")
    restored = SentimentModel.load(tmp_path / "model")
    assert restored.temperature == pytest.approx(0.2)
    assert restored.fingerprint() == model.fingerprint()
    with pytest.raises(ValueError, match="positive number"):
        model.set_temperature(0.0)


class _Scored:
    """A stand-in model: fixed raw probabilities, the temperature applied on top."""

    def __init__(self, probabilities: np.ndarray):
        self.raw, self.temperature = probabilities, 1.0

    def score(self, texts, batch_size=32):
        return types.SimpleNamespace(probabilities=temper(self.raw, self.temperature))

    def set_temperature(self, t: float) -> None:
        self.temperature = t


def test_calibrate_keeps_t_1_where_the_fit_would_raise_the_validation_ece(monkeypatch):
    rng = np.random.default_rng(2)
    calibrated = temper(np.exp(rng.normal(size=(300, 3))), 1.0)
    labels = np.array([rng.choice(3, p=row) for row in calibrated])
    validation = LabelledTexts("val", ["x"] * 300, labels, binary=False)
    model = _Scored(temper(calibrated, 1 / 3))  # over-confident: the fit helps
    record = calibrate(model, validation)
    assert "kept" not in record and 2 < model.temperature == record["temperature"] < 5
    assert record["validation_ece_after"] < record["validation_ece_before"]
    # An ECE that rises after the fit (as for a model that always says "neutral").
    # calibrate() measures before, then after the fit: 0.10, then 0.15.
    measured = iter([0.10, 0.15])
    monkeypatch.setattr(calibration, "expected_calibration_error", lambda y, p: next(measured))
    model = _Scored(temper(calibrated, 1 / 3))
    record = calibrate(model, validation)
    assert model.temperature == record["temperature"] == 1.0
    assert record["fitted"] > 2 and "from 0.1000 to 0.1500" in record["kept"]
    assert record["validation_ece_after"] == 0.10  # what the kept model has
