"""Temperature scaling: calibrated class probabilities from one scalar fitted on validation.

The classifier's probabilities feed the recommender as features and pseudo-ratings,
so they should mean what they say: of the reviews scored 0.8 positive, about 80%
should be positive. Fine-tuned transformers are often over-confident. Temperature
scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks", ICML) divides
the logits by one scalar T > 0 before the softmax, T fitted by minimising the
negative log-likelihood on held-out data. It never changes the arg-max (labels,
accuracy and macro-F1 stay the same), only the confidence.

- `fit_temperature(probabilities, labels)`: T from the uncalibrated probabilities
  [N, K] (log-probabilities are the logits up to a per-row constant, which the
  softmax ignores), by scipy's bounded scalar minimiser on log T.
- `temper(probabilities, t)`: softmax(log p / t), i.e. rows of p ** (1 / t)
  renormalised; `temper(calibrated, 1 / T)` recovers the uncalibrated rows.

The model keeps T in its metadata (`SentimentModel.temperature`) and its scorer
divides the logits by it (`scorer.TemperatureScaling`, a variable), so batch
scoring and the exported `sentiment` signature give the same calibrated numbers.

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> calibrated = temper(np.exp(rng.normal(size=(5000, 3))), 1.0)  # labels drawn from it:
>>> labels = np.array([rng.choice(3, p=row) for row in calibrated])
>>> over_confident = temper(calibrated, 0.25)  # logits x 4
>>> t = fit_temperature(over_confident, labels)
>>> round(t)  # undoes the sharpening
4
>>> np.array_equal(temper(over_confident, t).argmax(1), over_confident.argmax(1))
True
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.special

from tfrec_sentiment.sentiment.metrics import expected_calibration_error

# T is searched in [1/20, 20]: beyond, the probabilities are all but one-hot or uniform.
LOG_T_BOUNDS = (-np.log(20.0), np.log(20.0))
# Fewer held-out texts than this fit T to noise: calibration is skipped (T = 1).
MIN_CALIBRATION_TEXTS = 30
TINY = 1e-12  # floor of a probability before the log


def temper(probabilities: np.ndarray, t: float) -> np.ndarray:
    """softmax(log p / t) row-wise: float64 [N, K] -> float64 [N, K]."""
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), TINY, None))
    return scipy.special.softmax(logits / float(t), axis=1)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean negative log-likelihood of `labels` under
    softmax(log p / T).

    Args:
        probabilities: float [N, K], the model's uncalibrated probabilities.
        labels: int class ids [N] in range(K).

    Returns:
        T as a Python float, within [1/20, 20].

    Raises:
        ValueError: shapes disagree, or there is nothing to fit (N = 0).
    """
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), TINY, None))
    labels = np.asarray(labels, np.int64)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"probabilities {logits.shape} and labels {labels.shape} disagree")
    if not len(labels):
        raise ValueError("no held-out text to fit the temperature on")
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        scaled = logits / np.exp(log_t)
        return float(np.mean(scipy.special.logsumexp(scaled, axis=1) - scaled[rows, labels]))

    found = scipy.optimize.minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded",
                                           options={"xatol": 1e-4})
    return float(np.exp(found.x))


def calibrate(model, validation, batch_size: int = 32) -> dict:
    """Fits the temperature of `model` on the held-out `validation` texts and sets it.

    Args:
        model: a `SentimentModel` (its temperature is replaced).
        validation: `LabelledTexts` (LABELS numbering; binary sets use 0 and 2).
        batch_size: the scoring batch.

    The fitted T minimises the validation log-likelihood, which is not the ECE: where
    it would raise the validation ECE (a degenerate model, e.g. one that always says
    "neutral"), T = 1 is kept and the record says so ("kept").

    Returns:
        {"temperature", "fitted", "texts", "validation_ece_before",
        "validation_ece_after"} (after = with the temperature set); with fewer than
        `MIN_CALIBRATION_TEXTS` texts, {"temperature": 1.0, "skipped": why}, and the
        model's temperature is set to 1.
    """
    if len(validation.texts) < MIN_CALIBRATION_TEXTS:
        model.set_temperature(1.0)
        return {"temperature": 1.0, "texts": len(validation.texts),
                "skipped": f"fewer than {MIN_CALIBRATION_TEXTS} validation texts"}
    scored = model.score(validation.texts, batch_size=batch_size).probabilities
    raw = temper(scored, 1.0 / model.temperature)  # undo a temperature already set
    fitted = fit_temperature(raw, validation.labels)
    labels = np.asarray(validation.labels)
    before = expected_calibration_error(labels, raw)
    after = expected_calibration_error(labels, temper(raw, fitted))
    t = fitted if after <= before else 1.0
    model.set_temperature(t)
    record = {"temperature": t, "fitted": fitted, "texts": len(labels),
              "validation_ece_before": before, "validation_ece_after": min(after, before)}
    if t != fitted:
        record["kept"] = (f"uncalibrated: T = {fitted:.3g} would raise the validation ECE "
                          f"from {before:.4f} to {after:.4f}")
    return record
