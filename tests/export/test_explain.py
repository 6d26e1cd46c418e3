"""The `explain` signature's module on hand-made aspect profiles (no model, no export).

The SavedModel side (signature in the export, stand-in server, REST examples) is
tested with the one export of tests/export/conftest.py, whose run folder holds the
same `tiny_profiles`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import tiny_profiles
from tfrec_sentiment import config as config_lib
from tfrec_sentiment.aspects.profiles import AspectProfiles
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.explain import (
    NO_MENTIONS,
    OUTPUTS,
    AspectExplainer,
    RowTable,
    explainer_from_config,
)
from tfrec_sentiment.export.run_parts import ASPECTS_DIR, ExportError, run_profiles


@pytest.fixture(scope="module")
def explainer() -> AspectExplainer:
    return explainer_from_config(tiny_profiles(), ExportConfig())


def _explain(explainer: AspectExplainer, users: list[str], items: list[str]) -> dict:
    out = explainer.explain(tf.constant(users, tf.string), tf.constant(items, tf.string))
    return {name: (np.char.decode(t.numpy().astype(bytes)) if t.dtype == tf.string
                   else t.numpy()) for name, t in out.items()}


def test_the_items_aspects_ranked_by_the_users_weight_then_mentions(explainer):
    out = _explain(explainer, ["u001", "someone", " u001\t"], ["i003", "i003", "i003"])
    # u001 writes about price (0.6) and the cable (0.4); sound (6 mentions) and the strap
    # (1) weigh 0 for them and follow by mentions. Width 5 > 4 aspects: one "" slot.
    assert out["aspects"][0].tolist() == ["price", "cable", "sound", "strap", ""]
    np.testing.assert_allclose(out["weight"][0], [0.6, 0.4, 0, 0, 0])
    np.testing.assert_allclose(out["polarity"][0], [0.4, -0.5, 0.7, 0.9, 0])
    assert out["mentions"][0].tolist() == [3, 2, 6, 1, 0]
    # The strap is praised by one mention only (explain_min_mentions = 2): not in the sentence.
    assert out["sentence"][0] == "praised for price and sound; some complain about the cable"
    # An unknown user gets the population's attention; ids are normalised like ingestion.
    assert out["aspects"][1].tolist() == ["sound", "price", "cable", "strap", ""]
    np.testing.assert_allclose(out["weight"][1], [0.4, 0.3, 0.2, 0.1, 0])
    assert out["sentence"][1] == "praised for sound and price; some complain about the cable"
    for name in OUTPUTS:
        np.testing.assert_array_equal(out[name][2], out[name][0], err_msg=name)


def test_users_without_attention_and_items_without_mentions_have_defined_answers(explainer):
    out = _explain(explainer, ["u002", "u001", "u001", ""], ["i010", "i001", "nothing", ""])
    # u002 never wrote about an aspect: the population's attention, as an unknown user.
    assert out["aspects"][0].tolist() == ["price", "strap", "", "", ""]
    np.testing.assert_allclose(out["weight"][0], [0.3, 0.1, 0, 0, 0])
    assert out["sentence"][0] == "reviews mention price and strap"  # 0.1 / -0.2: no verdict
    for row in (1, 2, 3):  # an item without mentions, an unknown item, ""
        assert out["aspects"][row].tolist() == [""] * 5
        assert out["mentions"][row].tolist() == [0] * 5
        assert not out["polarity"][row].any() and not out["weight"][row].any()
        assert out["sentence"][row] == NO_MENTIONS


def test_the_sentence_follows_the_export_configs_thresholds_and_width():
    profiles = tiny_profiles()
    lenient = explainer_from_config(profiles, ExportConfig(explain_min_mentions=1))
    strict = explainer_from_config(profiles, ExportConfig(explain_praise=0.8))
    narrow = explainer_from_config(profiles, ExportConfig(explain_aspects=2))
    users, items = ["u001"], ["i003"]
    assert _explain(lenient, users, items)["sentence"][0] == \
        "praised for price, sound and strap; some complain about the cable"
    assert _explain(strict, users, items)["sentence"][0] == "some complain about the cable"
    out = _explain(narrow, users, items)
    assert out["aspects"].tolist() == [["price", "cable"]]
    # The sentence speaks of the shown aspects only.
    assert out["sentence"][0] == "praised for price; some complain about the cable"


@pytest.mark.parametrize("order, expected", [
    ("weight_x_mentions", ["price", "sound", "cable"]),  # 0.5 x 3, 0.2 x 5, 0.3 x 2
    ("weight", ["price", "cable", "sound"]),
    ("mentions", ["sound", "price", "cable"]),
])
def test_the_aspects_order_follows_explain_order(order, expected):
    profiles = AspectProfiles(
        aspects=np.array(["sound", "price", "cable"]), item_ids=np.array(["i1"]),
        item_mentions=np.array([[5, 3, 2]], np.int32),
        item_polarity=np.array([[0.8, 0.5, -0.6]], np.float32),
        user_ids=np.array(["u1"]), user_attention=np.array([[0.2, 0.5, 0.3]], np.float32),
        population_attention=np.array([0.5, 0.3, 0.2], np.float32))
    explainer = explainer_from_config(profiles, ExportConfig(explain_order=order))
    # Eager (the Python function): the order is the point here, not the trace.
    out = type(explainer).explain.python_function(explainer, tf.constant(["u1"]),
                                                   tf.constant(["i1"]))
    assert [a.decode() for a in out["aspects"][0].numpy()][:3] == expected


def test_an_empty_batch_and_unequal_lengths(explainer):
    out = explainer.explain(tf.constant([], tf.string), tf.constant([], tf.string))
    assert {name: tuple(t.shape) for name, t in out.items()} == {
        "aspects": (0, 5), "polarity": (0, 5), "mentions": (0, 5), "weight": (0, 5),
        "sentence": (0,)}
    assert (out["mentions"].dtype, out["weight"].dtype) == (tf.int32, tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="same length"):
        explainer.explain(tf.constant(["u001", "u002"]), tf.constant(["i003"]))


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_row_tables_give_the_same_rows_dense_or_sparse(kind):
    counts = np.array([[0, 2, 0], [1, 0, 0], [0, 0, 0], [4, 5, 6]], np.int32)
    present = counts > 0
    table = RowTable({"counts": counts, "half": counts / 2}, present, kind=kind)
    rows = table.rows(tf.constant([3, -1, 0, 2, 1], tf.int64))
    np.testing.assert_array_equal(rows["counts"], counts[[3, 0, 0, 2, 1]] * [[1], [0], [1], [1],
                                                                            [1]])
    np.testing.assert_allclose(rows["half"], rows["counts"].numpy() / 2)
    assert table.rows(tf.constant([], tf.int64))["counts"].shape == (0, 3)


def test_tables_are_stored_by_density_and_an_empty_vocabulary_is_refused(explainer):
    assert explainer.facts["item_aspect_mentions"] == 6  # of 3 items x 4 aspects: dense
    assert (explainer.items.kind, explainer.users.kind) == ("dense", "csr")
    assert explainer.users.values["attention"].shape == (2,)  # u001's two non-zero shares
    assert RowTable({"x": np.ones((0, 2))}, np.ones((0, 2), bool)).kind == "csr"
    empty = AspectProfiles(aspects=np.array([], str), item_ids=np.array(["i1"]),
                           item_mentions=np.zeros((1, 0), np.int32),
                           item_polarity=np.zeros((1, 0), np.float32),
                           user_ids=np.array([], str), user_attention=np.zeros((0, 0), np.float32),
                           population_attention=np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="no aspect"):
        AspectExplainer(empty)


def test_run_profiles_says_why_explain_is_left_out(tmp_path):
    profiles, reason = run_profiles(tmp_path)
    assert profiles is None and "aspect_profiles.npz not found" in reason
    empty = dataclasses.replace(
        tiny_profiles(), aspects=np.array([], str), item_mentions=np.zeros((3, 0), np.int32),
        item_polarity=np.zeros((3, 0), np.float32), user_attention=np.zeros((2, 0), np.float32),
        population_attention=np.zeros(0, np.float32))
    empty.save(tmp_path / ASPECTS_DIR)
    profiles, reason = run_profiles(tmp_path)
    assert profiles is None and "has no aspect" in reason
    tiny_profiles().save(tmp_path / ASPECTS_DIR)
    profiles, reason = run_profiles(tmp_path)
    assert reason is None and profiles.aspects.tolist() == ["sound", "price", "cable", "strap"]
    (tmp_path / ASPECTS_DIR / "aspect_profiles.npz").write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="unreadable aspect profiles"):
        run_profiles(tmp_path)


@pytest.mark.parametrize("override, message", [
    ("export.explain_aspects=0", "explain_aspects=0: must be >= 1"),
    ("export.explain_praise=1.5", "explain_praise=1.5: must be <= 1"),
    ("export.explain_complain=0.2", "explain_complain=0.2: must be <= 0"),
    ("export.explain_min_mentions=0", "explain_min_mentions=0: must be >= 1"),
    ("export.explain_order=random", "explain_order='random': choose one of weight_x_mentions"),
])
def test_the_explain_settings_are_checked(override, message):
    with pytest.raises(ValueError, match=message):
        config_lib.apply_overrides(config_lib.RunConfig(), [override])
    with pytest.raises(ValueError, match="explain_complain=0.0: must be < explain_praise"):
        ExportConfig(explain_praise=0.0, explain_complain=0.0)
