"""The memory budget: the estimate's parts, the item-to-item switch-off and the refusal."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.baselines.knn import GRID_CACHE_BYTES
from tfrec_sentiment.evaluation.metrics import DEFAULT_MAX_ELEMENTS
from tfrec_sentiment.pipeline import memory
from tfrec_sentiment.pipeline.stages import rss_bytes

GIB = 2**30


def _split(rows: int = 40, users: int = 8, items: int = 5) -> Split:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": [f"u{i % users}" for i in range(rows)],
                          "item_id": [f"i{i % items}" for i in range(rows)],
                          "rating": rng.integers(1, 6, rows).astype(float),
                          "text": ["a short review"] * rows})
    return Split(train=frame, validation=frame.iloc[:4], test=frame.iloc[4:10])


def test_estimate_adds_the_parts_by_hand():
    split = _split()
    config = config_lib.resolve("smoke", ["sentiment.tiny_hidden_dim=32",
                                          "features.history_length=20"])
    estimate = memory.estimate_run_memory(config, split, budget=8 * GIB)
    frames = sum(int(f.memory_usage(deep=True).sum())
                 for f in (split.train, split.validation, split.test))
    assert estimate.parts["reviews"] == 2 * frames
    assert estimate.parts["text embeddings"] == 2 * 4 * (40 + 10) * 32
    assert estimate.parts["training examples"] == 40 * (2 * 4 * (3 * 32 + 64 + 3 * 20)
                                                        + 4 * 1024)
    # Exact (5 items): float32 profiles of width I, twice; 16 bytes per co-reviewed pair,
    # at most sum over users of (distinct items)^2: each of the 8 users has 5 rows over
    # 5 items, i % 8 and i % 5 -> 5 distinct items each, 8 * 25 pairs, capped at I^2 = 25.
    assert estimate.parts["item similarity"] == 4 * 5 * (40 + 8 + 1) * 2 + 16 * 25
    scores = 6 * 5  # held-out users x items: 6 test users (u4..u7, u0, u1), 5 items
    assert estimate.parts["ranking"] == 8 * 16 * scores + 4 * scores  # + the kNN grid's
    big = _split(rows=20_000, users=10_000, items=5000).train  # 10,000 x 5,000 scores
    many = memory.estimate_run_memory(config, Split(train=big, validation=big, test=big))
    assert many.parts["ranking"] == (8 * (6 * DEFAULT_MAX_ELEMENTS
                                          + 10 * config.recsys.blend_max_scores)
                                     + 4 * 10_000 * 5000)  # the grid's float32 products
    assert 4 * 10_000 * 5000 < GRID_CACHE_BYTES
    assert estimate.total == sum(estimate.parts.values()) and estimate.fits
    assert estimate.parts["runtime"] == memory.RUNTIME_BYTES  # tiny: no pretrained backbone
    assert "background process" not in estimate.parts  # smoke: no comment-only protocol
    assert "aspects" not in estimate.parts  # smoke: no aspects stage
    aspects = dataclasses.replace(config, aspects=dataclasses.replace(
        config.aspects, enabled=True, max_reviews=30))
    assert memory.estimate_run_memory(aspects, split).parts["aspects"] == (
        memory.SPACY_BYTES + 20 * 1024 * 30)  # the newest 30 of the 40 reviews parsed
    protocol = dataclasses.replace(config, evaluation=dataclasses.replace(
        config.evaluation, comment_only=True))
    child = memory.estimate_run_memory(protocol, split, budget=8 * GIB).parts
    assert child["background process"] == (memory.RUNTIME_BYTES + child["reviews"]
                                           + child["training examples"])
    in_process = dataclasses.replace(protocol, background_jobs=False)
    assert "background process" not in memory.estimate_run_memory(in_process, split).parts
    minilm = config_lib.resolve("demo", ["sentiment.preset=minilm"])
    assert memory.estimate_run_memory(minilm, split, GIB).parts["runtime"] == (
        memory.RUNTIME_BYTES + memory.PRETRAINED_BYTES)
    off = config_lib.resolve("smoke", ["features.item_similarity=false",
                                       "recsys.item_similarity=false"])
    assert "item similarity" not in memory.estimate_run_memory(off, split, GIB).parts


def test_text_dim_is_read_without_loading_a_model(tmp_path):
    assert memory.text_dim(config_lib.resolve("smoke", ["sentiment.tiny_hidden_dim=48"])) == 48
    assert memory.text_dim(config_lib.resolve("demo", ["sentiment.preset=minilm"])) == 384
    (tmp_path / "sentiment.json").write_text(json.dumps({"embedding_dim": 96}))
    config = config_lib.resolve("demo", [f"sentiment.model_dir={tmp_path}"])
    assert memory.text_dim(config) == 96


def test_item_similarity_is_projected_above_the_catalogue_limit_not_switched_off(tmp_path):
    split = _split(rows=4000, users=400, items=200)
    config = config_lib.resolve("smoke", ["features.similarity_rank=8"])
    exact = memory.estimate_run_memory(config, split, 64 * GIB).parts["item similarity"]
    small = config_lib.resolve("smoke", ["features.similarity_max_items=100",
                                         "features.similarity_rank=8"])
    resolved, estimate = memory.fit_memory_budget(small, split, tmp_path, budget=64 * GIB)
    assert resolved is small and resolved.features.item_similarity  # on, no warning
    # Projected: profiles N x r instead of N x I, plus the basis and its work space.
    projected = estimate.parts["item similarity"]
    assert memory.similarity_width(small, 200) == 8 and memory.similarity_width(config, 200) == 200
    # (user i % 400 reviews item i % 200 ten times: one distinct item, one pair each)
    assert projected == memory.similarity_bytes(4000, 400, 200, 8, 400)
    assert exact == memory.similarity_bytes(4000, 400, 200, 200, 400)
    assert projected < exact / 5


def test_an_exact_block_too_large_is_projected_then_switched_off(tmp_path):
    split = _split()
    config = config_lib.resolve("smoke", ["features.similarity_rank=2"])
    exact = memory.similarity_bytes(40, 8, 5, 5, 25)
    projected = memory.similarity_bytes(40, 8, 5, 2, 25)
    between = (exact + projected) / 2 / GIB
    capped = config_lib.resolve("smoke", ["features.similarity_rank=2",
                                          f"features.similarity_max_gb={between}"])
    with pytest.warns(UserWarning, match="projected on rank 2 .* its profiles would take"):
        resolved, estimate = memory.fit_memory_budget(capped, split, tmp_path, budget=64 * GIB)
    assert resolved.features.item_similarity and resolved.features.similarity_max_items == 4
    assert estimate.parts["item similarity"] == projected
    assert config_lib.load(tmp_path / "config.json") == resolved
    # Even the projection is over the limit: switched off.
    tighter = config_lib.resolve("smoke", ["features.similarity_rank=2",
                                           f"features.similarity_max_gb={projected / 2 / GIB}"])
    with pytest.warns(UserWarning, match="switched off"):
        resolved, _ = memory.fit_memory_budget(tighter, split, tmp_path, budget=64 * GIB)
    assert not resolved.features.item_similarity and not resolved.recsys.item_similarity
    # A budget the run fits only projected: projected; only without the term: off.
    without = memory.estimate_run_memory(resolved, split, 0).total
    with pytest.warns(UserWarning, match="projected on rank 2 .* over the"):
        resolved, estimate = memory.fit_memory_budget(config, split, tmp_path,
                                                      budget=without + projected)
    assert resolved.recsys.item_similarity and estimate.fits
    with pytest.warns(UserWarning, match="switched off: the run would need"):
        resolved, estimate = memory.fit_memory_budget(config, split, tmp_path,
                                                      budget=without + projected // 2)
    assert not resolved.recsys.item_similarity and estimate.fits


def test_a_run_that_cannot_fit_is_refused_with_its_parts_and_what_to_change(tmp_path):
    split = _split()
    config = config_lib.resolve("smoke")  # tiny sentiment, item similarity on
    config_lib.save(config, tmp_path / "config.json")
    with pytest.raises(memory.MemoryBudgetError) as error:
        memory.fit_memory_budget(config, split, tmp_path, budget=GIB)  # runtime: 1.2 GiB
    message = str(error.value)
    assert "more than its 1.0 GiB budget" in message
    assert "runtime" in message and "training examples" in message
    assert "the runtime part) need more than the budget: raise memory_budget_gb" in message
    # Refused: config.json is left as it was (similarity not switched off for nothing),
    # and the estimate is kept in the run folder.
    assert config_lib.load(tmp_path / "config.json") == config
    assert json.loads((tmp_path / "memory.json").read_text())["budget_gib"] == 1.0
    # Over the budget by the data, not by the runtime: only changes that can help.
    without = memory.estimate_run_memory(config, split, 0)
    tight = memory.RUNTIME_BYTES + (without.total - memory.RUNTIME_BYTES) // 100
    with pytest.raises(memory.MemoryBudgetError, match="To fit: train on fewer reviews") as error:
        memory.fit_memory_budget(config, split, budget=tight)
    assert "features.use_text=false" in str(error.value)
    assert "sentiment.preset=tiny" not in str(error.value)  # already tiny
    # The budget from the config is used when none is passed.
    roomy = config_lib.resolve("smoke", ["memory_budget_gb=64"])
    assert memory.fit_memory_budget(roomy, split)[1].budget == 64 * GIB


def test_available_memory_covers_what_the_process_holds():
    assert memory.available_bytes() >= rss_bytes() > 0


@pytest.mark.parametrize("value", ["0", "-0.5"])
def test_a_similarity_size_limit_of_zero_is_refused_with_how_to_switch_the_term_off(value):
    # Like similarity_max_items (>= 1): 0 is neither "no limit" nor "never"; it is refused
    # before any work, naming the two fields that switch the term off.
    with pytest.raises(config_lib.ConfigError) as error:
        config_lib.resolve("smoke", [f"features.similarity_max_gb={value}"])
    assert str(error.value) == (
        f"features.similarity_max_gb={float(value)!r}: must be > 0.0; to never build the "
        "item-to-item term set features.item_similarity=false and recsys.item_similarity=false")
    off = config_lib.resolve("smoke", ["features.item_similarity=false",
                                       "recsys.item_similarity=false"])
    resolved, estimate = memory.fit_memory_budget(off, _split(), budget=64 * GIB)
    assert resolved is off and "item similarity" not in estimate.parts
