"""Statistics fitted on the training examples: normalisation (mean, variance) and the
rating calibration of sentiment."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tfrec_sentiment.features.common import SIDES, SIMILARITY_GROUP


def rating_calibration(arrays: Mapping[str, np.ndarray]) -> list[float] | None:
    """Least-squares weights [3] mapping (p_neg, p_neu, p_pos) to stars; None without
    sentiment."""
    if "probabilities" not in arrays:
        return None
    weights, *_ = np.linalg.lstsq(arrays["probabilities"], arrays["rating"], rcond=None)
    return weights.astype(float).tolist()


def fit_statistics(examples: Mapping[str, np.ndarray]) -> dict:
    """side -> group -> {"mean": [dim], "variance": [dim]} of the examples' float
    features (histories and similarity profiles are not standardised)."""
    statistics: dict[str, dict] = {side: {} for side in SIDES}
    for key, value in examples.items():
        side, _, group = key.partition("_")
        if (side not in SIDES or value.ndim != 2 or group.startswith("history")
                or group == SIMILARITY_GROUP):
            continue
        variance = value.astype(np.float64).var(axis=0)
        # A constant feature (e.g. no helpful votes at all) would divide by zero.
        variance = np.where(variance > 1e-12, variance, 1.0)
        statistics[side][group] = {
            "mean": value.astype(np.float64).mean(axis=0).tolist(),
            "variance": variance.tolist(),
        }
    return statistics
