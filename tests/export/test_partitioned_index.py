"""PartitionedIndex: exact when every partition is probed, recall with few, and the
two-stage `recommend` of a SavedModel served in a fresh process."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import ALL, TOP_K
from tests.export.test_saved_model import REQUESTS, _tensor
from tests.export.wire import decode
from tfrec_sentiment.config_checks import ConfigError
from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.index import EMPTY_SCORE, CatalogueIndex
from tfrec_sentiment.export.partitioned_index import PartitionedIndex, default_partitions

# --- the index alone -------------------------------------------------------------------


def _catalogue(num_users=12, num_items=60, dim=6, k=4, seed=0):
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(num_items, dim)).astype(np.float32)
    counts = rng.integers(0, 15, size=num_users)
    counts[:2] = [0, num_items - 2]  # nothing reviewed / all but two
    user_index = np.repeat(np.arange(num_users), counts)
    item_index = np.concatenate([rng.choice(num_items, c, replace=False) for c in counts])
    index = CatalogueIndex.from_interactions([f"i{i}" for i in range(num_items)],
                                             [f"u{u}" for u in range(num_users)],
                                             user_index, item_index, k=k)
    return items, index, rng


def test_every_partition_probed_gives_brute_force_ids_and_scores_with_exclusion():
    items, index, rng = _catalogue()
    partitioned = PartitionedIndex.fit(items, partitions=7, probes=7, seed=0)
    users = tf.constant([f"u{u}" for u in range(12)] + ["stranger"])
    queries = tf.constant(rng.normal(size=(13, items.shape[1])).astype(np.float32))
    excluded = index.seen(users)
    want_ids, want_scores = index.top_k(tf.matmul(queries, items, transpose_b=True), excluded)
    scores, columns = partitioned.search(queries, depth=len(items))
    assert sorted(columns.numpy()[0].tolist()) == list(range(len(items)))  # all scored
    ids, top = index.top_k_among(scores, columns, excluded)
    np.testing.assert_array_equal(ids.numpy(), want_ids.numpy())
    np.testing.assert_allclose(top.numpy(), want_scores.numpy(), rtol=1e-5)
    # User u1 reviewed all but two items: two real slots, then padding.
    assert ids.numpy()[1].tolist()[2:] == [b""] * 2 and top.numpy()[1, 3] == EMPTY_SCORE


def test_one_probe_misses_an_item_whose_partition_is_not_searched():
    # Hand-made: partition 0 = centroid (1, 0) holding item 0 = (1, 0); partition 1 =
    # centroid (0, 1) holding item 1 = (0, 5). Query (1, 0.5): centroids score 1 and
    # 0.5, so one probe searches partition 0 only and finds item 0 (score 1), while
    # brute force ranks item 1 (score 2.5) first.
    index = PartitionedIndex(centroids=[[1, 0], [0, 1]], splits=[0, 1, 2], columns=[0, 1],
                             embeddings=[[1, 0], [0, 5]], probes=1)
    scores, columns = index.search(tf.constant([[1.0, 0.5]]), depth=2)
    assert columns.numpy().tolist() == [[0]] and scores.numpy().tolist() == [[1.0]]
    index.probes = 2
    scores, columns = index.search(tf.constant([[1.0, 0.5]]), depth=2)
    assert columns.numpy().tolist() == [[1, 0]] and scores.numpy().tolist() == [[2.5, 1.0]]


def test_few_probes_find_the_top_items_of_well_separated_clusters():
    rng = np.random.default_rng(1)
    centers = 10 * rng.normal(size=(8, 16))
    items = np.concatenate([c + 0.1 * rng.normal(size=(40, 16)) for c in centers])
    items = items.astype(np.float32)
    index = PartitionedIndex.fit(items, partitions=8, probes=1, seed=0)
    assert sorted(np.diff(index.splits.numpy()).tolist()) == [40] * 8  # the clusters
    queries = (centers + 0.1 * rng.normal(size=(8, 16))).astype(np.float32)
    scores, columns = index.search(tf.constant(queries), depth=5)
    exact = np.argsort(-(queries @ items.T), axis=1)[:, :5]
    assert (np.sort(columns.numpy(), axis=1) == np.sort(exact, axis=1)).all()  # recall 1
    # One partition of 40 items searched, not the 320 of the catalogue.
    _, every = index.search(tf.constant(queries[:1]), depth=320)
    assert every.shape == (1, 40)


def test_rows_probing_fewer_items_are_padded_with_minus_one():
    index = PartitionedIndex(centroids=[[1.0], [-1.0]], splits=[0, 3, 4], columns=[0, 2, 3, 1],
                             embeddings=[[1.0], [2.0], [3.0], [-1.0]], probes=1)
    scores, columns = index.search(tf.constant([[1.0], [-1.0]]), depth=3)
    assert columns.numpy().tolist() == [[3, 2, 0], [1, -1, -1]]
    assert scores.numpy()[1].tolist() == [1.0, -np.inf, -np.inf]


@pytest.mark.parametrize("kwargs, message", [
    (dict(splits=[0, 2, 1]), "non-decreasing"),
    (dict(columns=[0, 0, 1]), "exactly once"),
    (dict(embeddings=[[1.0], [2.0]]), "embeddings must be [3, 1]"),
    (dict(probes=3), "probes must be in 1..2"),
])
def test_inconsistent_tables_are_refused(kwargs, message):
    args = dict(centroids=[[1.0], [2.0]], splits=[0, 1, 3], columns=[2, 0, 1],
                embeddings=[[1.0], [2.0], [3.0]], probes=1)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(".", r"\.")):
        PartitionedIndex(**{**args, **kwargs})


def test_default_partitions_is_about_the_square_root_of_the_items():
    assert [default_partitions(n) for n in (1, 3, 100, 10_000_000)] == [1, 2, 10, 3162]


def test_the_kmeans_sample_is_raised_to_the_partitions_and_capped_at_the_items():
    items = np.random.default_rng(2).normal(size=(60, 3)).astype(np.float32)
    fitted = {sample: PartitionedIndex.fit(items, partitions=12, probes=1, sample=sample,
                                           seed=0).facts["fit_sample"]
              for sample in (5, 30, 1000)}
    assert fitted == {5: 12, 30: 30, 1000: 60}  # max(sample, P), at most the items


def test_fit_and_the_config_share_one_default_sample():
    import inspect

    default = inspect.signature(PartitionedIndex.fit).parameters["sample"].default
    assert default == ExportConfig().index_sample == 200_000  # docs/serving.md's table


# --- config ----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(index="fast"), "index='fast': choose one of auto, exact, partitioned"),
    (dict(partitions=0), "partitions=0: must be >= 1"),
    (dict(partitions=8, probes=9), "probes=9: must be <= partitions (8)"),
    (dict(top_k=10, candidates=5), "candidates=5: must be >= top_k (10)"),
    (dict(index_auto_items=0), "index_auto_items=0: must be >= 1"),
])
def test_bad_index_settings_fail_with_field_and_value(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        ExportConfig(**kwargs)
    assert str(caught.value).startswith(message)


def test_auto_is_exact_up_to_the_threshold_and_partitioned_above():
    config = ExportConfig(index_auto_items=1000)
    assert [config.index_kind(n) for n in (40, 1000, 1001)] == ["exact", "exact",
                                                                  "partitioned"]
    assert ExportConfig(index="exact").index_kind(10**8) == "exact"
    assert ExportConfig(index="partitioned").index_kind(5) == "partitioned"
    assert ExportConfig(top_k=10).candidate_count == 100
    assert ExportConfig(top_k=30).candidate_count == 300
    assert ExportConfig(top_k=5, candidates=7).candidate_count == 7


# --- the SavedModel ----------------------------------------------------------------------

# The `learned` recommender (a fitted blend in which every component counts) and its
# export behind the partitioned index `ALL` are tests/export/conftest.py's.


@pytest.fixture(scope="module")
def modules(tiny_sentiment, learned):
    from tfrec_sentiment.export.module import build_serving_module

    exact = build_serving_module(tiny_sentiment, learned, TOP_K)
    partitioned = build_serving_module(tiny_sentiment, learned, TOP_K, ExportConfig(**ALL))
    return exact, partitioned


def _same(got: dict, want: dict) -> None:
    np.testing.assert_array_equal(got["item_ids"].numpy(), want["item_ids"].numpy())
    np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), atol=1e-4)


def test_two_stages_with_every_partition_equal_the_exact_learned_blend(modules):
    exact, partitioned = modules
    assert exact.describe_index() == {"kind": "exact"}
    facts = partitioned.describe_index()
    assert (facts["kind"], facts["partitions"], facts["probes"], facts["candidates"]) == (
        "partitioned", 4, 4, 40)
    users = tf.constant(["u001", "u042", "u007", "nobody", ""])
    _same(partitioned.recommend(users), exact.recommend(users))
    (name, inputs), = [r for r in REQUESTS if r[0] == "recommend_from_reviews"]
    reviews = {k: _tensor(v) for k, v in inputs.items()}
    _same(partitioned.recommend_from_reviews(**reviews), exact.recommend_from_reviews(**reviews))


def test_fewer_candidates_rank_the_retrieval_top_c_by_the_full_score(modules, learned):
    _, partitioned = modules
    serving = learned.serving
    user = serving.user_outputs(tf.constant(["u001"]))
    _, columns = partitioned.partitions.search(user["embedding"], TOP_K)
    retrieval = serving.score_components(tf.constant(["u001"]),
                                         tf.constant(learned.tables.ids["item"].astype(str)))
    best = np.argsort(-retrieval["retrieval"].numpy()[0], kind="stable")[:TOP_K]
    assert sorted(columns.numpy()[0].tolist()) == sorted(best.tolist())
    # Their full scores are the catalogue's blend at those columns.
    full = serving.score_catalogue(tf.constant(["u001"])).numpy()[0]
    scores = serving.score_columns(user, columns, tf.constant(["u001"])).numpy()[0]
    np.testing.assert_allclose(scores, full[columns.numpy()[0]], atol=1e-4)


def test_partitioned_saved_model_serves_in_a_fresh_process_like_the_module(
        learned_exported, modules, fresh_served):
    from tfrec_sentiment.export.saved_model import METADATA_FILE

    version = learned_exported
    facts = json.loads((version / "assets.extra" / METADATA_FILE).read_text())
    assert facts["index"]["kind"] == "partitioned" and facts["index"]["partitions"] == 4
    # This run has no aspect profiles: no `explain` signature to call.
    calls = [(name, inputs) for name, inputs in REQUESTS if name != "explain"]
    served = fresh_served[version]  # these calls (tests/export/conftest.py)
    assert served["modules"] == [] and served["ops"]["unknown"] == []
    assert len(served["results"]) == len(calls)
    _, partitioned = modules
    for (name, inputs), got in zip(calls, served["results"]):
        if not name.startswith("recommend"):
            continue
        want = getattr(partitioned, name)(**{k: _tensor(v) for k, v in inputs.items()})
        np.testing.assert_array_equal(decode(got["item_ids"]), want["item_ids"].numpy(),
                                      err_msg=name)
        np.testing.assert_allclose(decode(got["scores"]), want["scores"].numpy(), atol=1e-5,
                                   err_msg=name)
