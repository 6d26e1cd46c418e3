"""The real MiniLM-L6 weights: embeddings that mean something, real reviews end to end."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.labels import review_texts
from tfrec_sentiment.sentiment.model import SentimentModel

pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return SentimentModel.from_config(SentimentConfig(preset=str(minilm_dir)))


def test_paraphrases_are_closer_than_unrelated_sentences(minilm):
    texts = ["These guitar strings sound great and stay in tune.",
             "The strings have a wonderful tone and hold their tuning well.",
             "My package was delivered to the wrong address.",
             "The cable stopped working after two days.",
             "After a couple of days the cord died."]
    embedding = minilm.score(texts).embedding
    similarity = embedding @ embedding.T  # unit vectors: cosine similarity
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    assert similarity[3, 4] > similarity[3, 2] + 0.2
    assert similarity[3, 4] > similarity[3, 0]


def test_real_reviews_run_end_to_end(minilm, shared_data):
    path = shared_data / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"
    import pandas as pd

    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(next(handle)) for _ in range(24)]
    frame = pd.DataFrame({"title": [r.get("summary", "") for r in records],
                          "text": [r.get("reviewText", "") for r in records]})
    texts = review_texts(frame)
    scores = minilm.score(texts, batch_size=8)
    assert scores.probabilities.shape == (24, 3) and scores.embedding.shape == (24, 384)
    np.testing.assert_allclose(scores.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Real reviews of one product category are closer to each other than to noise.
    noise = minilm.score(["qwxz vbnm plkj", "zzzz yyyy xxxx"]).embedding
    inside = (scores.embedding @ scores.embedding.T).mean()
    assert inside > (scores.embedding @ noise.T).mean()
    # The in-graph path (what the export serves) agrees with batch inference.
    served = minilm.as_module()(np.array(texts[:4], dtype=object))
    np.testing.assert_allclose(served["probabilities"], scores.probabilities[:4], atol=1e-4)
    np.testing.assert_allclose(served["embedding"], scores.embedding[:4], atol=1e-4)


def test_minilm_graph_uses_no_round_robin_trim(minilm):
    # The real tokenizer (lower-casing) in the traced in-graph function: only these
    # TF Text ops, so TF Serving images without TFText>RoundRobinTrim can serve it.
    graph = minilm.as_module().__call__.get_concrete_function().graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    text_ops = {op for op in ops if "UTF8" in op or "Wordpiece" in op or "TFText" in op
                or op == "RegexSplitWithOffsets"}
    assert text_ops == {"CaseFoldUTF8", "FastWordpieceTokenizeWithOffsets",
                        "RegexSplitWithOffsets", "NormalizeUTF8"}  # NFKC (text.steps)
