"""prepare_reviews / load_dataset: read -> clean -> dedupe -> pseudonymise, all accounted."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.config import DataConfig
from tfrec_sentiment.data.prepare import (
    REPORT_FILE,
    DatasetNotFoundError,
    PreparedReviews,
    load_dataset,
    prepare_reviews,
)
from tfrec_sentiment.data.rejections import REJECTED_FILE
from tfrec_sentiment.data.schema import Rejection, validate_reviews


def _review(user: str, asin: str, text: str, **extra) -> dict:
    return {"reviewerID": user, "asin": asin, "overall": 4.0, "reviewText": text,
            "summary": "title", "unixReviewTime": 1400000000, **extra}


MIXED = [
    _review("U1", "B1", "Lovely scent, not too strong."),      # 1 kept
    _review("U1", "B1", "Lovely scent, not too strong."),      # 2 exact duplicate of 1
    _review("U1", "B2", "Lovely scent, not too strong."),      # 3 variant copy of 1
    _review("U2", "B2", "Write me at someone@example.com"),    # 4 kept, e-mail scrubbed
    _review("U3", "B3", "Too oily.", overall="five"),          # 5 rating_not_a_number
    _review("U4", "B3", "!!!!", summary=""),                   # 6 cleaning: no letters
    _review("U5", "B4", "Works &amp; smells fine.", vote="1,341"),  # 7 kept, unescaped
]


@pytest.fixture
def mixed_file(tmp_path):
    path = tmp_path / "beauty.json"
    lines = [json.dumps(r) for r in MIXED]
    lines.insert(5, '{"reviewerID": "U9", "asin": ')  # line 6: truncated JSON
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_line_lands_in_exactly_one_bucket(mixed_file):
    prepared = prepare_reviews(mixed_file, "amazon2018")
    report = prepared.report
    assert report.balanced and report.lines == 8
    assert report.rejected == {"rating_not_a_number": 1, "truncated_json": 1,
                               "spam_no_letters": 1}
    assert report.duplicates == 2
    assert report.extra["duplicate_kinds"] == {"exact_duplicate": 1, "variant_copy": 1}
    assert report.cleaning["email_scrubbed"] == 1 and report.cleaning["html_unescaped"] == 1
    kept = prepared.reviews["line"].tolist()
    rejected = [r.line for r in prepared.rejections]
    dropped = prepared.duplicates["line"].tolist()
    assert sorted(kept + rejected + dropped) == list(range(1, 9))
    assert kept == [1, 4, 8]
    assert prepared.reviews["helpful_votes"].tolist() == [0, 0, 1341]
    assert "someone@example.com" not in " ".join(prepared.reviews["text"])
    validate_reviews(prepared.reviews)


def test_variant_items_are_mapped_to_their_product(mixed_file):
    prepared = prepare_reviews(mixed_file, "amazon2018")
    mapping = dict(zip(prepared.item_map["source_item_id"], prepared.item_map["item_id"]))
    assert mapping["B2"] == mapping["B1"] == "B1"
    assert prepared.reviews.set_index("line").loc[4, "item_id"] == "B1"


def test_collapse_can_be_switched_off(mixed_file):
    prepared = prepare_reviews(mixed_file, "amazon2018", collapse_variants=False)
    assert prepared.report.extra["duplicate_kinds"] == {"exact_duplicate": 1}
    assert prepared.reviews["line"].tolist() == [1, 3, 4, 8]
    assert prepared.report.balanced


def test_save_and_load_round_trip(mixed_file, tmp_path):
    prepared = prepare_reviews(mixed_file, "amazon2018")
    out = prepared.save(tmp_path / "out")
    rejected = [Rejection(**json.loads(line))
                for line in (out / REJECTED_FILE).read_text().splitlines()]
    assert [(r.line, r.reason) for r in rejected] == [
        (5, "rating_not_a_number"), (6, "truncated_json"), (7, "spam_no_letters")]
    assert json.loads((out / REPORT_FILE).read_text())["lines"] == 8
    loaded = PreparedReviews.load(out)
    validate_reviews(loaded.reviews)
    pd.testing.assert_frame_equal(loaded.reviews, prepared.reviews)
    pd.testing.assert_frame_equal(loaded.item_map, prepared.item_map)
    pd.testing.assert_frame_equal(loaded.duplicates, prepared.duplicates)
    assert loaded.report.to_dict() == prepared.report.to_dict()
    assert loaded.rejections == prepared.rejections


def test_pseudonymisation_from_the_environment(mixed_file, monkeypatch):
    plain = prepare_reviews(mixed_file, "amazon2018")
    monkeypatch.setenv("MY_KEY_VAR", "s3cret")
    config = DataConfig(pseudonymize_key_env="MY_KEY_VAR")
    hidden = prepare_reviews(mixed_file, "amazon2018", config=config)
    assert hidden.report.extra["pseudonymized"]
    assert not set(hidden.reviews["user_id"]) & set(plain.reviews["user_id"])
    assert hidden.reviews["user_id"].nunique() == plain.reviews["user_id"].nunique()
    explicit = prepare_reviews(mixed_file, "amazon2018", pseudonymize_key="s3cret")
    assert explicit.reviews["user_id"].tolist() == hidden.reviews["user_id"].tolist()
    other = prepare_reviews(mixed_file, "amazon2018", pseudonymize_key="other")
    assert other.reviews["user_id"].tolist() != hidden.reviews["user_id"].tolist()


def test_a_table_goes_through_the_same_checks(tmp_path):
    frame = pd.DataFrame({
        "user_id": ["u1", "u2", None, "u4"], "item_id": ["i1", "i2", "i3", "i4"],
        "rating": [5.0, 9.0, 3.0, 2.0], "text": ["good", "bad", "meh", "poor"],
        "title": ["", "", "", ""], "helpful_votes": [0, 1, 2, 3],
        "timestamp": [14e8] * 4, "verified": pd.array([True, None, False, None],
                                                        dtype="boolean"),
        "source": "mine", "line": [10, 11, 12, 13]})
    prepared = prepare_reviews(frame)
    assert prepared.reviews["line"].tolist() == [10, 13]
    assert [(r.line, r.reason) for r in prepared.rejections] == [
        (11, "rating_out_of_range"), (12, "missing_user_id")]
    assert set(prepared.reviews["source"]) == {"mine"}
    assert prepared.report.balanced


def test_empty_file_is_a_clear_zero(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    prepared = prepare_reviews(path, "amazon2014")
    assert prepared.report.to_dict()["lines"] == 0 and prepared.report.balanced
    assert "empty" in prepared.report.extra["warnings"][0]
    prepared.save(tmp_path / "out")  # an empty table still writes every file
    assert PreparedReviews.load(tmp_path / "out").reviews.empty


def test_load_dataset_reads_a_file_and_the_demo(mixed_file):
    from_file = load_dataset(str(mixed_file), "amazon2018")
    assert from_file.report.lines == 8
    demo = load_dataset("demo", seed=1)
    validate_reviews(demo.reviews)
    assert demo.report.balanced and set(demo.reviews["source"]) == {"demo"}
    assert demo.report.lines > demo.report.accepted > 0  # the demo carries noise to clean


def test_load_dataset_names_the_fetch_command_when_not_downloaded(tmp_path):
    config = DataConfig(cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError,
                       match=r"tools/fetch_data\.py amazon2018 All_Beauty"):
        load_dataset("amazon2018/All_Beauty", config=config)
    with pytest.raises(DatasetNotFoundError, match="missing.json': no such file, and not 'demo'"):
        load_dataset(str(tmp_path / "missing.json"), config=config)
    with pytest.raises(DatasetNotFoundError, match="unknown data set source 'amazon1999'"):
        load_dataset("amazon1999/Books", config=config)


def test_data_config_overrides_parse():
    config = config_lib.resolve("demo", ["data.columns=user_id=uid,item_id=product",
                                         "data.collapse_variants=true",
                                         "data.format=csv"])
    assert config.data.columns == ("user_id=uid", "item_id=product")
    assert config.data.collapse_variants is True
    round_trip = config_lib.resolve("demo", ["data.collapse_variants=none"])
    assert round_trip.data.collapse_variants is None
