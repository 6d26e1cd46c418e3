"""Readers: every format, written here line by line, read into the canonical table."""

from __future__ import annotations

import bz2
import datetime
import gzip
import json
import lzma
import zipfile

import pandas as pd
import pytest

from tfrec_sentiment.data.readers import (
    FORMAT_NAMES,
    ReaderError,
    guess_format,
    iter_review_chunks,
    parse_columns,
    read_reviews,
)
from tfrec_sentiment.data.schema import CANONICAL_COLUMNS, validate_reviews


def _utc(*args: int) -> int:
    return int(datetime.datetime(*args, tzinfo=datetime.UTC).timestamp())


def write_jsonl(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


AMAZON_2014 = [
    {"reviewerID": "A2IBPI20UZIR0U", "asin": "1384719342", "reviewerName": "cassandra",
     "helpful": [0, 0], "reviewText": "It filters out the pop sounds.", "overall": 5.0,
     "summary": "good", "unixReviewTime": 1393545600, "reviewTime": "02 28, 2014"},
    {"reviewerID": "A14VAT5EAX3D9S", "asin": "1384719342", "helpful": [13, 14],
     "reviewText": "Quite affordable.", "overall": 4.0, "summary": "Jake",
     "reviewTime": "03 16, 2013"},  # no unixReviewTime: falls back to reviewTime
]
AMAZON_2018 = [
    {"overall": 5.0, "verified": True, "reviewTime": "09 1, 2016", "reviewerID": "U1",
     "asin": "B0000530HU", "style": {"Size:": " 7.0 oz"}, "reviewText": "As advertised.",
     "summary": "Five Stars", "unixReviewTime": 1472688000, "vote": "1,341"},
    {"overall": 1.0, "verified": False, "reviewerID": "U2", "asin": "B0000530HU",
     "summary": "Smells awful", "unixReviewTime": 1376784000},  # no text, no vote
]
AMAZON_2023 = [
    {"rating": 4.0, "title": "Works", "text": "Good cable.", "images": [], "asin": "B01VAR1",
     "parent_asin": "B01PARENT", "user_id": "AGXV", "timestamp": 1588687728923,
     "helpful_vote": 2, "verified_purchase": True},
    {"rating": 2.0, "title": "Meh", "text": "Broke.", "asin": "B02SOLO", "parent_asin": None,
     "user_id": "AHQP", "timestamp": 1600000000000, "helpful_vote": 0,
     "verified_purchase": False},
]
YELP_CSV_TEXT = (
    "business_id,date,review_id,stars,text,type,user_id,cool,useful,funny\n"
    '9yKz,2011-01-26,fWKv,5,"Great breakfast.\n\nDo get the ""toast"".",review,rLtl,2,5,0\n'
    "ZRJw,2011-07-27,IjZ3,4,Nice place,review,0a2K,0,0,0\n"
)


def test_amazon_2014_fields(tmp_path):
    path = tmp_path / "reviews.json"
    write_jsonl(path, AMAZON_2014)
    result = read_reviews(path, "amazon2014")
    frame = result.reviews
    validate_reviews(frame)
    assert frame["helpful_votes"].tolist() == [0, 13]  # helpful[0] of [votes, total]
    assert frame["title"].tolist() == ["good", "Jake"]
    assert frame["timestamp"].tolist() == [1393545600, _utc(2013, 3, 16)]
    assert frame["verified"].isna().all()  # 2014 has no verified flag
    assert frame["line"].tolist() == [1, 2]
    assert set(frame["source"]) == {"amazon2014"}


def test_amazon_2018_vote_string_and_missing_fields(tmp_path):
    path = tmp_path / "reviews.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in AMAZON_2018)
    frame = read_reviews(path, "amazon2018").reviews
    assert frame["helpful_votes"].tolist() == [1341, 0]  # "1,341" and missing
    assert frame["text"].tolist() == ["As advertised.", ""]
    assert frame["verified"].tolist() == [True, False]
    assert frame["rating"].tolist() == [5.0, 1.0]


def test_amazon_2023_parent_asin_and_milliseconds(tmp_path):
    path = tmp_path / "All_Beauty.jsonl"
    write_jsonl(path, AMAZON_2023)
    frame = read_reviews(path, "amazon2023").reviews
    assert frame["item_id"].tolist() == ["B01PARENT", "B02SOLO"]  # asin when no parent
    assert frame["timestamp"].tolist() == [1588687728, 1600000000]
    assert frame["helpful_votes"].tolist() == [2, 0]
    assert frame["title"].tolist() == ["Works", "Meh"]
    assert frame["verified"].tolist() == [True, False]


@pytest.mark.parametrize("zipped", [False, True])
def test_yelp_csv_plain_and_zipped_with_multiline_text(tmp_path, zipped):
    path = tmp_path / "yelp.csv"
    path.write_text(YELP_CSV_TEXT, encoding="utf-8")
    if zipped:
        archive = tmp_path / "yelp.csv.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
            handle.write(path, "yelp.csv")
        path = archive
    result = read_reviews(path, "yelp")
    frame = result.reviews
    assert result.lines == 2
    assert frame["text"].tolist()[0] == 'Great breakfast.\n\nDo get the "toast".'
    assert frame["line"].tolist() == [2, 5]  # physical start lines: the text spans 3
    assert frame["helpful_votes"].tolist() == [5, 0]  # `useful`
    assert frame["timestamp"].tolist() == [_utc(2011, 1, 26), _utc(2011, 7, 27)]
    assert frame["item_id"].tolist() == ["9yKz", "ZRJw"]


def test_yelp_academic_json_lines(tmp_path):
    path = tmp_path / "yelp_academic_dataset_review.json"
    write_jsonl(path, [{"review_id": "r1", "user_id": "u1", "business_id": "b1", "stars": 3.0,
                        "useful": 4, "funny": 0, "cool": 1, "text": "Fine.",
                        "date": "2016-03-09 10:30:00"}])
    assert guess_format(path) == "yelp_json"
    frame = read_reviews(path, "yelp").reviews  # "yelp" tells JSON from CSV by content
    assert frame["timestamp"].tolist() == [_utc(2016, 3, 9, 10, 30)]
    assert frame[["user_id", "item_id", "helpful_votes"]].values.tolist() == [["u1", "b1", 4]]


def test_generic_csv_with_column_mapping(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("uid,product,stars,body,when,likes\n"
                    "u1,p1,4,Good,2020-01-02,3\n"
                    "u2,p2,1,Bad,1600000000,0\n", encoding="utf-8")
    columns = ("user_id=uid,item_id=product,rating=stars,text=body,timestamp=when,"
               "helpful_votes=likes")
    frame = read_reviews(path, "csv", columns).reviews
    assert frame["user_id"].tolist() == ["u1", "u2"]
    assert frame["timestamp"].tolist() == [_utc(2020, 1, 2), 1600000000]
    assert frame["helpful_votes"].tolist() == [3, 0]
    assert frame["title"].tolist() == ["", ""]
    assert list(frame.columns) == [*CANONICAL_COLUMNS, "line"]


def test_generic_parquet_with_millisecond_timestamps(tmp_path):
    path = tmp_path / "mine.parquet"
    pd.DataFrame({"uid": [7, 8], "asin": ["a", "b"], "score": [5, 3], "text": ["x y", "z w"],
                  "ts": [1_600_000_000_123, 1_600_000_100_999],
                  "verified": [True, None]}).to_parquet(path)
    columns = ["user_id=uid", "item_id=asin", "rating=score", "timestamp_ms=ts"]
    assert guess_format(path) == "parquet"
    result = read_reviews(path, "parquet", columns)
    frame = result.reviews
    assert frame["user_id"].tolist() == ["7", "8"]  # numeric ids become strings
    assert frame["timestamp"].tolist() == [1_600_000_000, 1_600_000_100]
    assert frame["verified"].tolist()[0] is True and pd.isna(frame["verified"].iloc[1])
    assert frame["line"].tolist() == [1, 2]


def test_generic_jsonl_defaults_to_canonical_names(tmp_path):
    path = tmp_path / "canonical.jsonl"
    write_jsonl(path, [{"user_id": "u", "item_id": "i", "rating": 2, "text": "t",
                        "timestamp": 1_500_000_000}])
    assert guess_format(path) == "jsonl"
    assert read_reviews(path, "jsonl").reviews["rating"].tolist() == [2.0]


@pytest.mark.parametrize("opener, suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2"),
                                            (lzma.open, ".xz"), (open, "")])
def test_compression_is_seen_through_whatever_the_name(tmp_path, opener, suffix):
    body = "".join(json.dumps(r) + "\n" for r in AMAZON_2014).encode()
    path = tmp_path / "reviews.data"  # a misleading name: content decides
    with opener(path, "wb") as handle:
        handle.write(body)
    assert guess_format(path) == "amazon2014"
    assert read_reviews(path).reviews["user_id"].tolist() == ["A2IBPI20UZIR0U",
                                                              "A14VAT5EAX3D9S"]


@pytest.mark.parametrize("records, expected", [
    (AMAZON_2014, "amazon2014"), (AMAZON_2018, "amazon2018"), (AMAZON_2023, "amazon2023")])
def test_guess_format_from_the_first_record(tmp_path, records, expected):
    path = tmp_path / "x.json"
    write_jsonl(path, records)
    assert guess_format(path) == expected


def test_guess_format_csv_and_refusal(tmp_path):
    yelp = tmp_path / "a.csv"
    yelp.write_text(YELP_CSV_TEXT)
    assert guess_format(yelp) == "yelp_csv"
    mystery = tmp_path / "b.txt"
    mystery.write_text('{"who": 1}\n')
    with pytest.raises(ReaderError, match=r"b\.txt, line 1: cannot tell"):
        guess_format(mystery)


def test_chunks_stream_the_file_and_add_up(tmp_path):
    path = tmp_path / "many.json"
    records = [dict(AMAZON_2014[0], reviewerID=f"U{i}") for i in range(25)]
    write_jsonl(path, records)
    chunks = list(iter_review_chunks(path, "amazon2014", chunk_size=10))
    assert [c.lines for c in chunks] == [10, 10, 5]
    lines = pd.concat([c.reviews for c in chunks])["line"].tolist()
    assert lines == list(range(1, 26))
    whole = read_reviews(path, "amazon2014", chunk_size=7).reviews
    assert whole["user_id"].tolist() == [r["reviewerID"] for r in records]


def test_column_mapping_errors_are_named():
    with pytest.raises(ValueError, match="unknown field 'userid'"):
        parse_columns("userid=uid")
    with pytest.raises(ValueError, match="not of the form"):
        parse_columns("user_id")
    assert parse_columns(["user_id = uid"]) == {"user_id": "uid"}


def test_every_format_name_is_readable(tmp_path):
    # Each advertised name resolves; the generic ones need nothing else.
    path = tmp_path / "empty.json"
    path.write_text("")
    for name in FORMAT_NAMES:
        if name == "parquet":
            continue
        assert read_reviews(path, name).lines == 0


def test_byte_order_marks_are_ignored(tmp_path):
    json_path = tmp_path / "bom.json"
    json_path.write_bytes(b"\xef\xbb\xbf" + json.dumps(AMAZON_2014[0]).encode() + b"\n")
    assert read_reviews(json_path, "amazon2014").reviews["line"].tolist() == [1]
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + YELP_CSV_TEXT.encode())
    assert guess_format(csv_path) == "yelp_csv"
    assert len(read_reviews(csv_path, "yelp_csv").reviews) == 2
