"""The reader cases of ../shared/cases, each read from there AND rebuilt here.

- long_field_multiline.csv: a valid 154,000-character review over 2,001 lines must not
  make any reader lose record boundaries (every container, every compression);
- seconds_as_ms_*: times in the wrong unit are rejected with the date they would be,
  and a file whose times mostly look like another unit gets a warning naming it;
- cp1252.csv: records that are not UTF-8 are rejected with a warning naming the likely
  encoding, and `encoding="cp1252"` reads them all.
"""

from __future__ import annotations

import bz2
import csv
import datetime
import gzip
import io
import json
import lzma
import zipfile

import pandas as pd
import pytest

from tfrec_sentiment.data.readers import read_reviews

YELP_HEADER = ["business_id", "date", "review_id", "stars", "text", "type", "user_id",
               "cool", "useful", "funny"]
LONG_LINE = "We came on a Friday, the place was packed, and the host said twenty minutes."
LONG_TEXT = "\n".join([LONG_LINE] * 2000) + "\n"  # 154,000 characters, over 131,072
USERS = ["u_1", "u_2", "u_3", "u_4"]


def _yelp_rows(long_text: str = LONG_TEXT) -> list[list[str]]:
    return [
        ["b_1", "2015-01-01", "r_1", "4", "Lovely brunch, friendly staff.", "review", "u_1",
         "0", "1", "0"],
        ["b_2", "2015-01-02", "r_2", "1", long_text, "review", "u_2", "0", "7", "0"],
        ["b_3", "2015-01-03", "r_3", "5", 'Great coffee, "best" croissant.', "review", "u_3",
         "0", "0", "0"],
        ["b_1", "2015-01-04", "r_4", "3", "Average, nothing special.", "review", "u_4", "0",
         "0", "0"],
    ]


def long_field_csv() -> bytes:
    """The case rebuilt: a Yelp CSV whose 2nd review is 154,000 chars over 2,001 lines."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([YELP_HEADER, *_yelp_rows()])
    return buffer.getvalue().encode("utf-8")


def long_field_jsonl() -> bytes:
    """The same four reviews as Yelp academic JSON lines (the long one on ONE line)."""
    return "".join(json.dumps(dict(zip(YELP_HEADER, row))) + "\n"
                   for row in _yelp_rows()).encode("utf-8")


def _write(tmp_path, name: str, body: bytes, packing: str):
    path = tmp_path / f"{name}.{packing}" if packing != "plain" else tmp_path / name
    if packing == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, body)
    else:
        opener = {"plain": open, "gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[packing]
        with opener(path, "wb") as handle:
            handle.write(body)
    return path


def _assert_all_four_kept(result, lines: list[int]) -> None:
    assert result.lines == 4  # records, never fragments
    assert result.rejections == []
    assert result.reviews["user_id"].tolist() == USERS
    assert result.reviews["line"].tolist() == lines
    text = result.reviews["text"].tolist()[1]
    assert len(text) == 154_000 and text == LONG_TEXT


# --- long fields: no reader loses record boundaries ----------------------------------------


def test_shared_long_field_case_reads_four_records(shared_cases):
    result = read_reviews(shared_cases / "long_field_multiline.csv")
    assert result.format == "yelp_csv"
    assert result.lines == 4 and result.rejections == []
    assert result.reviews["user_id"].tolist() == USERS  # u_3 is no longer lost
    assert result.reviews["line"].tolist() == [2, 3, 2004, 2005]
    assert len(result.reviews["text"].iloc[1]) == 154_000


@pytest.mark.parametrize("packing", ["plain", "gz", "bz2", "xz", "zip"])
def test_long_quoted_csv_field_keeps_sync_in_every_compression(tmp_path, packing):
    path = _write(tmp_path, "yelp.csv", long_field_csv(), packing)
    result = read_reviews(path, "yelp")
    _assert_all_four_kept(result, [2, 3, 2004, 2005])  # the long text spans lines 3-2003


@pytest.mark.parametrize("packing", ["plain", "gz"])
def test_long_json_line_is_one_record(tmp_path, packing):
    path = _write(tmp_path, "review.json", long_field_jsonl(), packing)
    result = read_reviews(path, "yelp")
    assert result.format == "yelp"
    _assert_all_four_kept(result, [1, 2, 3, 4])


def test_long_parquet_text_is_one_row(tmp_path):
    path = tmp_path / "yelp.parquet"
    pd.DataFrame(_yelp_rows(), columns=YELP_HEADER).to_parquet(path)
    columns = "item_id=business_id,rating=stars,timestamp=date"
    result = read_reviews(path, "parquet", columns)
    _assert_all_four_kept(result, [1, 2, 3, 4])


def test_shared_long_record_over_the_limit_is_set_aside_alone(shared_cases):
    path = shared_cases / "long_field_multiline.csv"
    result = read_reviews(path, max_record_bytes=100_000)
    assert result.lines == 4
    assert result.reviews["user_id"].tolist() == ["u_1", "u_3", "u_4"]
    assert result.reviews["line"].tolist() == [2, 2004, 2005]
    (rejection,) = result.rejections
    assert (rejection.line, rejection.reason) == (3, "record_too_long")
    size = sum(map(len, path.read_bytes().splitlines(keepends=True)[2:2003]))
    assert rejection.detail.startswith(f"{size:,} bytes (lines 3-2003), over the 100,000-byte")


@pytest.mark.parametrize("name, body, span", [
    ("yelp.csv", long_field_csv(), "lines 3-2003"),
    ("review.json", long_field_jsonl(), "line 2"),
])
@pytest.mark.parametrize("packing", ["plain", "gz", "zip"])
def test_record_over_the_limit_is_set_aside_alone(tmp_path, name, body, span, packing):
    path = _write(tmp_path, name, body, packing)
    result = read_reviews(path, "yelp", max_record_bytes=100_000)
    assert result.lines == 4
    assert result.reviews["user_id"].tolist() == ["u_1", "u_3", "u_4"]  # the next is read
    (rejection,) = result.rejections
    assert rejection.reason == "record_too_long"
    assert rejection.line == (3 if name.endswith(".csv") else 2)
    # Size of the long record in bytes, computed here from how it was written.
    if name.endswith(".csv"):
        size = len(body.split(b"\nb_3,")[0].split(b"\n", 2)[2]) + 1
    else:
        size = len(body.splitlines(keepends=True)[1])
    assert size > 154_000
    assert f"{size:,} bytes ({span})" in rejection.detail


# --- time units ---------------------------------------------------------------------------


def _amazon_2023(timestamp) -> dict:
    return {"rating": 4.0, "title": "t", "text": "Nice colour.", "asin": "B0", "parent_asin": "B0",
            "user_id": "U", "timestamp": timestamp, "helpful_vote": 0,
            "verified_purchase": True}


def test_shared_seconds_among_milliseconds_is_rejected(shared_cases):
    result = read_reviews(shared_cases / "seconds_as_ms_2023.jsonl", "amazon2023")
    assert result.reviews["line"].tolist() == [1, 3]
    assert result.reviews["timestamp"].tolist() == [1588687728, 1588687728]
    (rejection,) = result.rejections
    assert (rejection.line, rejection.reason, rejection.field) == (
        2, "timestamp_out_of_range", "timestamp")
    assert rejection.detail == ("1588687728 ms is 1970-01-19, before 1995-01-01; "
                                "as seconds it is 2020-05-05")
    assert any("1 of 3 times in field timestamp" in w and "look like seconds" in w
               for w in result.warnings)


def test_seconds_among_milliseconds_built_here(tmp_path):
    path = tmp_path / "Clothing.jsonl"
    path.write_text("".join(json.dumps(_amazon_2023(t)) + "\n"
                            for t in (1588687728923, 1588687728, 1600000000000)))
    result = read_reviews(path, "amazon2023")
    assert result.reviews["line"].tolist() == [1, 3]
    (rejection,) = result.rejections
    assert rejection.line == 2 and "as seconds it is 2020-05-05" in rejection.detail
    assert result.warnings == [
        f"1 of 3 times in field timestamp of {path} look like seconds, not milliseconds; "
        "rejected as timestamp_out_of_range"]


def test_shared_generic_file_of_seconds_read_as_ms_is_named(shared_cases):
    columns = "user_id=user_id,item_id=item_id,rating=rating,text=text,timestamp_ms=ts"
    result = read_reviews(shared_cases / "seconds_as_ms_generic.csv", "csv", columns)
    assert result.reviews.empty
    assert [(r.line, r.reason, r.field) for r in result.rejections] == [
        (2, "timestamp_out_of_range", "ts"), (3, "timestamp_out_of_range", "ts")]
    (unit,) = [w for w in result.warnings if "time unit" in w]
    assert "most times in field ts" in unit and "(2 of 2) look like seconds, not " \
        "milliseconds" in unit


@pytest.mark.parametrize("mapping, values, likely", [
    ("timestamp_ms=ts", [1588687728, 1588687729, 1588687730], "seconds, not milliseconds"),
    ("timestamp=ts", [1588687728000, 1588687729000, 1588687730000],
     "milliseconds, not seconds"),
    ("timestamp=ts", [1588687728000000, 1588687729000000, 1588687730000000],
     "microseconds, not seconds"),
])
def test_file_whose_times_look_like_another_unit_is_named(tmp_path, mapping, values, likely):
    path = tmp_path / "mine.csv"
    path.write_text("user_id,item_id,rating,text,ts\n" + "".join(
        f"u{i},i{i},5,Great lamp,{value}\n" for i, value in enumerate(values)))
    result = read_reviews(path, "csv", f"user_id=user_id,{mapping}")
    assert result.reviews.empty and len(result.rejections) == 3
    (unit,) = [w for w in result.warnings if "time unit" in w]
    assert f"(3 of 3) look like {likely}" in unit


def test_a_few_mis_scaled_times_are_counted_not_called_the_file_unit(tmp_path):
    path = tmp_path / "mine.csv"
    values = [1588687728, 1588687729, 1588687730, 1588687728000]
    path.write_text("user_id,item_id,rating,text,timestamp\n" + "".join(
        f"u{i},i{i},5,Great lamp,{value}\n" for i, value in enumerate(values)))
    result = read_reviews(path, "csv")
    assert result.reviews["line"].tolist() == [2, 3, 4]
    assert result.warnings == [f"1 of 4 times in field timestamp of {path} look like "
                               "milliseconds, not seconds; rejected as timestamp_out_of_range"]


def test_times_before_1995_and_after_tomorrow_are_rejected(tmp_path):
    now = datetime.datetime.now(datetime.UTC)
    later = (now + datetime.timedelta(days=3)).date().isoformat()
    path = tmp_path / "yelp.csv"
    dates = ["1994-12-31", "1995-01-01", now.date().isoformat(), later]
    rows = [["b", day, "r", "4", "ok", "review", f"u{i}", "0", "0", "0"]
            for i, day in enumerate(dates)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([YELP_HEADER, *rows])
    path.write_text(buffer.getvalue())
    result = read_reviews(path, "yelp_csv")
    assert result.reviews["user_id"].tolist() == ["u1", "u2"]
    details = {r.line: r.detail for r in result.rejections}
    assert details[2] == "'1994-12-31' is 1994-12-31, before 1995-01-01"
    assert details[5].startswith(f"'{later}' is {later}, after tomorrow (")
    assert result.warnings == []  # dates have no unit to blame


# --- encodings ----------------------------------------------------------------------------

CP1252_ROWS = (b"user_id,item_id,rating,text,timestamp\r\n"
               b"u1,i1,5,Sch\xf6ne Tasse \x96 sehr gut,1500000000\r\n"
               b"u2,i2,1,It\x92s broken,1500000100\r\n"
               b"u3,i1,4,plain ascii works,1500000200\r\n")


def _check_cp1252_default(result, first: int = 2) -> None:
    """Rows u1 and u2 (from line `first`) rejected, the likely encoding named."""
    assert result.reviews["user_id"].tolist()[:1] == ["u3"]
    assert [(r.line, r.reason, r.field) for r in result.rejections] == [
        (first, "invalid_utf8", "text"), (first + 1, "invalid_utf8", "text")]
    assert result.encoding_detected == "cp1252"
    (note,) = [w for w in result.warnings if "charset-normalizer" in w]
    assert "2 record(s)" in note and "look like cp1252" in note
    assert "--encoding cp1252" in note


def _check_cp1252_decoded(result, users: list[str]) -> None:
    assert result.rejections == [] and result.warnings == []
    assert result.reviews["user_id"].tolist() == users
    assert result.reviews["text"].tolist()[:2] == ["Schöne Tasse – sehr gut", "It’s broken"]


def test_shared_cp1252_case_is_named_then_read(shared_cases):
    path = shared_cases / "cp1252.csv"
    _check_cp1252_default(read_reviews(path, "csv"))
    _check_cp1252_decoded(read_reviews(path, "csv", encoding="cp1252"),
                          ["u1", "u2", "u3", "u4"])


def test_cp1252_csv_built_here_is_named_then_read(tmp_path):
    path = _write(tmp_path, "export.csv", CP1252_ROWS, "gz")
    _check_cp1252_default(read_reviews(path, "csv"))
    _check_cp1252_decoded(read_reviews(path, "csv", encoding="Windows-1252"),
                          ["u1", "u2", "u3"])


def test_cp1252_json_lines_are_named_then_read(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(
        b'{"user_id": "u%d", "item_id": "i", "rating": 4, "text": "%s", '
        b'"timestamp": 1500000000}\n' % (i, text)
        for i, text in enumerate([b"Sch\xf6ne Tasse \x96 sehr gut", b"It\x92s broken",
                                  b"plain ascii works"], start=1)))
    _check_cp1252_default(read_reviews(path, "jsonl"), first=1)  # no header line
    _check_cp1252_decoded(read_reviews(path, "jsonl", encoding="cp1252"), ["u1", "u2", "u3"])


@pytest.mark.parametrize("name, message", [
    ("klingon", "unknown encoding 'klingon'"),
    ("utf-16", "not ASCII-compatible"),
])
def test_bad_encoding_name_fails_before_reading(tmp_path, name, message):
    path = tmp_path / "export.csv"
    path.write_bytes(CP1252_ROWS)
    with pytest.raises(ValueError, match=message):
        read_reviews(path, "csv", encoding=name)
