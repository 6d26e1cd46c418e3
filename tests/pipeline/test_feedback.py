"""Feedback reconciliation: every accepted row is new, known, an update or a repeat."""

from __future__ import annotations

import pandas as pd
import pytest

from tfrec_sentiment.data.schema import to_canonical
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.feedback import (
    FeedbackError,
    FeedbackRejectedError,
    fold_feedback,
    map_items,
    reconcile,
)


def reviews(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "helpful_votes",
                                        "timestamp", "text"])
    frame["title"], frame["verified"], frame["source"] = "", True, "test"
    return to_canonical(frame)


T0 = 1_500_000_000  # 2017-07-14: ingestion rejects implausible (e.g. 1970) dates
HISTORY = reviews([("a", "x", 5, 0, T0 + 100, "good"), ("a", "y", 2, 1, T0 + 200, "meh"),
                   ("b", "x", 4, 0, T0 + 150, "fine")])


def test_reconcile_sorts_rows_into_outcomes_and_updates_in_place():
    feedback = reviews([
        ("a", "x", 5, 0, T0 + 100, "good"),  # already known
        ("a", "y", 2, 7, T0 + 200, "meh"),   # more helpful votes: updates the known row
        ("c", "z", 3, 0, T0 + 300, "new one"),  # new
        ("c", "w", 1, 0, T0 + 310, "first"),  # repeated below: the last copy wins
        ("c", "w", 2, 0, T0 + 310, "second"),
    ])
    history, new, counts = reconcile(HISTORY, feedback)
    assert counts == {"new": 2, "already_known": 1, "updated": 1, "repeated": 1}
    assert sum(counts.values()) == len(feedback)
    assert history.loc[(history.user_id == "a") & (history.item_id == "y"),
                       "helpful_votes"].item() == 7
    assert len(history) == len(HISTORY)
    assert sorted(new["text"]) == ["new one", "second"]


def test_map_items_keeps_the_runs_product_ids():
    run_map = pd.DataFrame({"source_item_id": ["B1", "B2"], "item_id": ["B1", "B1"]})
    # The feedback's own ingestion named the product after "B0" (its smallest asin).
    feedback_map = pd.DataFrame({"source_item_id": ["B0", "B2", "C9"],
                                 "item_id": ["B0", "B0", "C9"]})
    feedback = reviews([("u", "B0", 4, 0, 5, "t"), ("u", "C9", 4, 0, 6, "s")])
    renamed, grown = map_items(feedback, feedback_map, run_map)
    assert renamed["item_id"].tolist() == ["B1", "C9"]
    assert dict(zip(grown["source_item_id"], grown["item_id"])) == {
        "B1": "B1", "B2": "B1", "B0": "B1", "C9": "C9"}


def test_fold_feedback_holds_out_the_newest_rows(tmp_path):
    rows = [(f"u{k % 7}", f"i{k % 11}", 1 + k % 5, 0, T0 + 86_400 * k, f"text {k}")
            for k in range(50)]
    path = tmp_path / "new.csv"
    reviews(rows).drop(columns=["verified", "source"]).to_csv(path, index=False)
    data = fold_feedback(HISTORY, pd.DataFrame({"source_item_id": ["x", "y"],
                                                "item_id": ["x", "y"]}),
                         [path], UpdateConfig(eval_fraction=0.2, validation_fraction=0.1))
    sizes = data.split.sizes
    assert data.counts["new"] == 50 and sizes["train"] == len(HISTORY) + data.counts["new_train"]
    assert sizes["test"] == 10 and sizes["validation"] == 5
    assert data.split.test["timestamp"].min() > data.split.validation["timestamp"].max()
    assert data.split.validation["timestamp"].min() > data.split.train["timestamp"].max()
    (report,) = data.files
    assert report["lines"] == 50 and len(report["sha256"]) == 64


def test_feedback_with_nothing_new_is_an_error(tmp_path):
    path = tmp_path / "old.csv"
    HISTORY.drop(columns=["verified", "source"]).to_csv(path, index=False)
    with pytest.raises(FeedbackError, match="no new or updated review"):
        fold_feedback(HISTORY, pd.DataFrame({"source_item_id": [], "item_id": []}), [path],
                      UpdateConfig())


def test_feedback_whose_every_line_the_reader_rejects_says_so_with_counts(tmp_path):
    # A CSV file read as Amazon 2014 JSON lines: the header and both rows are invalid JSON.
    path = tmp_path / "new.csv"
    path.write_text("user_id,item_id,rating,text,timestamp\n"
                    "u1,i1,5,good,1500000000\nu2,i2,1,bad,1500000001\n")
    no_map = pd.DataFrame({"source_item_id": [], "item_id": []})
    with pytest.raises(FeedbackRejectedError) as error:
        fold_feedback(HISTORY, no_map, [path], UpdateConfig(), format="amazon2014")
    assert str(error.value) == (
        "every line of the feedback was rejected by the reader (format 'amazon2014'): "
        f"{path}: 3 of 3 lines rejected (invalid_json: 3; read as 'amazon2014'); "
        "check --format and --columns")
    assert "no new or updated review" not in str(error.value)
    assert isinstance(error.value, FeedbackError)  # callers catching the base still do


def test_one_feedback_file_rejected_whole_warns_and_the_others_count(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"user_id": "c", "item_id": "x", "rating": 3, "text": "fine", '
                    '"timestamp": 1500000500}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{broken\n")
    no_map = pd.DataFrame({"source_item_id": [], "item_id": []})
    with pytest.warns(UserWarning, match=r"bad\.jsonl: 2 of 2 lines rejected \(invalid_json: 2"):
        data = fold_feedback(HISTORY, no_map, [good, bad], UpdateConfig(), format="jsonl")
    assert data.counts["new"] == 1
    assert [f["rejected"] for f in data.files] == [{}, {"invalid_json": 2}]
