import hashlib
import hmac

import pandas as pd
import pytest

from tfrec_sentiment.data import pseudonymize
from tfrec_sentiment.data.config import PSEUDONYMIZE_KEY_ENV

IDS = ["A2IBPI20UZIR0U", "A14VAT5EAX3D9S", "A2IBPI20UZIR0U", "user 3"]


def test_keyed_hash_is_stable_truncated_hmac():
    out = pseudonymize.pseudonymize_ids(IDS, key="k1")
    expected = "u_" + hmac.new(b"k1", IDS[1].encode(), hashlib.sha256).hexdigest()[:16]
    assert out[1] == expected
    assert out[0] == out[2] and len(set(out)) == 3
    assert list(pseudonymize.pseudonymize_ids(IDS, key=b"k1")) == list(out)


def test_different_keys_give_different_ids():
    first = pseudonymize.pseudonymize_ids(IDS, key="k1")
    second = pseudonymize.pseudonymize_ids(IDS, key="k2")
    assert not set(first) & set(second)


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv(PSEUDONYMIZE_KEY_ENV, "from-env")
    assert pseudonymize.key_available()
    assert list(pseudonymize.pseudonymize_ids(IDS)) == list(
        pseudonymize.pseudonymize_ids(IDS, key="from-env"))


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_a_clear_error(monkeypatch, key):
    monkeypatch.delenv(PSEUDONYMIZE_KEY_ENV, raising=False)
    assert not pseudonymize.key_available()
    with pytest.raises(pseudonymize.PseudonymKeyError, match=PSEUDONYMIZE_KEY_ENV):
        pseudonymize.pseudonymize_ids(IDS, key=key)


def test_prefix_length_and_frame():
    out = pseudonymize.pseudonymize_ids(IDS, key="k", prefix="p-", length=32)
    assert all(v.startswith("p-") and len(v) == 34 for v in out)
    with pytest.raises(ValueError, match="8..64"):
        pseudonymize.pseudonymize_ids(IDS, key="k", length=4)
    frame = pd.DataFrame({"user_id": pd.Series(IDS, dtype=object), "rating": [1, 2, 3, 4]})
    masked = pseudonymize.pseudonymize_users(frame, key="k")
    assert masked["user_id"].dtype == object and frame["user_id"].tolist() == IDS
    assert masked["user_id"].nunique() == 3 and masked["rating"].tolist() == [1, 2, 3, 4]
    assert not set(masked["user_id"]) & set(IDS)
    assert len(pseudonymize.pseudonymize_ids([], key="k")) == 0
