"""The cold-start hold-out of the split: a fixed hash share of users, held out whole."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.data import splits
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.demo import generate_demo


def test_user_hash_share_is_the_salted_sha256_of_the_normalised_id():
    digest = hashlib.sha256(b"tfrec_sentiment/cold-users/v1\x1fA1B2").digest()
    expected = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    shares = splits.user_hash_share(np.array(["A1B2", "\u00a0A1B2\t", "a1b2"]))
    assert shares[0] == shares[1] == pytest.approx(expected, abs=0)
    assert shares[2] != shares[0]  # ids are not case-folded


def test_hash_share_is_deterministic_and_close_to_the_share():
    ids = np.array([f"user{n}" for n in range(20_000)])
    shares = splits.user_hash_share(ids)
    assert np.array_equal(shares, splits.user_hash_share(ids))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(ids))
    assert np.array_equal(splits.user_hash_share(ids[order]), shares[order])
    assert 0.0 <= shares.min() and shares.max() < 1.0
    # Binomial(20000, 0.2): sd 0.0028; 0.01 is 3.5 sd.
    assert abs(np.mean(shares < 0.2) - 0.2) < 0.01
    assert abs(np.mean(shares < 0.5) - 0.5) < 0.012


def test_user_sample_mask_keeps_the_users_first_by_hash_whole():
    ids = np.array([f"user{n % 50}" for n in range(200)])  # 50 users, 4 rows each
    mask = splits.user_sample_mask(ids, 10)
    kept = np.unique(ids[mask])
    order = np.argsort(splits.user_hash_share(np.unique(ids)))
    assert set(kept) == set(np.unique(ids)[order[:10]])
    assert mask.sum() == 40  # every row of a kept user
    shuffled = np.random.default_rng(0).permutation(len(ids))
    assert np.array_equal(splits.user_sample_mask(ids[shuffled], 10), mask[shuffled])
    assert splits.user_sample_mask(ids, 50).all() and splits.user_sample_mask(ids, None).all()
    with pytest.raises(ValueError, match="max_users"):
        splits.user_sample_mask(ids, 0)


def _frame() -> pd.DataFrame:
    return generate_demo(seed=0, users=300, items=40)


def test_cold_users_are_held_out_whole_before_the_time_split():
    frame = _frame()
    split = splits.split_reviews(frame, DataConfig(cold_user_share=0.2))
    cold_users = set(split.cold["user_id"])
    shares = dict(zip(frame["user_id"], splits.user_hash_share(frame["user_id"].to_numpy())))
    assert cold_users == {u for u, s in shares.items() if s < 0.2}
    assert 0.12 < len(cold_users) / frame["user_id"].nunique() < 0.28
    for name in splits.PARTS:
        assert not cold_users & set(getattr(split, name)["user_id"]), name
    # Every row of a cold user is in `cold`, and no row is lost or doubled.
    assert len(split.cold) == int(frame["user_id"].isin(cold_users).sum())
    assert sum(split.sizes.values()) == len(frame)
    assert split.sizes["cold"] == len(split.cold) and split.users["cold"] == len(cold_users)
    # The time split of the others is the split of the frame without the cold users.
    rest = splits.leave_last_out(frame[~frame["user_id"].isin(cold_users)].reset_index(drop=True))
    for name in splits.PARTS:
        pd.testing.assert_frame_equal(getattr(split, name), getattr(rest, name))
    # The same users whatever the row order.
    shuffled = splits.split_reviews(frame.sample(frac=1.0, random_state=1), DataConfig())
    assert set(shuffled.cold["user_id"]) == cold_users


def test_time_cutoff_also_holds_cold_users_out():
    frame = _frame()
    split = splits.split_reviews(frame, DataConfig(split="time_cutoff", cold_user_share=0.3))
    held = set(split.cold["user_id"])
    assert held and all(not held & set(p["user_id"]) for p in split.parts.values())
    assert sum(split.sizes.values()) == len(frame)


def test_share_zero_is_off_and_bad_shares_are_refused():
    frame = _frame()
    split = splits.split_reviews(frame, DataConfig(cold_user_share=0.0))
    assert len(split.cold) == 0 and list(split.cold.columns) == list(frame.columns)
    assert sum(len(p) for p in split.parts.values()) == len(frame)
    for bad in (1.0, -0.1):
        with pytest.raises(ConfigError, match="cold_user_share"):
            DataConfig(cold_user_share=bad)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        splits.cold_user_mask(frame, 1.5)


def test_cold_part_saves_loads_and_old_folders_load_empty(tmp_path):
    split = splits.split_reviews(_frame(), DataConfig(cold_user_share=0.2))
    loaded = splits.Split.load(split.save(tmp_path / "data"))
    for name in splits.ALL_PARTS:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(split, name))
    summary = (tmp_path / "data" / "split.json").read_text()
    assert '"cold"' in summary
    (tmp_path / "data" / "cold.parquet").unlink()  # a folder written before cold users
    assert len(splits.Split.load(tmp_path / "data").cold) == 0


def test_cold_users_reach_no_feature_table():
    from tfrec_sentiment.features.config import FeatureConfig
    from tfrec_sentiment.features.tables import build_feature_tables

    split = splits.split_reviews(_frame(), DataConfig(cold_user_share=0.2))
    tables = build_feature_tables(split.train, None, None, FeatureConfig(
        use_sentiment=False, use_text=False, item_similarity=False))
    cold_users = set(split.cold["user_id"])
    assert cold_users and not cold_users & {str(u) for u in tables.ids["user"]}
    assert set(tables.ids["user"]) == set(split.train["user_id"])
