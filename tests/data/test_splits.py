import hashlib

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.data import schema, splits
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.demo import generate_demo
from tfrec_sentiment.text.clean import clean_reviews

DAY = 86_400


def _frame(rows):
    """rows: (user, item, day, text)."""
    users, items, days, texts = zip(*rows)
    return schema.to_canonical(pd.DataFrame({
        "user_id": users, "item_id": items, "rating": 4.0, "text": texts, "title": "",
        "helpful_votes": 0, "timestamp": np.array(days) * DAY, "verified": True,
        "source": "test", "line": np.arange(1, len(rows) + 1),
    }))


@pytest.fixture(scope="module")
def demo():
    return generate_demo(seed=3)


@pytest.fixture(scope="module")
def clean_demo(demo):
    # As ingestion leaves it: cleaned, exact duplicates dropped.
    kept, _ = clean_reviews(demo)
    return kept.drop_duplicates(["user_id", "item_id", "text"]).reset_index(drop=True)


def _pairs(frame, column):
    return set(zip(frame["user_id"], frame[column]))


def test_leave_last_out_by_time():
    frame = _frame([
        ("a", "i5", 5, "e"), ("a", "i1", 1, "a"), ("a", "i3", 3, "c"), ("a", "i2", 2, "b"),
        ("a", "i4", 4, "d"),
        ("b", "i1", 1, "x"), ("b", "i2", 2, "y"),  # too few: all train
        ("c", "i1", 7, "p"), ("c", "i2", 8, "q"), ("c", "i3", 9, "r"),  # exactly enough
    ])
    split = splits.leave_last_out(frame)
    assert split.test.set_index("user_id")["item_id"].to_dict() == {"a": "i5", "c": "i3"}
    assert split.validation.set_index("user_id")["item_id"].to_dict() == {"a": "i4", "c": "i2"}
    assert sorted(split.train["line"]) == [2, 3, 4, 6, 7, 8]
    assert split.train["line"].is_monotonic_increasing  # input order kept within a part
    only_test = splits.leave_last_out(frame, validation_per_user=0, test_per_user=2)
    assert sorted(only_test.test["item_id"][only_test.test["user_id"] == "a"]) == ["i4", "i5"]
    assert len(only_test.validation) == 0


def _blake(user, item):
    digest = hashlib.blake2b(f"{user}\x1f{item}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def test_equal_timestamps_break_by_documented_hash_not_row_order():
    rows = [("u", f"i{k}", 1, f"t{k}") for k in range(3)] + [
        ("u", f"j{k}", 9, f"s{k}") for k in range(4)]
    frame = _frame(rows)
    split = splits.leave_last_out(frame, validation_per_user=1)
    last_day = [r for r in rows if r[2] == 9]
    by_hash = sorted(last_day, key=lambda r: _blake(r[0], r[1]))
    assert split.test["item_id"].tolist() == [by_hash[-1][1]]
    assert split.validation["item_id"].tolist() == [by_hash[-2][1]]
    for seed in range(3):
        shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        again = splits.leave_last_out(shuffled, validation_per_user=1)
        assert again.test["item_id"].tolist() == split.test["item_id"].tolist()


def test_shared_item_or_text_rows_stay_together():
    frame = _frame([
        ("u", "i1", 1, "first"), ("u", "i2", 2, "second"), ("u", "i3", 3, "third"),
        ("u", "i4", 4, "same words"), ("u", "i5", 6, "same words"),  # a copy: one unit
        ("u", "i1", 5, "re-review of i1"),  # joins i1's unit, which now ends on day 5
    ])
    split = splits.leave_last_out(frame)
    assert sorted(split.test["item_id"]) == ["i4", "i5"]
    assert sorted(split.validation["item_id"]) == ["i1", "i1"]
    assert splits.leaked_pairs(split) == {"user_item": 0, "user_text": 0}
    units = splits.leak_units(frame)
    assert units[3] == units[4] and units[0] == units[5] and len(set(units)) == 4


def test_demo_split_properties(demo):
    split = splits.leave_last_out(demo)
    again = splits.leave_last_out(demo.sample(frac=1.0, random_state=0))
    for name in splits.PARTS:
        pd.testing.assert_frame_equal(
            getattr(split, name).sort_values("line").reset_index(drop=True),
            getattr(again, name).sort_values("line").reset_index(drop=True))
    lines = np.concatenate([part["line"] for part in split.parts.values()])
    assert sorted(lines) == sorted(demo["line"]) and sum(split.sizes.values()) == len(demo)
    held = pd.concat([split.validation, split.test])
    for column in ("item_id", "text"):
        assert not _pairs(held, column) & _pairs(split.train, column)
        assert not _pairs(split.test, column) & _pairs(split.validation, column)
    latest_train = split.train.groupby("user_id")["timestamp"].max()
    first_test = split.test.groupby("user_id")["timestamp"].min()
    assert (first_test >= latest_train.loc[first_test.index]).all()
    assert split.users["test"] == demo["user_id"].nunique()  # every demo user has >= 5
    assert splits.leaked_pairs(split) == {"user_item": 0, "user_text": 0}


def test_time_cutoff_explicit_and_quantile(demo):
    split = splits.time_cutoff(demo, validation_start="2017-06-01", test_start=1506816000)
    v, t = splits.parse_time("2017-06-01"), 1506816000  # 2017-10-01
    assert split.train["timestamp"].max() < v <= split.validation["timestamp"].min()
    assert split.validation["timestamp"].max() < t <= split.test["timestamp"].min()
    assert sum(split.sizes.values()) == len(demo)
    by_share = splits.time_cutoff(demo, validation_quantile=0.7, test_quantile=0.85)
    share = np.array([by_share.sizes[p] for p in splits.PARTS]) / len(demo)
    assert 0.6 < share[0] <= 0.7 and 0.1 < share[1] < 0.2
    # A day is never cut (rows that share a user's item or text follow their unit).
    solo = set(demo["line"][~demo.duplicated(["user_id", "text"], keep=False)
                            & ~demo.duplicated(["user_id", "item_id"], keep=False)])
    days = [set(part["timestamp"][part["line"].isin(solo)]) for part in by_share.parts.values()]
    assert not (days[0] & days[1]) and not (days[1] & days[2])
    no_validation = splits.time_cutoff(demo, validation_quantile=None)
    assert len(no_validation.validation) == 0 and len(no_validation.test) > 0
    with pytest.raises(ValueError, match="after test"):
        splits.time_cutoff(demo, validation_start="2017-12-01", test_start="2017-01-01")


def test_time_cutoff_moves_a_unit_to_its_latest_part():
    frame = _frame([("u", "i1", 1, "a"), ("u", "i2", 2, "b"), ("u", "i1", 9, "c"),
                    ("v", "i3", 1, "d"), ("v", "i4", 9, "e")])
    split = splits.time_cutoff(frame, validation_start=5 * DAY, test_start=8 * DAY)
    assert sorted(split.test["line"]) == [1, 3, 5]
    assert sorted(split.train["line"]) == [2, 4] and len(split.validation) == 0


def test_parse_time():
    assert splits.parse_time("2014-02-28") == 1393545600
    assert splits.parse_time("1393545600") == splits.parse_time(1393545600) == 1393545600
    with pytest.raises(ValueError, match="neither Unix seconds nor an ISO date"):
        splits.parse_time("last tuesday")


def test_split_reviews_dispatches_on_config(demo, clean_demo):
    config = DataConfig(split_validation_per_user=0, split_test_per_user=2)
    split = splits.split_reviews(clean_demo, config)
    assert len(split.validation) == 0
    assert split.test.groupby("user_id").size().max() == 2
    config = DataConfig(split="time_cutoff", split_test_start="2017-09-01",
                        split_validation_start=None, split_validation_quantile=0.5)
    split = splits.split_reviews(clean_demo, config)
    assert split.test["timestamp"].min() >= splits.parse_time("2017-09-01")
    from tfrec_sentiment.config import resolve

    overridden = resolve("demo", ["data.split=time_cutoff", "data.split_test_start=2017-09-01",
                                  "data.split_validation_quantile=0.5"]).data
    assert splits.split_reviews(clean_demo, overridden).sizes == split.sizes
    with pytest.raises(ValueError, match="split='random': choose one of leave_last_out"):
        splits.split_reviews(demo, DataConfig(split="random"))  # refused when built


def test_save_load_round_trip(demo, tmp_path):
    split = splits.leave_last_out(demo)
    loaded = splits.Split.load(split.save(tmp_path / "data"))
    for name in splits.PARTS:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(split, name))
    assert (tmp_path / "data" / "split.json").is_file()
    (tmp_path / "data" / "test.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="test.parquet"):
        splits.Split.load(tmp_path / "data")


@pytest.mark.large
@pytest.mark.real_data
def test_musical_instruments_leave_last_out(shared_data):
    import gzip
    import json

    path = shared_data / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    frame = schema.to_canonical(pd.DataFrame({
        "user_id": [r["reviewerID"] for r in records], "item_id": [r["asin"] for r in records],
        "rating": [r["overall"] for r in records], "text": [r["reviewText"] for r in records],
        "title": [r["summary"] for r in records], "helpful_votes": 0,
        "timestamp": [r["unixReviewTime"] for r in records], "verified": True,
        "source": "amazon2014", "line": np.arange(1, len(records) + 1),
    }))
    split = splits.leave_last_out(frame)
    users = frame["user_id"].nunique()
    assert split.users == {"train": users, "validation": users, "test": users, "cold": 0}
    assert splits.leaked_pairs(split) == {"user_item": 0, "user_text": 0}
    latest_train = split.train.groupby("user_id")["timestamp"].max()
    first_test = split.test.groupby("user_id")["timestamp"].min()
    assert (first_test >= latest_train.loc[first_test.index]).all()
