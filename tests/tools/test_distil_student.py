"""tools/distil_student.py on a finished run's folder: a tiny teacher, demo reviews."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tfrec_sentiment import config as config_lib

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import distil_student  # noqa: E402

# One bucket and one batch: a trace each for scoring and distilling.
TINY = ["sentiment.preset=tiny", "sentiment.tiny_layers=2", "sentiment.tiny_hidden_dim=8",
        "sentiment.sequence_length=32", "sentiment.bucket_boundaries=32",
        "sentiment.batch_size=1024", "sentiment.inference_batch_size=1024",
        "sentiment.inference_bfloat16=false"]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run folder as the stages write it, minus the recommender: config, split, teacher
    and a metrics.json with a fact of the run's own."""
    from tfrec_sentiment.data.demo import generate_demo
    from tfrec_sentiment.data.splits import split_reviews
    from tfrec_sentiment.sentiment.model import SentimentModel

    run = tmp_path / "run"
    config = config_lib.resolve("smoke", TINY)
    config_lib.save(config, run / "config.json")
    split_reviews(generate_demo(users=30, items=15), config.data).save(run / "data")
    SentimentModel.from_config(config.sentiment).save(run / "sentiment" / "model")
    (run / "sentiment" / "metrics.json").write_text(json.dumps({"best_epoch": 7}))
    # An older student hard-linked to a parent run's file, as an update links it.
    (tmp_path / "parent_student.keras").write_text("the parent's student")
    (run / "sentiment" / "student").mkdir()
    os.link(tmp_path / "parent_student.keras", run / "sentiment" / "student" / "classifier.keras")
    return run


def test_distils_a_runs_student_and_records_it(run_dir, capsys):
    from tfrec_sentiment.sentiment.model import SentimentModel

    argv = ["--run", str(run_dir), "--layers", "1", "--set", "sentiment.student_epochs=1",
            "--quiet"]
    assert distil_student.main(argv) == 0
    teacher = json.loads((run_dir / "sentiment" / "model" / "sentiment.json").read_text())
    student = SentimentModel.load(run_dir / "sentiment" / "student")
    assert student.describe()["layers"] == 1
    parent = run_dir.parent / "parent_student.keras"
    assert parent.read_text() == "the parent's student"  # unlinked, not written through
    assert student.describe()["student_of"] == teacher["fingerprint"]
    metrics = json.loads((run_dir / "sentiment" / "metrics.json").read_text())
    assert metrics["best_epoch"] == 7  # the run's own facts are kept
    assert metrics["student"]["layers"] == 1 and len(metrics["student"]["loss_per_epoch"]) == 1
    test_part = metrics["results"]["test (time split)"]
    assert set(test_part) == {"bert", "student", "vader"}
    # Settings are chosen on the validation part: teacher and student measured there too,
    # the kept epoch's macro-F1 is the one reported.
    validation = metrics["results"]["validation (time split)"]
    assert set(validation) == {"bert", "student"}
    assert metrics["student"]["best_epoch"] == 1
    assert "| validation (time split) | student |" in (
        run_dir / "sentiment" / "metrics.md").read_text()
    # Agreement: the student's classes against the teacher's on the validation texts,
    # computed here from the two models' own answers.
    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.sentiment.labels import LABELS, review_texts
    from tfrec_sentiment.sentiment.metrics import classification_metrics

    texts = review_texts(Split.load(run_dir / "data").validation)
    taught = SentimentModel.load(run_dir / "sentiment" / "model").score(texts).probabilities
    expected = classification_metrics(taught.argmax(axis=1), student.score(texts).probabilities,
                                      LABELS)
    agreement = metrics["results"]["validation, the teacher's classes"]
    assert set(agreement) == {"student"} and agreement["student"]["n"] == len(texts)
    assert agreement["student"]["macro_f1"] == pytest.approx(expected["macro_f1"], abs=1e-6)
    assert agreement["student"]["confusion_matrix"] == expected["confusion_matrix"]
    # By default the epoch is chosen on the agreement; the kept one's is reported.
    assert metrics["student"]["selection"] == "agreement"
    assert metrics["student"]["validation_per_epoch"] == [agreement["student"]["macro_f1"]]
    saved = config_lib.load(run_dir / "config.json").sentiment
    assert (saved.student_layers, saved.student_epochs) == (1, 1)
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["macro_f1"]["student"] == test_part["student"]["macro_f1"]
    assert last["share_of_teacher"] == pytest.approx(
        test_part["student"]["macro_f1"] / test_part["bert"]["macro_f1"])
    assert last["validation_share_of_teacher"] == pytest.approx(
        validation["student"]["macro_f1"] / validation["bert"]["macro_f1"])
    assert last["validation_agreement"]["macro_f1"] == agreement["student"]["macro_f1"]

    # Comparing settings: the test part is not read, the earlier student's entry dropped.
    argv = ["--run", str(run_dir), "--set", "sentiment.student_temperature=3", "--quiet",
            "--validation-only", "--set", "sentiment.student_selection=macro_f1",
            "--set", "sentiment.student_epochs=2"]
    assert distil_student.main(argv) == 0
    out = capsys.readouterr().out
    assert "test part" not in out and "validation part macro-F1" in out
    compared = json.loads((run_dir / "sentiment" / "metrics.json").read_text())
    results = compared["results"]
    assert set(results["test (time split)"]) == {"bert", "vader"}
    # The new student's entry, not the earlier one's (two 1-epoch tiny students may
    # score alike in bfloat16, so the entry is told by the student that wrote it).
    assert compared["student"]["fingerprint"] != metrics["student"]["fingerprint"]
    assert compared["student"]["temperature"] == 3.0
    # Chosen on the stars now: the kept epoch's macro-F1 there is the best of both.
    assert compared["student"]["selection"] == "macro_f1"
    per_epoch = compared["student"]["validation_per_epoch"]
    assert len(per_epoch) == 2
    assert results["validation (time split)"]["student"]["macro_f1"] == (
        per_epoch[compared["student"]["best_epoch"] - 1]) == max(per_epoch)
    assert config_lib.load(run_dir / "config.json").sentiment.student_temperature == 3.0

    # The chosen student's test part, read once: recorded, its summary and validation kept.
    assert distil_student.main(["--run", str(run_dir), "--measure-test", "--quiet"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads((run_dir / "sentiment" / "metrics.json").read_text())
    assert metrics["student"]["temperature"] == 3.0
    assert set(metrics["results"]["test (time split)"]) == {"bert", "student", "vader"}
    assert last["macro_f1"]["student"] == (
        metrics["results"]["test (time split)"]["student"]["macro_f1"])
    assert metrics["results"]["validation (time split)"] == results["validation (time split)"]

    # As many layers as the teacher: refused (exit 2), the run left as it was.
    assert distil_student.main(["--run", str(run_dir), "--layers", "2", "--quiet"]) == 2
    assert "fewer layers than its 2-layer teacher" in capsys.readouterr().err
    assert config_lib.load(run_dir / "config.json").sentiment.student_layers == 1


@pytest.mark.parametrize("argv, status, message", [
    (["--set", "sentiment.epochs=3", "--layers", "1"], 2, "only sentiment.student_*"),
    ([], 2, "give the student's layers"),
    (["--layers", "1", "--set", "sentiment.student_epochs=0"], 2, "student_epochs"),
])
def test_refuses_bad_flags_before_any_work(tmp_path, capsys, argv, status, message):
    config_lib.save(config_lib.resolve("smoke", TINY), tmp_path / "config.json")
    assert distil_student.main(["--run", str(tmp_path), *argv]) == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sentiment").exists()


def test_a_folder_without_a_config_is_not_a_run(tmp_path, capsys):
    assert distil_student.main(["--run", str(tmp_path), "--layers", "1"]) == 1
    assert "config.json not found" in capsys.readouterr().err


def test_other_review_files_join_the_distillation_held_out_texts_left_out(run_dir, capsys):
    import gzip

    from tfrec_sentiment.data.splits import Split
    from tfrec_sentiment.sentiment.labels import review_texts

    split = Split.load(run_dir / "data")
    # Copies of the run's own reviews: one of each part.
    held = [split.train.iloc[0], split.validation.iloc[0], split.test.iloc[0]]
    rows = [{"reviewerID": f"X{i}", "asin": f"P{i % 5}", "overall": 3.0, "helpful": [0, 0],
             "summary": "", "reviewText": f"other shop's review {i}, it was fine",
             "unixReviewTime": 1400000000 + i} for i in range(40)]
    rows += [{"reviewerID": f"H{i}", "asin": "P9", "overall": 1.0, "helpful": [0, 0],
              "summary": row["title"], "reviewText": row["text"],
              "unixReviewTime": 1500000000 + i} for i, row in enumerate(held)]
    other = run_dir.parent / "other.json.gz"
    with gzip.open(other, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(row) for row in rows) + "\n")

    argv = ["--run", str(run_dir), "--layers", "1", "--quiet", "--validation-only",
            "--set", "sentiment.student_epochs=1", "--set",
            f"sentiment.student_extra_texts={other}", "--set", "sentiment.student_extra_sample=30"]
    assert distil_student.main(argv) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_dir / "sentiment" / "metrics.json").read_text())["student"]
    extra = summary["extra_texts"]
    assert extra["files"] == {str(other): 43} and extra["in_run"] == 3
    assert extra["drawn"] == 30 and sum(extra["teacher_classes"]) == 30
    assert summary["texts"] == len(review_texts(split.train)) + sum(extra["kept"])
    assert f"{sum(extra['kept'])} texts of 1 other review file (43 read" in out
    saved = config_lib.load(run_dir / "config.json").sentiment
    assert saved.student_extra_texts == (str(other),) and saved.student_extra_sample == 30

    # A missing file: a bad argument (exit 2, as tools/train.py), named, before any work.
    before = (run_dir / "sentiment" / "metrics.json").read_text()
    argv[-3] = f"sentiment.student_extra_texts={run_dir / 'nowhere.json.gz'}"
    assert distil_student.main(argv) == 2
    err = capsys.readouterr().err
    assert "sentiment.student_extra_texts=" in err and "nowhere.json.gz" in err
    assert "no such file" in err
    assert (run_dir / "sentiment" / "metrics.json").read_text() == before
