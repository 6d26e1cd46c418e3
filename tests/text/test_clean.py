import time

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment.data import schema
from tfrec_sentiment.text import clean


def _frame(texts, titles=None):
    n = len(texts)
    return schema.to_canonical(pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "item_id": "i",
        "rating": 5.0,
        "text": texts,
        "title": titles if titles is not None else [""] * n,
        "helpful_votes": 0,
        "timestamp": np.arange(n),
        "verified": True,
        "source": "test",
        "line": np.arange(10, 10 + n),
    }))


def test_clean_reviews_counts_every_edit_and_removal():
    frame = _frame(
        ["Nice&#34; tone  here", "mail a@b.com or call 555-234-5678", "", "!!!!", "ok",
         "see http://x.com/a", "zzzz", "fine<br>thanks"],
        ["", "", "", "", "", "", "", "Title &amp; more"],
    )
    kept, stats = clean.clean_reviews(frame)
    assert kept["text"].tolist() == [
        'Nice" tone here', "mail [EMAIL] or call [PHONE]", "ok", "see [URL]", "fine thanks"]
    assert kept["title"].tolist()[-1] == "Title & more"
    assert kept["line"].tolist() == [10, 11, 14, 15, 17]
    assert dict(stats.removed) == {"empty_text": 1, "spam_no_letters": 1,
                                   "spam_repeated_char": 1}
    # Row 17 changed in text (tag) and title (entity): one row, counted once per edit.
    assert stats.edits["html_unescaped"] == 2
    assert stats.edits["html_tags_removed"] == 1
    assert stats.edits["whitespace_collapsed"] == 1
    assert (stats.edits["email_scrubbed"], stats.edits["phone_scrubbed"],
            stats.edits["url_scrubbed"]) == (1, 1, 1)
    assert stats.removed_rows["line"].tolist() == [12, 13, 16]
    assert stats.removed_rows["reason"].tolist() == [
        "empty_text", "spam_no_letters", "spam_repeated_char"]
    assert set(stats.removed_rows["field"]) == {"text"}
    assert stats.rows_out == len(kept) == stats.rows_in - 3
    schema.validate_reviews(kept)


def test_title_alone_keeps_a_review():
    kept, stats = clean.clean_reviews(_frame(["", " "], ["Five Stars", " "]))
    assert kept["title"].tolist() == ["Five Stars"]
    assert stats.removed == {"empty_text": 1}


def test_missing_values_are_filled_and_counted():
    frame = pd.DataFrame({"text": ["good", None, np.nan], "title": [None, "t", "u"],
                          "line": [1, 2, 3]})
    kept, stats = clean.clean_reviews(frame)
    assert kept["text"].tolist() == ["good", "", ""]
    assert kept["title"].tolist() == ["", "t", "u"]
    assert stats.edits["missing_text_filled"] == 2
    assert stats.edits["missing_title_filled"] == 1


def test_rejections_carry_file_line_and_reason():
    _, stats = clean.clean_reviews(_frame(["good", "...."]))
    (rejection,) = stats.rejections("reviews.json")
    assert (rejection.file, rejection.line, rejection.reason) == (
        "reviews.json", 11, "spam_no_letters")
    assert rejection.detail == "...."


def test_options_nfc_and_no_scrub():
    frame = _frame(["\ufb01ne, mail a@b.com"])
    kept, stats = clean.clean_reviews(frame, unicode_form="NFC", scrub=False)
    assert kept["text"].iloc[0] == "\ufb01ne, mail a@b.com"
    assert not stats.edits
    kept, _ = clean.clean_reviews(frame)
    assert kept["text"].iloc[0] == "fine, mail [EMAIL]"


def test_empty_frame_and_missing_column():
    kept, stats = clean.clean_reviews(schema.empty_reviews())
    assert len(kept) == 0 and stats.rows_in == 0 and not stats.removed
    with pytest.raises(KeyError, match="title"):
        clean.clean_reviews(pd.DataFrame({"text": ["x"]}))


def test_ten_thousand_reviews_clean_quickly():
    # A generous ceiling that catches a pathological regex, not a benchmark.
    texts = ["Great tone for the price, call 555-234-5678 or see http://x.com/a &amp; "
             f"review number {i} with some more words to read" for i in range(10_000)]
    start = time.perf_counter()
    kept, stats = clean.clean_reviews(_frame(texts))
    assert time.perf_counter() - start < 10.0
    assert stats.edits["phone_scrubbed"] == stats.edits["url_scrubbed"] == 10_000
    assert len(kept) == 10_000


@pytest.mark.large
@pytest.mark.real_data
def test_real_files_lose_nothing_silently(shared_data):
    import gzip
    import json

    path = shared_data / "amazon2018" / "Appliances_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    frame = pd.DataFrame({
        "text": [r.get("reviewText") for r in records],
        "title": [r.get("summary") for r in records],
        "line": np.arange(1, len(records) + 1),
    })
    kept, stats = clean.clean_reviews(frame)
    assert len(kept) + len(stats.removed_rows) == len(frame)
    joined = " ".join(kept["text"])
    assert "855-963-9247" in " ".join(frame["text"].fillna(""))
    assert "855-963-9247" not in joined and "sales@newair.com" not in joined
    assert stats.edits["phone_scrubbed"] >= 1 and stats.edits["email_scrubbed"] >= 1
