"""tools/prepare_data.py, run as a user runs it: a subprocess with this interpreter."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tfrec_sentiment.data.prepare import PreparedReviews

TOOL = Path(__file__).resolve().parents[2] / "tools" / "prepare_data.py"


def run_tool(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _write_reviews(path: Path) -> None:
    good = {"reviewerID": "U1", "asin": "B1", "overall": 5.0, "reviewText": "Great.",
            "summary": "yes", "unixReviewTime": 1400000000, "vote": "3", "verified": True}
    lines = [json.dumps(good), json.dumps(good), json.dumps({**good, "asin": "B2"}),
             json.dumps({**good, "reviewerID": "U2", "overall": 7}),
             json.dumps({**good, "reviewerID": None}), '{"reviewerID": "U3", "asi']
    path.write_text("\n".join(lines) + "\n")


def test_report_is_the_last_stdout_line_and_adds_up(tmp_path):
    source = tmp_path / "reviews.json"
    _write_reviews(source)
    result = run_tool("--input", str(source), "--format", "amazon2018",
                      "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["lines"] == 6
    assert report["rejected"] == {"missing_user_id": 1, "rating_out_of_range": 1,
                                  "truncated_json": 1}
    assert report["duplicates"] == 2 and report["accepted"] == 1
    assert report["accepted"] + sum(report["rejected"].values()) + report["duplicates"] == 6
    rejected = (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["line"] for line in rejected] == [4, 5, 6]
    prepared = PreparedReviews.load(tmp_path / "out")
    assert prepared.reviews["item_id"].tolist() == ["B1"]


def test_guessed_format_and_pseudonymised_users(tmp_path):
    source = tmp_path / "reviews.json"
    _write_reviews(source)
    result = run_tool("--input", str(source), "--out", str(tmp_path / "out"),
                      env={"TFREC_PSEUDONYMIZE_KEY": "k3y"})
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["format"] == "amazon2018" and report["pseudonymized"] is True
    users = pd.read_parquet(tmp_path / "out" / "reviews.parquet")["user_id"].tolist()
    assert users and "U1" not in users


def test_csv_with_mapping_and_missing_column(tmp_path):
    source = tmp_path / "mine.csv"
    source.write_text("uid,product,stars,body,when\nu1,p1,4,Nice,2020-01-01\n")
    ok = run_tool("--input", str(source), "--format", "csv", "--out", str(tmp_path / "a"),
                  "--columns", "user_id=uid,item_id=product,rating=stars,text=body,"
                               "timestamp=when")
    assert ok.returncode == 0, ok.stderr
    assert last_json(ok.stdout)["accepted"] == 1
    missing = run_tool("--input", str(source), "--format", "csv", "--out", str(tmp_path / "b"),
                       "--columns", "user_id=uid,item_id=product,rating=score")
    assert missing.returncode == 1
    assert "mine.csv, line 1: missing required column(s) ['score', 'text', 'timestamp']" \
        in missing.stderr
    bad_mapping = run_tool("--input", str(source), "--format", "csv",
                           "--out", str(tmp_path / "c"), "--columns", "who=uid")
    assert bad_mapping.returncode == 2 and "unknown field 'who'" in bad_mapping.stderr


def test_truncated_gzip_is_reported_and_the_rest_kept(tmp_path):
    body = "".join(json.dumps({"reviewerID": f"U{i}", "asin": "B1", "overall": 4.0,
                               "reviewText": f"text number {i} " * 30,
                               "unixReviewTime": 1400000000 + i}) + "\n" for i in range(300))
    packed = gzip.compress(body.encode())
    source = tmp_path / "cut.json.gz"
    source.write_bytes(packed[: len(packed) // 2])
    result = run_tool("--input", str(source), "--format", "amazon2018",
                      "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    report = last_json(result.stdout)
    assert report["rejected"] == {"truncated_file": 1}
    assert 0 < report["accepted"] == report["lines"] - 1
    assert "damaged" in result.stderr


def _count_records(path: Path) -> int:
    """Input records counted without the package: JSON lines, or CSV rows via pandas."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as handle:
            return len(pd.read_csv(handle))
    with gzip.open(path, "rb") as handle:
        return sum(1 for _ in handle)


@pytest.mark.large
@pytest.mark.real_data
def test_every_shared_file_balances(shared_data, tmp_path):
    files = sorted([*(shared_data / "amazon2014").glob("*.json.gz"),
                    *(shared_data / "amazon2018").glob("*.json.gz"),
                    shared_data / "yelp" / "yelp_10k.csv.zip"])
    assert len(files) >= 6
    for path in files:
        result = run_tool("--input", str(path), "--out", str(tmp_path / path.name))
        assert result.returncode == 0, result.stderr
        report = last_json(result.stdout)
        assert report["lines"] == _count_records(path), path.name
        total = report["accepted"] + sum(report["rejected"].values()) + report["duplicates"]
        assert total == report["lines"], (path.name, report)
        reviews = pd.read_parquet(tmp_path / path.name / "reviews.parquet")
        assert len(reviews) == report["accepted"]
