"""One text pipeline: the data stage's cleaning and the served graph read the same text.

The pipeline path cleans reviews (`clean_reviews`), joins title and text
(`review_texts`) and batch-scores them (`SentimentModel.score`); the served path sends
the raw joined review to the in-graph function (`as_module`, what the `sentiment` and
`recommend_from_reviews` signatures run). Both must give the same labels, and
probabilities within 1e-4.
"""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.text.clean import clean_reviews

# Entities, control / invisible characters, markup, URLs, e-mail, emoji, odd spaces.
ODD = re.compile(
    r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);|[\x00-\x08\x0b-\x1f\x7f\u00a0\u200b\ufeff]|<[a-z/!]"
    r"|https?://|www\.|@|[\U0001F300-\U0001FAFF\u2600-\u27bf]",
    re.IGNORECASE,
)
INJECTED = ["&amp;", "&quot;", "&#39;", "&#34;", "\x00", "\x07", "\u200b", "<br />",
            "\u00a0", "\U0001F3B8", "\U0001F44D\U0001F3FD", "\uff27\uff52\uff45\uff41\uff54",
            "see http://www.amazon.com/dp/B0002E1G5C/ref=cm_cr (link).", "www.example.com.",
            "mail jo.doe@example.com", "call (555) 234-5678", "&lt;b&gt;bold&lt;/b&gt;"]


def _served(module, texts: list[str], batch: int = 32) -> dict[str, np.ndarray]:
    parts = [module(tf.constant(texts[i:i + batch], tf.string))
             for i in range(0, len(texts), batch)]
    return {key: np.concatenate([p[key].numpy() for p in parts])
            for key in ("probabilities", "label")}


def _agree(model, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores `frame` both ways; returns (pipeline, served) probabilities of the rows
    whose title-text join does not depend on cleaning, and how many rows it left out."""
    kept, _ = clean_reviews(frame)
    raw = frame.set_index("line").loc[kept["line"]].reset_index()
    pipeline = model.score(review_texts(kept), batch_size=16)
    served = _served(model.as_module(), review_texts(raw))
    labels = np.array(pipeline.labels)
    # `review_texts` picks ". " or " " from the title's last character; a title that
    # ends in an entity ("1/4&#34;") ends in ";" before cleaning and in '"' after.
    same_join = np.array([_joiner(a) == _joiner(b) for a, b in zip(raw["title"], kept["title"])])
    assert [v.decode() for v in served["label"][same_join]] == list(labels[same_join])
    return pipeline.probabilities[same_join], served["probabilities"][same_join], int(
        (~same_join).sum())


def _joiner(title) -> str:
    title = str(title or "").strip()
    return " " if title and title[-1] in ".!?:;" else ". "


def _frame(titles: list[str], texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"title": titles, "text": texts, "line": np.arange(1, len(texts) + 1)})


def test_pipeline_and_served_paths_agree_on_dirty_reviews(tiny_model):
    texts = ["Works\x00 great\x07 really", "R&amp;B &quot;tone&quot; &#39;ok&#39; <br/>fine",
             "see http://x.com/a?b=1 and www.example.com.", "mail jo@example.com \U0001F3B8",
             "call (555) 234-5678 \u200bnow", "\uff27\uff52\uff45\uff41\uff54  \u00a0strings",
             "the cable broke &lt;b&gt;bad&lt;/b&gt;", "good &#x263A; \U0001F44D\U0001F3FD"]
    frame = _frame(["Nice", "", "Links", "Love it!", "Hmm", "", "Junk", "Jack 1/4&#34;"], texts)
    pipeline, served, left_out = _agree(tiny_model, frame)
    np.testing.assert_allclose(served, pipeline, atol=1e-4)
    assert left_out == 1  # "Jack 1/4&#34;" ends in ";" raw and in '"' cleaned
    # The example: control characters no longer change the score.
    module = tiny_model.as_module()
    raw = module(tf.constant(["Works\x00 great\x07 really"]))["probabilities"].numpy()
    clean = module(tf.constant(["Works great really"]))["probabilities"].numpy()
    np.testing.assert_array_equal(raw, clean)


def test_saved_graph_cleans_what_it_serves(tiny_model, tmp_path):
    module = tiny_model.as_module()
    tf.saved_model.save(module, str(tmp_path), signatures={"sentiment": module.__call__})
    serve = tf.saved_model.load(str(tmp_path)).signatures["sentiment"]
    raw = serve(text=tf.constant(["R&amp;B\x00 at http://x.com/a", "  fine\u00a0&#34;ok&#34;"]))
    clean = serve(text=tf.constant(["R&B at [URL]", 'fine "ok"']))
    np.testing.assert_allclose(raw["probabilities"], clean["probabilities"], atol=1e-6)


@pytest.mark.large
@pytest.mark.real_data
def test_real_reviews_agree_with_minilm(minilm_dir, shared_data):
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.model import SentimentModel

    path = shared_data / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    frame = pd.DataFrame({"title": [r.get("summary", "") for r in records],
                          "text": [r.get("reviewText", "") for r in records],
                          "line": np.arange(1, len(records) + 1)})
    odd = frame[[bool(ODD.search(f"{h} {t}")) for h, t in zip(frame["title"], frame["text"])]]
    # Plain reviews with injected entities, controls, URLs, e-mail, phones and emoji.
    rng = np.random.default_rng(0)
    plain = frame.drop(odd.index).sample(100, random_state=0)
    plain["text"] = [
        " ".join(words[:k] + [INJECTED[rng.integers(len(INJECTED))]] + words[k:])
        for words in (t.split() for t in plain["text"])
        for k in [int(rng.integers(len(words) + 1))]
    ]
    sample = pd.concat([odd.head(200), plain]).reset_index(drop=True)
    assert len(sample) == 300
    model = SentimentModel.from_config(SentimentConfig(preset=str(minilm_dir), sequence_length=64,
                                                 bucket_boundaries=(32, 64)))
    pipeline, served, left_out = _agree(model, sample)
    assert left_out <= 3
    np.testing.assert_allclose(served, pipeline, atol=1e-4)
