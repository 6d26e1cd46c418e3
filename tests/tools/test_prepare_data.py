"""tools/prepare_data.py: once as a user runs it (a subprocess with this interpreter), the
other cases through the tool's own `main` in this process (the same argument parsing,
exit status and printed lines, without starting TensorFlow again per case: ~10 s each).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

from tfrec_sentiment.data.prepare import PreparedReviews

TOOL = Path(__file__).resolve().parents[2] / "tools" / "prepare_data.py"


def run_tool_process(*args: str) -> subprocess.CompletedProcess:
    """The tool as a user runs it: a new process with this interpreter."""
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True,
                          timeout=300)


def run_tool(*args: str, env: dict | None = None) -> types.SimpleNamespace:
    """The tool's `main` in this process: `returncode`, `stdout`, `stderr` as a process's.

    The exit status is `main`'s return value, or the code of the `SystemExit` that
    argparse raises on bad arguments (2), as `sys.exit(main())` would make it.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        try:
            code = _load_tool("prepare_data").main(list(args))
        except SystemExit as exit_info:
            code = exit_info.code
    return types.SimpleNamespace(returncode=code, stdout=stdout.getvalue(),
                                 stderr=stderr.getvalue())


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _write_reviews(path: Path) -> None:
    good = {"reviewerID": "U1", "asin": "B1", "overall": 5.0,
            "reviewText": "Great tuner, holds pitch.", "summary": "yes",
            "unixReviewTime": 1400000000, "vote": "3", "verified": True}
    lines = [json.dumps(good), json.dumps(good), json.dumps({**good, "asin": "B2"}),
             json.dumps({**good, "reviewerID": "U2", "overall": 7}),
             json.dumps({**good, "reviewerID": None}), '{"reviewerID": "U3", "asi']
    path.write_text("\n".join(lines) + "\n")


def test_report_is_the_last_stdout_line_and_adds_up(tmp_path):
    source = tmp_path / "reviews.json"
    _write_reviews(source)
    # The one run as a separate process: exit status and stdout as a user sees them.
    result = run_tool_process("--input", str(source), "--format", "amazon2018",
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
    # In this process: a tool process per file spent most of its time starting TensorFlow.
    for path in files:
        result = run_tool("--input", str(path), "--out", str(tmp_path / path.name))
        assert result.returncode == 0, result.stderr
        report = last_json(result.stdout)
        assert report["lines"] == _count_records(path), path.name
        total = report["accepted"] + sum(report["rejected"].values()) + report["duplicates"]
        assert total == report["lines"], (path.name, report)
        reviews = pd.read_parquet(tmp_path / path.name / "reviews.parquet")
        assert len(reviews) == report["accepted"]


CP1252_CSV = (b"user_id,item_id,rating,text,timestamp\r\n"
              b"u1,i1,5,Sch\xf6ne Tasse \x96 sehr gut,1500000000\r\n"
              b"u2,i2,1,It\x92s broken,1500000100\r\n"
              b"u3,i1,4,plain ascii works,1500000200\r\n")


def test_encoding_is_named_on_failure_and_read_with_encoding(tmp_path):
    source = tmp_path / "export.csv"
    source.write_bytes(CP1252_CSV)
    default = run_tool("--input", str(source), "--format", "csv", "--out", str(tmp_path / "a"))
    assert default.returncode == 0, default.stderr
    report = last_json(default.stdout)
    assert report["rejected"] == {"invalid_utf8": 2} and report["accepted"] == 1
    assert (report["encoding"], report["encoding_detected"]) == ("utf-8", "cp1252")
    assert "look like cp1252" in default.stderr and "--encoding cp1252" in default.stderr
    assert any("look like cp1252" in warning for warning in report["warnings"])
    decoded = run_tool("--input", str(source), "--format", "csv", "--encoding", "cp1252",
                       "--out", str(tmp_path / "b"))
    assert decoded.returncode == 0, decoded.stderr
    report = last_json(decoded.stdout)
    assert (report["accepted"], report["rejected"], report["encoding"]) == (3, {}, "cp1252")
    texts = pd.read_parquet(tmp_path / "b" / "reviews.parquet")["text"].tolist()
    assert "Schöne Tasse – sehr gut" in texts and "It’s broken" in texts


def _load_tool(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_tool", TOOL.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_encoding_is_refused_before_reading(capsys):
    prepare_tool = _load_tool("prepare_data")
    with pytest.raises(SystemExit) as exit_info:
        prepare_tool.parse_args(["--input", "x.csv", "--out", "o", "--encoding", "klingon"])
    assert exit_info.value.code == 2
    assert "argument --encoding: unknown encoding 'klingon'" in capsys.readouterr().err
    args = prepare_tool.parse_args(["--input", "x.csv", "--out", "o", "--encoding", "latin1"])
    assert args.encoding == "iso8859-1"  # the codec's own name


def test_long_multiline_field_counts_records_and_the_limit_sets_it_aside(tmp_path):
    source = tmp_path / "yelp.csv"
    long_text = "\n".join(["We came on a Friday, the place was packed."] * 4000)
    rows = [f"b_{i},2015-01-0{i},r_{i},4,\"{text}\",review,u_{i},0,1,0"
            for i, text in enumerate(["Lovely brunch.", long_text, "Great coffee."], start=1)]
    source.write_text("business_id,date,review_id,stars,text,type,user_id,cool,useful,funny\n"
                      + "\n".join(rows) + "\n")
    whole = run_tool("--input", str(source), "--out", str(tmp_path / "a"))
    assert whole.returncode == 0, whole.stderr
    report = last_json(whole.stdout)
    assert (report["lines"], report["accepted"], report["rejected"]) == (3, 3, {})
    limited = run_tool("--input", str(source), "--max-record-bytes", "100000",
                       "--out", str(tmp_path / "b"))
    report = last_json(limited.stdout)
    assert (report["lines"], report["accepted"]) == (3, 2)
    assert report["rejected"] == {"record_too_long": 1}
    (rejection,) = [json.loads(line) for line in
                    (tmp_path / "b" / "rejected.jsonl").read_text().splitlines()]
    assert rejection["line"] == 3 and "(lines 3-4002)" in rejection["detail"]
    assert PreparedReviews.load(tmp_path / "b").reviews["line"].tolist() == [2, 4003]


def test_shared_long_field_case_through_the_tool(shared_cases, tmp_path):
    long_field = run_tool("--input", str(shared_cases / "long_field_multiline.csv"),
                          "--out", str(tmp_path / "long"))
    report = last_json(long_field.stdout)
    assert (report["lines"], report["accepted"], report["rejected"]) == (4, 4, {})


def test_train_tool_passes_encoding_to_the_data_config():
    from tfrec_sentiment import config as config_lib

    train_tool = _load_tool("train")
    args = train_tool.parse_args(["--data", "mine.csv", "--encoding", "cp1252"])
    config = config_lib.resolve("demo", train_tool.overrides_from_flags(args))
    assert config.data.encoding == "cp1252"
    with pytest.raises(ValueError, match="data.encoding='klingon': unknown encoding"):
        config_lib.resolve("demo", train_tool.overrides_from_flags(
            train_tool.parse_args(["--encoding", "klingon"])))
