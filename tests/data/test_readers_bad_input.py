"""Bad input: every broken record gets a specific reason; only unreadable files raise."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import zipfile

import pytest

from tfrec_sentiment.data.readers import ReaderError, read_reviews
from tfrec_sentiment.data.readers.sources import _frame_state, _parse_row, csv_frames

GOOD = {"reviewerID": "U1", "asin": "B1", "overall": 4.0, "reviewText": "Fine.",
        "summary": "ok", "unixReviewTime": 1400000000, "vote": "2", "verified": True}


def _line(**changes) -> bytes:
    record = {k: v for k, v in {**GOOD, **changes}.items() if v is not _DROP}
    return json.dumps(record).encode() + b"\n"


_DROP = object()


def _sandwich(tmp_path, bad: bytes, name: str = "reviews.json"):
    """A file of good, bad, good lines; returns the read result."""
    path = tmp_path / name
    path.write_bytes(_line(reviewerID="U0") + bad + _line(reviewerID="U2"))
    return read_reviews(path, "amazon2018")


@pytest.mark.parametrize("bad, reason, field", [
    (b'{"reviewerID": "U9", "asin": "B1", "overall": 5.0, "reviewTe\n', "truncated_json", ""),
    (b'{"reviewerID": "U9", "asin": "B1"} trailing\n', "invalid_json", ""),
    (b'["reviewerID", "U9"]\n', "not_an_object", ""),
    (_line(overall="five"), "rating_not_a_number", "overall"),
    (_line(overall=7), "rating_out_of_range", "overall"),
    (_line(overall=0), "rating_out_of_range", "overall"),
    (_line(overall=True), "rating_not_a_number", "overall"),
    (_line(overall=_DROP), "missing_rating", "overall"),
    (_line(reviewerID=_DROP), "missing_user_id", "reviewerID"),
    (_line(reviewerID="  "), "missing_user_id", "reviewerID"),
    (_line(asin=None), "missing_item_id", "asin"),
    (_line(asin={"id": 1}), "item_id_invalid", "asin"),
    (_line(vote="many"), "helpful_votes_invalid", "vote"),
    (_line(vote="-3"), "helpful_votes_negative", "vote"),
    (_line(unixReviewTime="soon"), "timestamp_invalid", "unixReviewTime"),
    (_line(unixReviewTime=1_400_000_000_000), "timestamp_out_of_range", "unixReviewTime"),
    (_line(unixReviewTime=700_000_000), "timestamp_out_of_range", "unixReviewTime"),  # 1992
    (_line(unixReviewTime=_DROP, reviewTime="01 01, 1990"), "timestamp_out_of_range",
     "reviewTime"),
    (_line(unixReviewTime=_DROP), "missing_timestamp", "reviewTime"),
    (_line(verified="maybe"), "verified_invalid", "verified"),
    (_line(reviewText=["a", "list"]), "text_invalid", "reviewText"),
    (_line(reviewText="broken \ud83d emoji"), "invalid_unicode", "reviewText"),
    (_line(reviewText="caf\u00e9").replace(b"\\u00e9", b"\xe9"), "invalid_utf8",
     "reviewText"),
    (b"   \n", "empty_line", ""),
])
def test_bad_record_is_rejected_with_reason_field_and_line(tmp_path, bad, reason, field):
    result = _sandwich(tmp_path, bad)
    assert result.lines == 3
    assert result.reviews["user_id"].tolist() == ["U0", "U2"]  # the run goes on
    assert result.reviews["line"].tolist() == [1, 3]
    (rejection,) = result.rejections
    assert (rejection.line, rejection.reason, rejection.field) == (2, reason, field)
    assert rejection.file.endswith("reviews.json")


def test_empty_file_reads_as_zero_lines_with_a_warning(tmp_path):
    path = tmp_path / "empty.json.gz"
    with gzip.open(path, "wb"):
        pass
    result = read_reviews(path, "amazon2018")
    assert (result.lines, len(result.reviews), result.rejections) == (0, 0, [])
    assert "empty" in result.warnings[0]


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path):
    body = b"".join(_line(reviewerID=f"U{i}", reviewText=f"review number {i} " * 20)
                    for i in range(400))
    packed = gzip.compress(body)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = read_reviews(path, "amazon2018")
    kept = len(result.reviews)
    assert 0 < kept < 400
    assert result.reviews["user_id"].tolist() == [f"U{i}" for i in range(kept)]
    (rejection,) = result.rejections
    assert rejection.reason == "truncated_file"
    assert rejection.line == kept + 1  # the first line not read completely
    assert result.lines == kept + 1  # the lost tail counts as one rejected record


def test_corrupt_zip_member_is_reported_not_raised(tmp_path):
    path = tmp_path / "yelp.csv.zip"
    rows = "".join(f"b{i},2011-01-26,r{i},4,text {i},review,u{i},0,0,0\n" for i in range(2000))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("yelp.csv", "business_id,date,review_id,stars,text,type,user_id,"
                                    "cool,useful,funny\n" + rows)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as handle:
        member = handle.infolist()[0]
    # Damage the compressed member late, keeping its header and the central directory.
    data[member.header_offset + member.compress_size * 2 // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    result = read_reviews(path, "yelp_csv")
    assert result.rejections[-1].reason == "corrupt_file"
    assert 0 < len(result.reviews) < 2000
    assert result.lines == len(result.reviews) + len(result.rejections)


def test_csv_missing_required_column_names_file_and_column(tmp_path):
    path = tmp_path / "yelp.csv"
    path.write_text("business_id,date,review_id,text,type,user_id\nb,2011-01-01,r,t,review,u\n")
    with pytest.raises(ReaderError, match=r"yelp\.csv, line 1: missing required column\(s\) "
                                          r"\['stars'\]"):
        read_reviews(path, "yelp_csv")


def test_generic_csv_missing_mapped_column(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("uid,item_id,rating,text,timestamp\nu,i,5,t,1\n")
    with pytest.raises(ReaderError, match=r"mine\.csv.*\['user']"):
        read_reviews(path, "csv", {"user_id": "user"})


def test_csv_bad_rows_each_get_a_reason(tmp_path):
    path = tmp_path / "yelp.csv"
    header = b"business_id,date,review_id,stars,text,type,user_id,cool,useful,funny\n"
    rows = [
        b"b1,2011-01-26,r1,5,good,review,u1,0,1,0\n",
        b"b2,2011-01-26,r2,five,good,review,u2,0,1,0\n",    # line 3
        b"b3,2011-01-26,r3,4,good,review,u3\n",              # line 4: too few fields
        b"b4,2011-01-26,r4,4,caf\xe9 bad bytes,review,u4,0,0,0\n",  # line 5
        b"\n",                                               # line 6
        b"b6,2011-01-26,r6,3,ok,review,,0,0,0\n",            # line 7: no user
    ]
    path.write_bytes(header + b"".join(rows))
    result = read_reviews(path, "yelp")
    got = [(r.line, r.reason, r.field) for r in result.rejections]
    assert got == [(3, "rating_not_a_number", "stars"), (4, "csv_wrong_field_count", ""),
                   (5, "invalid_utf8", "text"), (6, "empty_line", ""),
                   (7, "missing_user_id", "user_id")]
    assert result.reviews["line"].tolist() == [2]
    assert result.lines == 6


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 not really a zip", "unreadable zip archive"),
    (b"PAR1 not really parquet", "unreadable Parquet file"),
])
def test_unreadable_containers_raise_naming_the_file(tmp_path, content, message):
    path = tmp_path / "broken.bin"
    path.write_bytes(content)
    with pytest.raises(ReaderError, match=rf"broken\.bin: {message}"):
        read_reviews(path, "parquet" if b"PAR1" in content else "yelp_csv")


def test_zip_with_two_data_files_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("a.csv", "x\n")
        handle.writestr("b.csv", "y\n")
    with pytest.raises(ReaderError, match=r"exactly one data file, found \['a.csv', 'b.csv'\]"):
        read_reviews(path, "csv")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReaderError, match="nope.json: no such file"):
        read_reviews(tmp_path / "nope.json", "amazon2014")


def test_wrong_format_warns_instead_of_passing_silently(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(_line() + _line())
    result = read_reviews(path, "amazon2023")
    assert result.reviews.empty and len(result.rejections) == 2
    assert "right format" in result.warnings[0]


YELP_HEADER = b"business_id,date,review_id,stars,text,type,user_id,cool,useful,funny"


def _yelp_row(user: str, text: bytes) -> bytes:
    return b"b1,2011-01-26,r1,4," + text + b",review," + user.encode() + b",0,0,0"


def test_csv_quote_never_closed_is_one_rejection_naming_its_lines(tmp_path):
    path = tmp_path / "yelp.csv"
    path.write_bytes(b"\n".join([YELP_HEADER, _yelp_row("u1", b"fine"),
                                  _yelp_row("u2", b'"cut short'), b"by the end", b"of file"]))
    result = read_reviews(path, "yelp_csv")
    assert result.lines == 2 and result.reviews["user_id"].tolist() == ["u1"]
    (rejection,) = result.rejections
    assert (rejection.line, rejection.reason) == (3, "csv_unclosed_quote")
    assert "lines 3-5" in rejection.detail


def test_csv_stray_quote_inside_a_field_does_not_open_a_quote(tmp_path):
    # Python's csv (and so the framer) takes a quote inside an unquoted field literally.
    path = tmp_path / "yelp.csv"
    path.write_bytes(b"\r\n".join([YELP_HEADER, _yelp_row("u1", b'a 5" screen, "great"'),
                                    _yelp_row("u2", b"next"), b""]))
    result = read_reviews(path, "yelp_csv")
    # 'a 5" screen' and ' "great"' are two fields: wrong count, rejected ALONE.
    assert [(r.line, r.reason) for r in result.rejections] == [(2, "csv_wrong_field_count")]
    assert result.reviews["user_id"].tolist() == ["u2"]
    assert result.reviews["line"].tolist() == [3]


def test_csv_with_lone_carriage_returns_reads_line_by_line(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"\r".join([YELP_HEADER, _yelp_row("u1", b'"two\rlines"'),
                                 _yelp_row("u2", b"one line"), b""]))
    result = read_reviews(path, "yelp_csv")
    assert result.reviews["user_id"].tolist() == ["u1", "u2"]
    assert result.reviews["line"].tolist() == [2, 4]
    assert result.reviews["text"].tolist()[0] == "two\rlines"


def test_csv_record_over_a_small_limit_keeps_the_escaped_quotes_in_sync(tmp_path):
    # Lines longer than the limit are read in pieces; over 24 limits (the period of the
    # text) the pieces are cut at every offset, including between the two quotes of "".
    path = tmp_path / "yelp.csv"
    quoted = b'"' + (b'he said ""no"", twice, ' * 10 + b"\n") * 4 + b'"'
    path.write_bytes(b"\n".join([YELP_HEADER, _yelp_row("u1", b"ok"), _yelp_row("u2", quoted),
                                  _yelp_row("u3", b'"also ""ok"""'), b""]))
    for limit in range(len(YELP_HEADER) + 20, len(YELP_HEADER) + 44):
        result = read_reviews(path, "yelp_csv", max_record_bytes=limit)
        assert result.reviews["user_id"].tolist() == ["u1", "u3"], limit
        assert result.reviews["line"].tolist() == [2, 8]
        assert result.reviews["text"].tolist()[1] == 'also "ok"'
        (rejection,) = result.rejections
        assert (rejection.line, rejection.reason) == (3, "record_too_long")
        assert f"{len(_yelp_row('u2', quoted)) + 1:,} bytes (lines 3-7)" in rejection.detail


def test_json_line_over_the_limit_is_rejected_alone(tmp_path):
    path = tmp_path / "reviews.json.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(_line(reviewerID="U0") + _line(reviewText="x" * 5000) +
                     _line(reviewerID="U2"))
    result = read_reviews(path, "amazon2018", max_record_bytes=1000)
    assert result.lines == 3
    assert result.reviews["user_id"].tolist() == ["U0", "U2"]
    (rejection,) = result.rejections
    assert (rejection.line, rejection.reason) == (2, "record_too_long")
    assert rejection.detail.startswith(f"{len(_line(reviewText='x' * 5000)):,} bytes (line 2)")


def _python_csv(text: str) -> list[tuple[int, list[str]]]:
    """(start line, row) of every record as Python's own csv reader sees the text."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    while True:
        start = reader.line_num + 1
        try:
            rows.append((start, next(reader)))
        except StopIteration:
            return rows


def test_csv_framing_agrees_with_pythons_csv_on_random_documents():
    generator = random.Random(7)
    pieces = ["a", "b c", ",", '"', '""', "\n", "\r\n", "\r", " "]
    checked = 0
    for _ in range(400):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(1, 30)))
        framed = list(csv_frames(io.BytesIO(text.encode()), "f.csv", limit=1000))
        if any(not isinstance(item, tuple) for item in framed):  # an unclosed quote at the end
            assert sum(not isinstance(item, tuple) for item in framed) == 1
            assert framed[-1].reason == "csv_unclosed_quote"
            continue
        mine = [(line, _parse_row(record)) for line, record in framed]
        assert mine == _python_csv(text), repr(text)
        checked += 1
    assert checked > 200


def test_frame_state_is_the_same_whatever_the_cut():
    record = 'x,"he said ""no"", twice",y"z,"a\nb"\n'
    whole = _frame_state(record, 0)
    assert whole == 0  # a complete record
    for cut in range(1, len(record)):
        if record[cut - 1] in "\r\n":
            continue  # a piece ends at a line end only where the line ends
        state = _frame_state(record[:cut], 0)
        assert _frame_state(record[cut:], state) == whole, cut
