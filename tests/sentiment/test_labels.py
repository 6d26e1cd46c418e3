"""Labels from stars or a column, the review text, class weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.sentiment.labels import (
    LABELS,
    LabelError,
    class_weights,
    labels_from_column,
    labels_from_frame,
    labels_from_stars,
    review_texts,
)


def test_stars_map_to_three_classes():
    stars = [1.0, 2.0, 3.0, 4.0, 5.0, 2.4, 3.6]
    assert labels_from_stars(stars).tolist() == [0, 0, 1, 2, 2, 0, 2]
    assert LABELS == ("negative", "neutral", "positive")


@pytest.mark.parametrize("bad", [0.0, 5.5, float("nan")])
def test_bad_stars_are_named(bad):
    with pytest.raises(LabelError, match="row 1"):
        labels_from_stars([4.0, bad])


def test_label_column_accepts_names_and_ids():
    frame = pd.DataFrame({"rating": [5.0] * 4, "mood": ["Negative", "neutral", 2, "1"]})
    assert labels_from_frame(frame, "mood").tolist() == [0, 1, 2, 1]
    with pytest.raises(LabelError, match="'mood' row 0"):
        labels_from_column(["great"], "mood")
    with pytest.raises(LabelError, match="not in"):
        labels_from_frame(frame, "missing")


def test_review_texts_join_title_and_text():
    frame = pd.DataFrame({"title": ["Junk", "Five stars!", "", "Fine"],
                          "text": ["It broke.", "Love it", "no title", ""]})
    assert review_texts(frame) == ["Junk. It broke.", "Five stars! Love it", "no title", "Fine"]
    assert review_texts(frame.drop(columns="title")) == ["It broke.", "Love it", "no title", ""]


def test_balanced_weights_give_every_class_the_same_total():
    labels = np.array([2] * 85 + [0] * 10 + [1] * 5)
    weights = class_weights(labels, "balanced")
    totals = weights * np.bincount(labels, minlength=3)
    np.testing.assert_allclose(totals, totals[0], rtol=1e-6)
    # Mean weight per row is 1: the loss stays on the unweighted scale.
    assert weights[labels].mean() == pytest.approx(1.0, rel=1e-6)


def test_sqrt_weights_are_milder_and_none_is_flat():
    labels = np.array([2] * 90 + [0] * 10)
    balanced, sqrt = class_weights(labels, "balanced"), class_weights(labels, "sqrt")
    assert balanced[1] == 0.0 and sqrt[1] == 0.0  # absent class: no rows, no weight
    assert balanced[0] / balanced[2] == pytest.approx(9.0, rel=1e-5)
    assert sqrt[0] / sqrt[2] == pytest.approx(3.0, rel=1e-5)
    np.testing.assert_allclose(class_weights(labels, "none"), 1.0)
