"""Scaling: how time and memory grow with the data, recommender examples/s with 1
process vs 2 worker processes, and the wall time of a feedback update vs a full
retrain on the same data.

    python bench/scale.py --growth               # 10k, 100k, 300k, 1M synthetic reviews
    python bench/scale.py --growth --sizes 10k,30k,100k --max-rss-gb 12
    python bench/scale.py                        # parts workers and update, demo data
    python bench/scale.py --part workers \
        --data ../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz
    python bench/scale.py --part update --sentiment-preset tiny

Part "growth" (`--growth`): for each size, a fresh process generates the synthetic demo
data at that many reviews (10 per user, half as many items as users; before the
stages' clock starts, since the generator draws each user's items from the whole
catalogue, which is the bench's cost, not the package's; its time is printed apart)
and runs `tools/train.py --preset smoke --seeds 0` without the export (tiny BERT, one epoch,
one evaluation seed: the ablation reuses the recommender stage's model).
It prints, per stage, the wall seconds and the peak resident memory in MiB (sampled
every 0.1 s by `pipeline.stages.StageTimer`), and the ratio of each to the previous
size, divided by the growth of the data (1.00 = linear); a stage the run skipped (the
smoke preset switches the cold-start and comment-only protocols off) says so. A second
table gives the same in CPU seconds (the cost on a shared machine), and two lines put
the evaluation beside the recommender stage it evaluates: without the ablation's
recommender trainings (MF's included), then without any compared model's fit (the
baselines', their validation grids included), each fit named. The evaluation ranks
at most `evaluation.max_users` test users and the training monitor
`recsys.monitor_max_users` validation users (10,000 each), so neither grows as users x
items. A size whose process grows past `--max-rss-gb` (GiB) is stopped there and
reported with the stage it reached, so the bench never meets the kernel's OOM killer; a
size's process stopped by hand (kill it, not this script) reports the stages it
finished.

Part "workers": the same training (same data, seed and GLOBAL batch) runs once in
one process (default strategy, one replica) and once as a 2-worker
MultiWorkerMirroredStrategy cluster on 127.0.0.1 (one replica per worker, each
worker keeps half of every global batch). Both run as fresh subprocesses of this
script. Sentiment probabilities and text embeddings are random (no shape or cost
changes; this measures the recommender). Throughput is the median over the epochs
after the first (which traces). Prints both rates and the ratio.

Part "update": a parent run is trained on the older (1 - feedback share) of the
reviews (data, sentiment fine-tuning, features, recommender, export), then
  - the update folds the newer reviews in (`pipeline.update.run_update`: ingest,
    cached scoring, features, warm start, guardrail, export), and
  - a full retrain runs the same stages from scratch on all the reviews,
each timed by wall clock. Prints both, the ratio and the stage times.

On a machine shared with other jobs the numbers move; run it alone and quote the
conditions it prints (CPU count, load average before each part).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# TensorFlow-free imports only: `--help` and argument errors print no TensorFlow log
# line; each part imports what needs TensorFlow itself, once the arguments are read.
import tfrec_sentiment  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS; no TF op yet)
from tfrec_sentiment.pipeline.stages import stage_peaks, stage_rows

REAL_DATA = (Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon2014"
             / "reviews_Musical_Instruments_5.json.gz")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--part", choices=("workers", "update", "both", "growth"),
                        default="both")
    parser.add_argument("--growth", action="store_true", help="same as --part growth")
    parser.add_argument("--sizes", default="10k,100k,300k,1M",
                        help="growth: review counts, e.g. 10k,100k,1M")
    parser.add_argument("--max-rss-gb", type=float, default=16.0,
                        help="growth: stop a size whose process passes this peak memory "
                             "(GiB)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="growth: config override for every size; repeatable")
    parser.add_argument("--minilm-sample", type=int, default=512,
                        help="growth: demo reviews the real MiniLM scores to extrapolate its "
                             "scoring time to each size (0: skip)")
    parser.add_argument("--data", default="demo",
                        help="'demo' or a review file (e.g. Musical Instruments: "
                             f"{REAL_DATA})")
    parser.add_argument("--epochs", type=int, default=4, help="workers part: epochs")
    parser.add_argument("--batch-size", type=int, default=256, help="GLOBAL batch size")
    parser.add_argument("--text-dim", type=int, default=384)
    parser.add_argument("--feedback-share", type=float, default=0.2,
                        help="update part: newest share of the reviews used as feedback")
    parser.add_argument("--sentiment-preset", default="tiny",
                        help="update part: 'tiny' (fast) or 'minilm' (real, slow on CPU)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--growth-child", type=int, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--growth-out", type=Path, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args()
    if args.growth:
        args.part = "growth"
    return args


def conditions() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs visible, load average {load[0]:.2f} / {load[1]:.2f} "
            f"(1 / 5 min)")


# --- part "workers" ---------------------------------------------------------------------


def worker_main(args: argparse.Namespace) -> None:
    """One training process (TF_CONFIG set: one worker of the cluster). Writes JSON."""
    from tfrec_sentiment.distribute.strategy import make_strategy

    strategy = make_strategy("multi_worker" if "TF_CONFIG" in os.environ else "default")
    import numpy as np

    from tfrec_sentiment.data.prepare import load_dataset
    from tfrec_sentiment.data.splits import leave_last_out
    from tfrec_sentiment.features.tables import build_feature_tables
    from tfrec_sentiment.recsys.config import RecsysConfig
    from tfrec_sentiment.recsys.train import EpochTimer, train_recommender

    split = leave_last_out(load_dataset(args.data).reviews)
    rng = np.random.default_rng(0)
    n = len(split.train)
    tables = build_feature_tables(
        split.train, rng.dirichlet(np.ones(3), size=n).astype(np.float32),
        rng.normal(size=(n, args.text_dim)).astype(np.float32))
    config = RecsysConfig(epochs=args.epochs, batch_size=args.batch_size, monitor="val_rmse",
                          early_stopping_patience=args.epochs + 1)
    train_only = type("TrainOnly", (), {"train": split.train, "validation": None})()
    timer = EpochTimer()
    train_recommender(config, train_only, tables, strategy, seed=0, callbacks=[timer])
    steps = n // args.batch_size
    later = timer.seconds[1:] or timer.seconds
    args.worker.write_text(json.dumps({
        "examples": n, "steps": steps, "epoch_seconds": timer.seconds,
        "examples_per_s": steps * args.batch_size / statistics.median(later),
        "replicas": strategy.num_replicas_in_sync}))


def _spawn(args: argparse.Namespace, result: Path, env: dict) -> subprocess.Popen:
    command = [sys.executable, __file__, "--worker", str(result), "--data", args.data,
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--text-dim", str(args.text_dim)]
    return subprocess.Popen(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(processes: list[subprocess.Popen], timeout: float) -> None:
    try:
        for process in processes:
            _, err = process.communicate(timeout=timeout)
            if process.returncode:
                raise RuntimeError(f"training process failed:\n{err[-3000:]}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def bench_workers(args: argparse.Namespace) -> None:
    from tfrec_sentiment.distribute.multi_worker import tf_config  # imports TensorFlow

    print(f"[workers] {conditions()}")
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        folder = Path(folder)
        single = folder / "single.json"
        _finish([_spawn(args, single, {})], timeout=3600)
        one = json.loads(single.read_text())
        ports = []
        for _ in range(2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                ports.append(sock.getsockname()[1])
        addresses = [f"127.0.0.1:{p}" for p in ports]
        results = [folder / f"worker-{i}.json" for i in range(2)]
        _finish([_spawn(args, results[i], {"TF_CONFIG": tf_config(addresses, i)})
                 for i in range(2)], timeout=3600)
        two = json.loads(results[0].read_text())
    print(f"data {args.data}: {one['examples']} training examples, global batch "
          f"{args.batch_size}, {one['steps']} steps/epoch, {args.epochs} epochs")
    print(f"1 process  (1 replica):            {one['examples_per_s']:9.0f} examples/s")
    print(f"2 workers  ({two['replicas']} replicas, gRPC on 127.0.0.1): "
          f"{two['examples_per_s']:9.0f} examples/s")
    print(f"ratio 2 workers vs 1 process: {two['examples_per_s'] / one['examples_per_s']:.2f}x")


# --- part "update" ----------------------------------------------------------------------


def _write_parts(args: argparse.Namespace, folder: Path) -> tuple[Path, Path, Path]:
    """The reviews as three CSV files: older (parent), newer (feedback), all (retrain)."""
    from tfrec_sentiment.data.prepare import load_dataset

    reviews = load_dataset(args.data).reviews.sort_values("timestamp", kind="stable")
    columns = ["user_id", "item_id", "rating", "text", "title", "helpful_votes", "timestamp"]
    cut = int(reviews["timestamp"].quantile(1.0 - args.feedback_share))
    paths = (folder / "older.csv", folder / "newer.csv", folder / "all.csv")
    for path, part in zip(paths, (reviews[reviews["timestamp"] < cut],
                                  reviews[reviews["timestamp"] >= cut], reviews)):
        part[columns].to_csv(path, index=False)
    return paths


def _train_run(config, run_dir: Path) -> dict:
    """The training chain without the ablation (the update has none either)."""
    from tfrec_sentiment.distribute.strategy import make_strategy
    from tfrec_sentiment.pipeline import train as pipeline
    from tfrec_sentiment.pipeline.stages import StageTimer, new_run_dir

    run_dir = new_run_dir(config, run_dir)
    strategy, timer = make_strategy("default"), StageTimer()
    with timer("data"):
        _, split = pipeline.data_stage(config, run_dir)
    with timer("sentiment"):
        sentiment, scores = pipeline.sentiment_stage(config, split, run_dir, strategy, False)
    with timer("features"):
        tables = pipeline.feature_stage(config, split, scores, run_dir)
    with timer("recsys"):
        recommender = pipeline.recsys_stage(config, split, tables, run_dir, strategy, False)
    with timer("export"):
        pipeline.export_stage(config, run_dir, sentiment, recommender)
    return timer.to_dict()


def bench_update(args: argparse.Namespace) -> None:
    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.pipeline.update import run_update

    print(f"[update] {conditions()}")
    folder = Path(tempfile.mkdtemp(prefix="scale-update-"))
    try:
        older, newer, everything = _write_parts(args, folder)

        def config(path: Path, name: str):
            return config_lib.resolve("demo", [
                f"name={name}", f"data.dataset={path}", "data.format=csv",
                f"sentiment.preset={args.sentiment_preset}",
                f"export.root={folder / 'saved_models'}", f"export.model_name={name}"])

        parent = _train_run(config(older, "scale"), folder / "parent")
        start = time.perf_counter()
        update = run_update(folder / "parent", [newer], run_dir=folder / "update",
                            progress=False)
        update_s = time.perf_counter() - start
        retrain = _train_run(config(everything, "retrain"), folder / "retrain")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"data {args.data}: feedback = newest {args.feedback_share:.0%} of the reviews, "
          f"sentiment preset {args.sentiment_preset}")
    print(f"parent run (older reviews): {parent['total_seconds']:.1f} s {parent['seconds']}")
    print(f"update:  {update_s:7.1f} s  {update.timing['seconds']} -> {update.decision.status}")
    print(f"retrain: {retrain['total_seconds']:7.1f} s  {retrain['seconds']}")
    print(f"ratio update vs full retrain: {update_s / retrain['total_seconds']:.2f}x "
          f"({retrain['total_seconds'] / update_s:.1f}x faster)")


# --- part "growth" ----------------------------------------------------------------------


def _count(text: str) -> int:
    """'300k' -> 300000, '1M' -> 1000000, '5000' -> 5000."""
    text = text.strip()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def growth_child(args: argparse.Namespace) -> None:
    """One size: the smoke chain on synthetic reviews; writes timing JSON to --growth-out.

    A watchdog thread stops the process (exit 3) once it passes --max-rss-gb, after
    writing what finished and the stage it was in. The file is also rewritten after
    each stage (status "interrupted after stage ..." until the chain is done), so a
    size stopped by hand, e.g. 1M reviews with no time left for its evaluation, still
    reports the stages it finished.
    """
    import contextlib
    import threading

    from tfrec_sentiment import config as config_lib
    from tfrec_sentiment.data import prepare
    from tfrec_sentiment.pipeline import stages
    from tfrec_sentiment.pipeline import train as pipeline

    reviews = args.growth_child
    users = max(1, reviews // 10)
    config = config_lib.resolve("smoke", [
        "name=growth", f"data.demo_users={users}", f"data.demo_items={max(10, users // 2)}",
        "evaluation.seeds=0", *args.set])
    timers: list[stages.StageTimer] = []
    current = {"stage": "start"}
    generated = pregenerated_demo(prepare, config)

    class RecordingTimer(stages.StageTimer):
        def __init__(self) -> None:
            super().__init__()
            timers.append(self)

        @contextlib.contextmanager
        def __call__(self, stage: str):
            current["stage"] = stage
            with super().__call__(stage):
                yield
            # Each finished stage is on file: a size stopped later (by the watchdog,
            # or by hand when it would take too long) still reports it.
            write(f"interrupted after stage '{stage}'")

    run_dir = args.growth_out.parent / f"run-{reviews}"

    def write(status: str) -> None:
        timer = timers[0] if timers else stages.StageTimer()
        payload = {
            "reviews_asked": reviews, "status": status, "stage": current["stage"],
            "generation_seconds": generated,
            "seconds": timer.seconds, "cpu_seconds": timer.cpu_seconds,
            "peak_rss_mib": timer.peak_rss_mib,
            "skipped": timer.skipped, "max_rss_mib": stages.rss_bytes() / 2**20}
        if (run_dir / "memory.json").is_file():  # the estimate made after the data stage
            payload["estimate"] = json.loads((run_dir / "memory.json").read_text())
        split = run_dir / "data" / "split.json"
        if split.is_file():  # once the data stage is done: the reviews the run kept
            parts = json.loads(split.read_text())
            payload["reviews"] = sum(parts[name]["rows"]
                                     for name in ("train", "validation", "test"))
        args.growth_out.write_text(json.dumps(payload))

    limit = args.max_rss_gb * 2**30

    def watchdog() -> None:
        while True:
            time.sleep(0.2)
            if stages.rss_bytes() > limit:
                write(f"stopped: over {args.max_rss_gb:g} GiB")
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    pipeline.StageTimer = RecordingTimer  # the chain's own timer, recording its stage
    pipeline.run_training(config, run_dir, progress=False, export=False)
    write("done")
    payload = json.loads(args.growth_out.read_text())
    variants = json.loads((run_dir / "evaluation" / "metrics.json").read_text())["variants"]
    payload["ablation_training_seconds"] = sum(  # the recommender variants' trainings
        sum(v.get("train_seconds", [])) for v in variants.values() if not v["deterministic"])
    payload["fit_seconds"] = {  # every compared model's fit (the baselines' included)
        name: sum(v.get("train_seconds", [])) for name, v in variants.items()}
    args.growth_out.write_text(json.dumps(payload))


def pregenerated_demo(prepare, config) -> float:
    """Generates the run's synthetic reviews now, before the chain's clock starts, and
    has `prepare.load_dataset` take them instead of generating them in the data stage
    (once; a second call generates as usual). Returns the generation's wall seconds.

    The generator is the bench's input, not work a user's data costs: each synthetic
    user draws its items from the whole catalogue (users x items), so timed inside the
    data stage it would read as the package's growth.
    """
    generate = prepare.generate_demo
    data = config.data
    started = time.perf_counter()
    frames = [generate(seed=config.seed, users=data.demo_users, items=data.demo_items)]
    seconds = time.perf_counter() - started

    def pregenerated(seed: int, users: int, items: int):
        if frames and (seed, users, items) == (config.seed, data.demo_users, data.demo_items):
            return frames.pop()  # dropped here: the data stage holds the only reference
        return generate(seed=seed, users=users, items=items)

    prepare.generate_demo = pregenerated
    return round(seconds, 1)


def bench_growth(args: argparse.Namespace) -> None:
    print(f"[growth] {conditions()}; smoke preset, no export; stop at {args.max_rss_gb:g} GiB."
          " Reviews: those left after cleaning and the split's cold-start hold-out; growth"
          " vs linear = (this size's / the previous size's) / (the reviews' ratio), 1.00 ="
          " linear; memory in MiB")
    results = []
    with tempfile.TemporaryDirectory(prefix="growth-") as folder:
        for size in (_count(s) for s in args.sizes.split(",")):
            out = Path(folder) / f"growth-{size}.json"
            command = [sys.executable, __file__, "--growth-child", str(size),
                       "--growth-out", str(out), "--max-rss-gb", str(args.max_rss_gb)]
            command += [f"--set={value}" for value in args.set]
            start = time.perf_counter()
            process = subprocess.run(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
            if not out.is_file():
                raise RuntimeError(f"size {size} failed (exit {process.returncode}):\n"
                                   f"{process.stderr[-3000:]}")
            result = json.loads(out.read_text())
            result["wall"] = time.perf_counter() - start
            results.append(result)
            print(f"  {size:>9,} reviews asked: {result['status']} in {result['wall']:.0f} s "
                  f"(last stage {result['stage']}, peak {_max_rss_mib(result):.0f} MiB; "
                  f"the synthetic data generated first in "
                  f"{result.get('generation_seconds', 0):.0f} s, outside the stages)",
                  flush=True)
            if result["status"] != "done":
                break
    print(growth_table(results))
    if all("cpu_seconds" in r for r in results):
        print("\nThe same in CPU seconds (user + system of the run's process; on a shared "
              "machine the wall time grows with the other load, the CPU time much less):\n")
        print(growth_table(results, clock="cpu_seconds"))
    if args.minilm_sample:
        rate = minilm_scoring_rate(args.minilm_sample)
        sizes = sorted({r.get("reviews", r["reviews_asked"]) for r in results} | {1_000_000})
        print(f"\nThe real MiniLM-L6 scores {rate:.0f} reviews/s here (measured on "
              f"{args.minilm_sample} demo reviews, the run's scoring settings; the tiny "
              "preset above stands in for it). Scoring alone would take: "
              + ", ".join(f"{n:,} reviews {n / rate / 60:.0f} min" for n in sizes) + ".")


def minilm_scoring_rate(sample: int) -> float:
    """Reviews per second of the packaged MiniLM-L6 on `sample` demo texts (after one
    warm-up batch), with the demo config's scoring settings."""
    from tfrec_sentiment.data.demo import generate_demo
    from tfrec_sentiment.sentiment.config import SentimentConfig
    from tfrec_sentiment.sentiment.inference import scoring_options
    from tfrec_sentiment.sentiment.model import SentimentModel

    settings = SentimentConfig(preset="minilm")
    model = SentimentModel.from_config(settings)
    texts = generate_demo(users=max(10, sample // 5))["text"].astype(str).tolist()[:sample]
    options = scoring_options(settings)
    model.score(texts[:options["batch_size"]], **options)  # traces
    start = time.perf_counter()
    model.score(texts, **options)
    return len(texts) / (time.perf_counter() - start)


def _max_rss_mib(result: dict) -> float:
    """The process's memory at the end of one size, in MiB (older files: `max_rss_mb`)."""
    return result.get("max_rss_mib", result.get("max_rss_mb", 0.0))


def _stage_cell(result: dict, stage: str, clock: str = "seconds"
                ) -> tuple[float, float] | None:
    """(seconds by `clock`, peak MiB) of one stage of one size; "total": the sum and the
    maximum.

    Peaks are read with `stages.stage_peaks`, so results written before the MiB
    rename (`peak_rss_mb`, the same values) still read.
    """
    peaks = stage_peaks(result)
    if stage == "total":
        return sum(result[clock].values()), max(peaks.values(), default=0.0)
    if stage not in result[clock]:
        return None
    return result[clock][stage], peaks[stage]


def growth_table(results: list[dict], clock: str = "seconds") -> str:
    """Markdown: per stage and size, seconds / peak MiB, and growth relative to linear;
    a stage a size skipped reads "skipped", one it did not reach "—". `clock`:
    "seconds" (wall) or "cpu_seconds"."""
    stage_names = list(dict.fromkeys(s for r in results for s, _ in stage_rows(r)))
    header = ["stage"]
    for i, r in enumerate(results):
        size = r.get("reviews", r["reviews_asked"])
        header.append(f"{size:,} reviews: s / MiB")
        if i:
            header.append("growth vs linear: time / MiB")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for stage in [*stage_names, "total"]:
        row = [stage]
        for i, r in enumerate(results):
            now = _stage_cell(r, stage, clock)
            if now is None:
                row.append("skipped" if stage in r.get("skipped", {}) else "—")
            else:
                row.append(f"{now[0]:.1f} / {now[1]:.0f}")
            if i:
                before = _stage_cell(results[i - 1], stage, clock)
                data = (r.get("reviews", r["reviews_asked"])
                        / results[i - 1].get("reviews", results[i - 1]["reviews_asked"]))
                partial = stage == "total" and r["status"] != "done"  # a sum so far
                if now is None or before is None or before[0] < 0.05 or partial:
                    row.append("—")
                else:
                    row.append(f"{now[0] / before[0] / data:.2f} / "
                               f"{now[1] / before[1] / data:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    if clock != "seconds":  # the notes below are read off the wall-clock run once
        return "\n".join(lines)
    evaluated = [r for r in results if "ablation_training_seconds" in r
                 and "evaluation" in r["seconds"] and "recsys" in r["seconds"]]
    if evaluated:
        cells = [f"{r['reviews']:,} reviews "
                 f"{r['seconds']['evaluation'] - r['ablation_training_seconds']:.1f} s vs "
                 f"{r['seconds']['recsys']:.1f} s" for r in evaluated]
        lines.append("\nEvaluation without training the ablation's recommender variants "
                     "(baselines, ranking, bootstrap) against the recommender stage it "
                     "evaluates: " + ", ".join(cells) + ".")
    fitted = [r for r in evaluated if "fit_seconds" in r]
    if fitted:
        cells = [f"{r['reviews']:,} reviews "
                 f"{r['seconds']['evaluation'] - sum(r['fit_seconds'].values()):.1f} s vs "
                 f"{r['seconds']['recsys']:.1f} s (fits: " + ", ".join(
                     f"{name} {seconds:.1f} s" for name, seconds in r["fit_seconds"].items())
                 + ")" for r in fitted]
        lines.append("\nEvaluation without fitting any model it compares (the baselines' "
                     "fits, their settings' validation search included, count as training; "
                     "left: ranking, metrics, bootstrap) against the recommender stage: "
                     + ", ".join(cells) + ".")
    for r in results:
        if "estimate" in r:
            lines.append(f"\n{r['reviews']:,} reviews: peak estimated before the costly "
                         f"stages {r['estimate']['total_gib']:.2f} GiB "
                         f"({r['estimate']['parts_gib']}), measured "
                         f"{max(stage_peaks(r).values()) / 1024:.2f} GiB.")
    stopped = [r for r in results if r["status"] != "done"]
    if stopped:
        where = ("" if stopped[0]["status"].startswith("interrupted")
                 else f" during stage '{stopped[0]['stage']}'")
        lines.append(f"\n{stopped[0]['reviews_asked']:,} reviews: {stopped[0]['status']}"
                     f"{where}.")
    return "\n".join(lines)


def main() -> None:
    args = _parse()
    if args.worker is not None:
        worker_main(args)
        return
    if args.growth_child is not None:
        growth_child(args)
        return
    if args.part == "growth":
        bench_growth(args)
        return
    if args.part in ("workers", "both"):
        bench_workers(args)
    if args.part in ("update", "both"):
        bench_update(args)


if __name__ == "__main__":
    main()
