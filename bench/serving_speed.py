"""Latency of the exported SavedModel: `recommend` vs catalogue size, and `sentiment`.

    python bench/serving_speed.py                        # 1k, 10k, 100k, 1M items (~5 min)
    python bench/serving_speed.py --sizes 1000,10000 --calls 100 --sentiment tiny

For each catalogue size it builds synthetic feature tables (each user ~10 training
reviews, each item at least one), a recommender with random weights over them (the
same towers, rating head and cost as a trained one: default RecsysConfig without
text features and without the item-to-item term, which above
`FeatureConfig.similarity_max_items` items would add its rank-64 projection, 64 more
embedding columns, to what is timed), and exports it with the sentiment
model through the export code (`export_models`). The SavedModel is then LOADED
(`tf.saved_model.load`, the Keras objects dropped) and its `recommend` signature
timed: latency p50 / p99 at batch 1 (known users, so the reviewed-item exclusion
runs) and users/s at batch 64. The
`sentiment` signature is timed on one review of exactly 64 tokens ([CLS] and [SEP]
included). Last, the core of `recommend` at the largest size - one [B, E] x [E, I]
matmul and top-k - is timed with the catalogue stored as float32 (as exported),
float32 transposed, bfloat16 and float16, each as a ratio to float32.

Partitioned index (issue 11, `--index-sizes`, default 1M and 10M items): synthetic
clustered item embeddings (E = the recommender's `output_dim`; `--index-clusters`
Gaussian clusters of standard deviation `--index-spread` around N(0, 1) centres, the
queries drawn the same way) are partitioned by `export.partitioned_index` (k-means on
a sample, every item assigned) and saved in one SavedModel with two signatures: the
brute-force dot product + top-K (what `recommend` does today) and the partitioned
search, for each `--probes` value. Both are timed in the same run, loaded, at batch
1 (p50 / p99), with the recall@K of the partitioned top-K against the brute-force
one, the k-means fit time, the save time and the folder size. It times the index's
first stage; the second stage (the full score of C candidates) is in the full-model
rows when they run with `--index partitioned`.

    python bench/serving_speed.py --sizes "" --index-sizes 1000000,10000000  # index only

Teacher vs student (issue 15, `--student-run RUN`): a run trained with
`sentiment.student_layers` holds the fine-tuned teacher (`sentiment/model`) and its
distilled student (`sentiment/student`). Each one's `sentiment` module is saved as a
SavedModel, loaded, and timed in the same run on one 64-token review at batch 1 (the
two models' calls alternate in blocks of 10, so both meet the same load); the
table puts beside the latencies each model's macro-F1 on the run's held-out reviews
(`sentiment/metrics.json`: "bert" is the teacher, "student" the student) and the
student's share of the teacher's.

    python bench/serving_speed.py --sizes "" --index-sizes "" --student-run runs/musical

The machine's cores are shared: the load average is printed before and after.
`--intra-op-threads` / `--inter-op-threads` set TensorFlow's thread pools as a server
would (TF Serving's `--tensorflow_intra_op_parallelism` /
`--tensorflow_inter_op_parallelism`; 0, the default, is all cores for both).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)

# isort: split

import numpy as np
import pandas as pd
import tensorflow as tf

from tfrec_sentiment.export.config import INDEX_KINDS, ExportConfig
from tfrec_sentiment.export.ops import audit_ops, saved_model_ops
from tfrec_sentiment.export.partitioned_index import PartitionedIndex, default_partitions
from tfrec_sentiment.export.saved_model import METADATA_FILE, export_models
from tfrec_sentiment.features.config import FeatureConfig
from tfrec_sentiment.features.tables import FeatureTables, build_feature_tables
from tfrec_sentiment.recsys.build import build_model
from tfrec_sentiment.recsys.config import RecsysConfig
from tfrec_sentiment.recsys.trained import TrainedRecommender, build_model_variables
from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.model import SentimentModel

REVIEWS_PER_USER = 10
GOALS_MS = {10_000: 10.0, 1_000_000: 50.0}  # recommend p99 at batch 1, on 2 cores
INDEX_GOAL = {"items": 10_000_000, "p99_ms": 50.0, "recall": 0.95}  # issue 11, 2 cores
STUDENT_BLOCK = 10  # teacher and student calls alternate in blocks of this many


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000",
                        help="catalogue sizes, comma-separated")
    parser.add_argument("--calls", type=int, default=300, help="timed batch-1 calls per size")
    parser.add_argument("--batch-calls", type=int, default=15,
                        help="timed batch-64 calls per size")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--sentiment", choices=("minilm", "tiny"), default="minilm",
                        help="sentiment model in the export (minilm: the deployed size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", choices=INDEX_KINDS, default="auto",
                        help="ExportConfig.index of the full-model exports")
    parser.add_argument("--student-run", type=Path, default=None,
                        help="a run with a distilled student: time teacher vs student")
    parser.add_argument("--intra-op-threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: all cores, TF Serving's default)")
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="TensorFlow inter-op threads (0: all cores, TF Serving's default)")
    parser.add_argument("--index-sizes", default="1000000,10000000",
                        help="catalogue sizes of the partitioned-index rows ('' = none)")
    parser.add_argument("--probes", default="8,16,32,64",
                        help="partitions searched, comma-separated (one row each)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="k-means partitions (default: about sqrt(items))")
    parser.add_argument("--index-sample", type=int, default=ExportConfig().index_sample,
                        help="items the k-means is fitted on")
    parser.add_argument("--index-clusters", type=int, default=0,
                        help="synthetic clusters (0: items / 2000)")
    parser.add_argument("--index-spread", type=float, default=0.5,
                        help="standard deviation of a cluster around its N(0, 1) centre")
    parser.add_argument("--index-calls", type=int, default=200,
                        help="timed batch-1 queries per index row")
    return parser.parse_args()


def synthetic_tables(num_items: int, seed: int) -> FeatureTables:
    """Feature tables of a synthetic training split: every item reviewed at least once."""
    rng = np.random.default_rng(seed)
    num_users = max(1000, num_items // REVIEWS_PER_USER)
    n = max(num_items, num_users * REVIEWS_PER_USER)
    item = np.concatenate([rng.permutation(num_items), rng.integers(0, num_items, n - num_items)])
    user = np.arange(n) % num_users
    frame = pd.DataFrame({
        "user_id": np.char.add("U", user.astype(str)),
        "item_id": np.char.add("I", item.astype(str)),
        "rating": rng.integers(1, 6, n).astype(np.float32),
        "helpful_votes": rng.geometric(0.6, n) - 1,
        "timestamp": 1_450_000_000 + rng.integers(0, 63_000_000, n),
    })
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], n).astype(np.float32)
    # Without the item-to-item term: the sweep times the towers' retrieval as it was
    # measured before (with it, 64 more embedding columns above similarity_max_items).
    return build_feature_tables(frame, probabilities, None,
                                FeatureConfig(use_text=False, item_similarity=False))


def random_recommender(tables: FeatureTables, seed: int) -> TrainedRecommender:
    """A recommender over `tables` with random weights: a trained one's shapes and cost."""
    tf.keras.utils.set_random_seed(seed)
    config = RecsysConfig(use_text=False, item_similarity=False)
    model = build_model(config, tables)
    build_model_variables(model, tables, config)
    return TrainedRecommender(model, tables, config)


def latencies(call: Callable[[], object], calls: int, warmup: int = 10) -> list[float]:
    """Wall milliseconds of each of `calls` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def time_recommend(version_dir: Path, users: np.ndarray, args: argparse.Namespace,
                   rng: np.random.Generator) -> dict:
    loaded = tf.saved_model.load(str(version_dir))
    recommend = loaded.signatures["recommend"]
    singles = [tf.constant([u]) for u in rng.choice(users, args.calls + 10)]
    batches = [tf.constant(rng.choice(users, 64)) for _ in range(args.batch_calls + 2)]
    single_iter, batch_iter = iter(singles), iter(batches)

    def one() -> None:
        recommend(user_id=next(single_iter))["item_ids"].numpy()

    def many() -> None:
        recommend(user_id=next(batch_iter))["item_ids"].numpy()

    b1 = latencies(one, args.calls)
    b64 = latencies(many, args.batch_calls, warmup=2)
    return {"p50": percentile(b1, 50), "p99": percentile(b1, 99),
            "users_per_s": 64 * 1e3 / statistics.median(b64), "b64_ms": statistics.median(b64)}


def clustered(count: int, centres: np.ndarray, spread: float,
              rng: np.random.Generator) -> np.ndarray:
    """float32 [count, E]: a random centre each, plus Gaussian noise of sd `spread`."""
    out = np.empty((count, centres.shape[1]), np.float32)
    for start in range(0, count, 1 << 20):  # bounded temporaries
        rows = min(1 << 20, count - start)
        noise = rng.standard_normal((rows, centres.shape[1]), np.float32)
        out[start:start + rows] = centres[rng.integers(0, len(centres), rows)] + spread * noise
    return out


class IndexBench(tf.Module):
    """Brute-force and partitioned top-K over one partitioned catalogue, as signatures."""

    def __init__(self, index: PartitionedIndex, k: int) -> None:
        super().__init__(name="index_bench")
        self.index, self.k = index, k
        dim = index.centroids.shape[1]
        query = tf.TensorSpec([None, dim], tf.float32, name="query")
        self.exact = tf.function(self._exact, input_signature=[query])
        self.partitioned = tf.function(
            self._partitioned, input_signature=[query, tf.TensorSpec([], tf.int32, "probes")])

    def _exact(self, query: tf.Tensor) -> dict:
        scores = tf.matmul(query, self.index.embeddings, transpose_b=True)  # [B, I]
        top, position = tf.math.top_k(scores, k=self.k)
        return {"scores": top, "columns": tf.gather(self.index.columns, position)}

    def _partitioned(self, query: tf.Tensor, probes: tf.Tensor) -> dict:
        top, columns = self.index.search(query, self.k, probes)
        return {"scores": top, "columns": columns}


def time_index(size: int, args: argparse.Namespace, root: str) -> list[dict]:
    """Brute force vs the partitioned index at `size` items: one row per probes value."""
    rng = np.random.default_rng(args.seed)
    dim = RecsysConfig().output_dim
    centres = rng.standard_normal((args.index_clusters or max(size // 2000, 10), dim),
                                  np.float32)
    partitions = min(args.partitions or default_partitions(size), size)
    probes = [min(int(p), partitions) for p in args.probes.split(",")]
    embeddings = clustered(size, centres, args.index_spread, rng)
    index = PartitionedIndex.fit(embeddings, partitions, max(probes), args.index_sample,
                                 args.seed)
    fit_s = index.facts["fit_seconds"]
    del embeddings
    folder = Path(root) / f"index-{size}"
    start = time.perf_counter()
    module = IndexBench(index, args.top_k)
    tf.saved_model.save(module, str(folder), signatures={
        "exact": module.exact, "partitioned": module.partitioned})
    save_s = time.perf_counter() - start
    non_core = audit_ops(saved_model_ops(folder)).to_dict()["non_core_ops"]
    del module, index
    gc.collect()
    loaded = tf.saved_model.load(str(folder))
    exact, partitioned = loaded.signatures["exact"], loaded.signatures["partitioned"]
    queries = [tf.constant(clustered(1, centres, args.index_spread, rng))
               for _ in range(args.index_calls)]
    found: dict[str, list] = {}

    def timed(name: str, call: Callable[[tf.Tensor], dict]) -> dict:
        for query in queries[:10]:
            call(query)
        values, found[name] = [], []
        for query in queries:
            begin = time.perf_counter()
            columns = call(query)["columns"].numpy()
            values.append((time.perf_counter() - begin) * 1e3)
            found[name].append(set(columns[0].tolist()))
        return {"p50": percentile(values, 50), "p99": percentile(values, 99)}

    common = dict(items=size, partitions=partitions, fit_s=fit_s, save_s=save_s,
                  megabytes=folder_megabytes(folder), non_core=non_core,
                  largest=int(np.diff(loaded.index.splits.numpy()).max()))
    rows = [{**common, "search": "brute force", "probes": None, "recall": 1.0,
             **timed("exact", lambda q: exact(query=q))}]
    for count in probes:
        row = timed(f"p{count}", functools.partial(_probed, partitioned, tf.constant(count)))
        recall = np.mean([len(a & b) / args.top_k
                          for a, b in zip(found["exact"], found[f"p{count}"])])
        rows.append({**common, "search": "partitioned", "probes": count, "recall": recall,
                     **row})
    return rows


def _probed(signature: Callable, probes: tf.Tensor, query: tf.Tensor) -> dict:
    return signature(query=query, probes=probes)


def review_of_tokens(sentiment: SentimentModel, tokens: int) -> str:
    """A review text whose packed length ([CLS] ... [SEP]) is exactly `tokens`."""
    words = ("the tuner holds pitch well but the strap buckle feels cheap and the case "
             "rattles a little when i carry it to practice every week").split()

    def length(text: str) -> int:
        return int(sentiment.preprocessor.packed_lengths(tf.constant([text]))[0])

    text = ""
    for i in range(4 * tokens):  # whole words while they fit ...
        longer = f"{text} {words[i % len(words)]}".strip()
        if length(longer) > tokens:
            break
        text = longer
    while length(text) < tokens:  # ... then one-token words
        text += " a"
    if length(text) != tokens:
        raise ValueError(f"no text of {tokens} tokens found")
    return text


def time_sentiment(version_dir: Path, text: str, calls: int) -> dict:
    loaded = tf.saved_model.load(str(version_dir))
    sentiment = loaded.signatures["sentiment"]
    batch = tf.constant([text])
    values = latencies(lambda: sentiment(text=batch)["probabilities"].numpy(), calls)
    return {"p50": percentile(values, 50), "p99": percentile(values, 99)}


def time_student(run: Path, calls: int) -> list[dict]:
    """Teacher and student of `run`: `sentiment` latency (loaded SavedModel, one
    64-token review, batch 1, timed alternately in one process) and held-out macro-F1."""
    metrics = json.loads((run / "sentiment" / "metrics.json").read_text())["results"]
    held_out = next(iter(metrics.values()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="student-speed-") as root:
        for name, folder, key in (("teacher", "model", "bert"), ("student", "student",
                                                                  "student")):
            model = SentimentModel.load(run / "sentiment" / folder)
            module = model.as_module()
            saved = Path(root) / name
            tf.saved_model.save(module, str(saved), signatures={
                "sentiment": module.__call__.get_concrete_function()})
            rows.append({"model": name, "layers": model.describe()["layers"],
                         "saved": saved, "text": review_of_tokens(model, 64),
                         "macro_f1": held_out[key]["macro_f1"]})
        # Alternate blocks of calls, so both models meet the same load on a shared machine.
        calls_of = []
        for row in rows:
            signature = tf.saved_model.load(str(row.pop("saved"))).signatures["sentiment"]
            batch = tf.constant([row.pop("text")])
            calls_of.append(functools.partial(_sentiment_call, signature, batch))
            latencies(calls_of[-1], 0)  # the warm-up calls
        values: list[list[float]] = [[] for _ in rows]
        for start in range(0, calls, STUDENT_BLOCK):
            for call, timed in zip(calls_of, values):
                timed += latencies(call, min(STUDENT_BLOCK, calls - start), warmup=0)
        for row, timed in zip(rows, values):
            row.update(p50=percentile(timed, 50), p99=percentile(timed, 99))
    return rows


def _sentiment_call(signature: Callable, batch: tf.Tensor) -> None:
    signature(text=batch)["probabilities"].numpy()


def report_student(rows: list[dict]) -> None:
    teacher = rows[0]
    print("\nsentiment signature, teacher vs distilled student (one review of 64 tokens, "
          "batch 1, loaded SavedModel)")
    print("| model | layers | p50 ms | p99 ms | held-out macro-F1 | share of teacher's F1 "
          "| p50 / teacher's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['model']} | {row['layers']} | {row['p50']:.1f} | {row['p99']:.1f} | "
              f"{row['macro_f1']:.3f} | {row['macro_f1'] / teacher['macro_f1']:.1%} | "
              f"{row['p50'] / teacher['p50']:.2f} |")


def storage_ratios(num_items: int, dim: int, calls: int, k: int) -> dict[str, dict]:
    """matmul + top-k latency per catalogue storage, at batch 1 and 64."""
    rng = np.random.default_rng(0)
    catalogue = rng.normal(size=(num_items, dim)).astype(np.float32)
    layouts = {
        "float32 [I, E]": (tf.constant(catalogue), True, tf.float32),
        "float32 [E, I]": (tf.constant(catalogue.T.copy()), False, tf.float32),
        "bfloat16 [I, E]": (tf.cast(tf.constant(catalogue), tf.bfloat16), True, tf.bfloat16),
        "float16 [I, E]": (tf.cast(tf.constant(catalogue), tf.float16), True, tf.float16),
    }
    out = {}
    for name, (stored, transpose, dtype) in layouts.items():
        @tf.function(input_signature=[tf.TensorSpec([None, dim], tf.float32)])
        def search(query, stored=stored, transpose=transpose, dtype=dtype):
            scores = tf.matmul(tf.cast(query, dtype), stored, transpose_b=transpose)
            return tf.math.top_k(tf.cast(scores, tf.float32), k=k)

        one, many = tf.constant(rng.normal(size=(1, dim)), tf.float32), tf.constant(
            rng.normal(size=(64, dim)), tf.float32)
        out[name] = {
            "b1": percentile(latencies(lambda s=search, q=one: s(q)[0].numpy(), calls), 50),
            "b64": percentile(latencies(lambda s=search, q=many: s(q)[0].numpy(),
                                        max(calls // 10, 5), warmup=2), 50),
        }
    return out


def folder_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def conditions() -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"cpus={os.cpu_count()} load average (1/5/15 min)={load} "
            f"intra-op threads={tf.config.threading.get_intra_op_parallelism_threads() or 'all'} "
            f"inter-op threads={tf.config.threading.get_inter_op_parallelism_threads() or 'all'} "
            f"tensorflow={tf.__version__}")


def main() -> None:
    args = parse_args()
    # The served process's settings (TF Serving: --tensorflow_intra_op_parallelism,
    # --tensorflow_inter_op_parallelism); set before TensorFlow runs anything.
    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print("conditions before:", conditions())
    sentiment = None if not sizes else SentimentModel.from_config(
        SentimentConfig(preset=args.sentiment) if args.sentiment == "minilm"
        else SentimentConfig(preset="tiny", sequence_length=128))
    rng = np.random.default_rng(args.seed)
    rows = []
    sentiment_row = None
    index_rows = []
    with tempfile.TemporaryDirectory(prefix="serving-speed-") as root:
        for size in [int(s) for s in args.index_sizes.split(",") if s]:
            index_rows += time_index(size, args, root)
            for row in index_rows[-len(args.probes.split(",")) - 1:]:
                print(f"  index {size:>10,} items, {row['search']} probes={row['probes']}: "
                      f"p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, recall@"
                      f"{args.top_k} {row['recall']:.3f}", flush=True)
            shutil.rmtree(Path(root) / f"index-{size}", ignore_errors=True)
        config = ExportConfig(root=root, model_name="bench", top_k=args.top_k, index=args.index)
        for size in sizes:
            start = time.perf_counter()
            tables = synthetic_tables(size, args.seed)
            recommender = random_recommender(tables, args.seed)
            users = np.asarray(tables.ids["user"])
            version_dir = export_models(sentiment, recommender, config)
            built = time.perf_counter() - start
            del recommender, tables
            gc.collect()
            row = time_recommend(version_dir, users, args, rng)
            row.update(items=size, build_s=built, megabytes=folder_megabytes(version_dir),
                       index=json.loads((version_dir / "assets.extra" / METADATA_FILE)
                                        .read_text())["index"])
            rows.append(row)
            print(f"  {size:>9,} items ({row['index']['kind']} index): p50 "
                  f"{row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, "
                  f"{row['users_per_s']:.0f} users/s at batch 64 (export {built:.0f} s, "
                  f"{row['megabytes']:.0f} MB)", flush=True)
            if sentiment_row is None:
                text = review_of_tokens(sentiment, 64)
                sentiment_row = time_sentiment(version_dir, text, max(args.calls // 3, 20))
            gc.collect()
        dim = RecsysConfig().output_dim
        storage = (storage_ratios(max(sizes), dim, max(args.calls // 3, 20), args.top_k)
                   if sizes else None)
    if args.student_run is not None:
        report_student(time_student(args.student_run, max(args.calls // 3, 20)))
    if rows:
        report(rows, sentiment_row, storage, args)
    if index_rows:
        report_index(index_rows, args)
    print("conditions after:", conditions())


def report_index(rows: list[dict], args: argparse.Namespace) -> None:
    goal = INDEX_GOAL
    print(f"\npartitioned index vs brute force (loaded SavedModel, batch 1, K={args.top_k}, "
          f"E={RecsysConfig().output_dim}, {args.index_calls} queries; synthetic clustered "
          f"embeddings: {args.index_clusters or 'items / 2000'} clusters, sd "
          f"{args.index_spread}; k-means sample {args.index_sample:,})")
    print(f"| items | search | partitions | probes | p50 ms | p99 ms | recall@{args.top_k} | "
          f"goal at {goal['items'] // 10**6}M: p99 < {goal['p99_ms']:.0f} ms, recall >= "
          f"{goal['recall']} |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        verdict = ""
        if row["items"] == goal["items"] and row["probes"] is not None:
            met = row["p99"] < goal["p99_ms"] and row["recall"] >= goal["recall"]
            verdict = "met" if met else "missed"
        print(f"| {row['items']:,} | {row['search']} | {row['partitions']:,} | "
              f"{row['probes'] or 'all'} | {row['p50']:.2f} | {row['p99']:.2f} | "
              f"{row['recall']:.3f} | {verdict} |")
    print("| items | k-means fit + assign s | save s | folder MB | largest partition | "
          "non-core ops |")
    print("|---:|---:|---:|---:|---:|---|")
    for row in rows:
        if row["probes"] is None:
            print(f"| {row['items']:,} | {row['fit_s']:.0f} | {row['save_s']:.0f} | "
                  f"{row['megabytes']:.0f} | {row['largest']:,} | "
                  f"{', '.join(row['non_core']) or 'none'} |")


def report(rows: list[dict], sentiment_row: dict, storage: dict | None,
           args: argparse.Namespace) -> None:
    print(f"\nrecommend (loaded SavedModel, K={args.top_k}, E={RecsysConfig().output_dim}, "
          "retrieval score mode, reviewed items excluded)")
    print("| items | index | p50 ms (batch 1) | p99 ms (batch 1) | users/s (batch 64) | "
          "goal p99 | p50 / p50 at smallest |")
    print("|---:|---|---:|---:|---:|---|---:|")
    base = rows[0]["p50"]
    for row in rows:
        goal = GOALS_MS.get(row["items"])
        verdict = "" if goal is None else (
            f"< {goal:.0f} ms: {'met' if row['p99'] < goal else 'MISSED'}")
        index = row["index"]
        kind = index["kind"] if index["kind"] == "exact" else (
            f"partitioned P={index['partitions']:,} probes={index['probes']} "
            f"C={index['candidates']}")
        print(f"| {row['items']:,} | {kind} | {row['p50']:.2f} | {row['p99']:.2f} | "
              f"{row['users_per_s']:.0f} | {verdict} | {row['p50'] / base:.1f}x |")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        slope = (last["p50"] - first["p50"]) / (last["items"] - first["items"]) * 1e6
        print(f"growth: p50 rises {slope:.2f} ms per million items "
              f"({last['p50'] / first['p50']:.1f}x from {first['items']:,} to "
              f"{last['items']:,}); the per-request overhead is ~{first['p50']:.2f} ms")
    print(f"\nsentiment ({args.sentiment}, one review of 64 tokens, batch 1): "
          f"p50 {sentiment_row['p50']:.1f} ms, p99 {sentiment_row['p99']:.1f} ms")
    if storage is None:
        return
    print(f"\nscore + top-{args.top_k} core at {max(r['items'] for r in rows):,} items, "
          "by catalogue storage (ratio = time / float32 [I, E])")
    print("| storage | batch 1 ms | ratio | batch 64 ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    reference = storage["float32 [I, E]"]
    for name, row in storage.items():
        print(f"| {name} | {row['b1']:.2f} | {row['b1'] / reference['b1']:.2f} | "
              f"{row['b64']:.1f} | {row['b64'] / reference['b64']:.2f} |")


if __name__ == "__main__":
    main()
