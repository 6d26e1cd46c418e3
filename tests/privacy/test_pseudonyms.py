"""The pseudonymous serving contract (privacy/pseudonyms.py, export.require_pseudonyms)."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.config import PSEUDONYMIZE_KEY_ENV
from tfrec_sentiment.privacy import (
    RawIdsError,
    check_privacy,
    check_pseudonymous,
    pseudonymize,
)

RAW = ["A2IBPI20UZIR0U", "\u00a0A14VAT5EAX3D9S\t", "user 3"]  # ids as a shop sends them


def test_pseudonymize_gives_the_training_time_pseudonyms():
    from tfrec_sentiment.data.prepare import prepare_reviews

    frame = pd.DataFrame({"user_id": RAW, "item_id": ["i1", "i2", "i3"], "rating": [5, 4, 1],
                          "text": ["great strings", "nice tuner", "broke at once"],
                          "timestamp": [1.4e9, 1.41e9, 1.42e9]})
    trained = prepare_reviews(frame, pseudonymize_key="shop-secret").reviews
    served = pseudonymize(RAW, "shop-secret")
    by_item = dict(zip(trained["item_id"], trained["user_id"]))
    assert [by_item[i] for i in ("i1", "i2", "i3")] == served.tolist()
    assert pseudonymize([" user 3 "], "shop-secret")[0] == served[2]  # same id rule
    assert pseudonymize(RAW, "other-key")[0] != served[0]
    check_pseudonymous(served)  # what a pseudonymous export accepts


def test_key_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(PSEUDONYMIZE_KEY_ENV, "shop-secret")
    assert pseudonymize(RAW).tolist() == pseudonymize(RAW, "shop-secret").tolist()


def test_export_refuses_raw_ids_naming_the_option(tmp_path):
    from tfrec_sentiment.export.config import ExportConfig
    from tfrec_sentiment.export.saved_model import ExportError, export_models

    # The check runs first, on the recommender's user vocabulary alone.
    users = np.array([*pseudonymize(RAW[:2], "k"), "A3RAWID"], dtype=object)
    recommender = types.SimpleNamespace(tables=types.SimpleNamespace(ids={"user": users}))
    config = ExportConfig(root=str(tmp_path / "models"), require_pseudonyms=True)
    with pytest.raises(ExportError, match=r"export\.require_pseudonyms=True: 1 of 3 user ids"
                                          r" .*not pseudonyms") as caught:
        export_models(None, recommender, config)
    assert "A3RAWID" not in str(caught.value)  # the message never quotes an id
    assert not (tmp_path / "models").exists()
    # The explain signature's aspect profiles are checked too.
    from tests.export.conftest import tiny_profiles

    recommender.tables.ids["user"] = users[:2]
    with pytest.raises(ExportError, match="2 of 2 user ids"):
        export_models(None, recommender, config, profiles=tiny_profiles())
    assert not (tmp_path / "models").exists()
    with pytest.raises(RawIdsError):
        check_pseudonymous(users)


def test_training_refuses_to_start_without_a_key(monkeypatch):
    config = config_lib.resolve("smoke", ["export.require_pseudonyms=true"])
    monkeypatch.delenv(PSEUDONYMIZE_KEY_ENV, raising=False)
    with pytest.raises(config_lib.ConfigError,
                       match=rf"export\.require_pseudonyms=True: .*{PSEUDONYMIZE_KEY_ENV}"):
        check_privacy(config)
    assert check_privacy(config, export=False) is None  # no export, no raw ids served
    monkeypatch.setenv(PSEUDONYMIZE_KEY_ENV, "shop-secret")
    assert check_privacy(config) is None  # and no key source: plain tables


def test_a_pseudonymous_export_serves_the_clients_pseudonyms_in_a_fresh_process(
        update_parent, parent_version, tmp_path):
    """Version 1 of the session's pseudonymous run (`update_parent`: trained with a key,
    exported with `export.require_pseudonyms=true`), served by the stand-in for TF
    Serving (tests/export/standalone_server.py): the pseudonym a client computes from
    a raw id reaches that user; the raw id itself is a stranger to the model."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the sentiment side's ops, in this process)

    from tests.export.test_saved_model import _serve
    from tests.export.wire import decode
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.features.tables import FeatureTables

    run, key = update_parent.run, update_parent.key
    assert config_lib.load(run / "config.json").export.require_pseudonyms
    check_pseudonymous(FeatureTables.load(run / "features").ids["user"])  # what it accepted
    # The raw id (as the shop knows it) of the user with the most training reviews.
    raw_ids = pd.read_csv(update_parent.logs.parent, dtype=str)["user_id"].unique()
    raw_of = dict(zip(pseudonymize(raw_ids, key), raw_ids))
    pseudonym = str(Split.load(run / "data").train["user_id"].value_counts().index[0])
    raw = raw_of[pseudonym]
    assert pseudonymize([raw], key)[0] == pseudonym and raw != pseudonym
    users = [pseudonym, raw, "nobody-at-all"]

    version = update_parent.saved / "shop" / "1"
    served = _serve(version, tmp_path, [("recommend", {"user_id": users})])
    got = {name: decode(tensor) for name, tensor in served["results"][0].items()}
    # `parent_version`: `version` loaded in this process (tests/conftest.py).
    want = parent_version.signatures["recommend"](user_id=tf.constant(users))
    np.testing.assert_array_equal(got["item_ids"], want["item_ids"].numpy())
    np.testing.assert_allclose(got["scores"], want["scores"].numpy(), atol=1e-5)
    # The raw id takes the unknown-user path (the stranger's answer); the pseudonym not.
    np.testing.assert_array_equal(got["item_ids"][1], got["item_ids"][2])
    np.testing.assert_allclose(got["scores"][1], got["scores"][2], atol=1e-6)
    assert not np.allclose(got["scores"][0], got["scores"][2], atol=1e-6)
