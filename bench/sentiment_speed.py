"""Reviews per second of the sentiment model: our pipeline vs keras-hub's plain path.

    python bench/sentiment_speed.py                      # ~10 minutes on 2 busy cores
    python bench/sentiment_speed.py --n 128 --rounds 1 --skip-train   # a quick look
    python bench/sentiment_speed.py --skip-inference --rounds 3  # fine-tuning only
    python bench/sentiment_speed.py --model runs/sentiment-sst2/model \
        --accuracy-set ../shared/data/sentiment/sst/dev.txt  # bfloat16 accuracy check too
    python bench/sentiment_speed.py --model runs/musical/sentiment/model \
        --accuracy-run runs/musical --skip-train  # + macro-F1 on the run's test part

Same weights and the same 3-class head on both sides (MiniLM-L6 with a new head, or
a fine-tuned `--model`), on a fixed random sample of Musical Instruments review texts
(title + text), in one process:

- inference, baseline: `BertTextClassifier.predict` with keras-hub's
  `BertTextClassifierPreprocessor` at fixed length 128, batch 32 (keras-hub defaults).
- inference, ours: texts sorted by length, batches padded to bucket lengths, at
  batch 32/64/128; then each further lever: XLA (`jit_compile`), bfloat16 compute
  (Keras `mixed_bfloat16`), and oneDNN's grappler bfloat16 rewrite. Each variant is
  timed back to back with the baseline `--rounds` times; the ratio is the median of
  per-round ratios of reviews per CPU-second of this process (steady when other jobs
  share the cores), with the wall-clock ratio beside it. Where openvino is installed,
  the same graph compiled by OpenVINO, float32 and bfloat16 (`openvino_runtime.py`),
  and where nncf is too, that graph quantised to int8 (`sentiment.inference_runtime=
  openvino_int8`: its matmuls int8, the rest in float32).
- fine-tuning, baseline: `fit` on raw strings at fixed length 128; ours: the
  length-sorted, bucket-padded `tf.data` pipeline of `training.py` fitting the
  classifier itself (keras-hub's backbone), then a Keras `mixed_bfloat16` copy
  (`sentiment.train_bfloat16`), then that copy through `trainer.build_trainer` (what
  `training.py` fits), then with `attention_dropout=0` and `train_token_embeddings=False`.

Each timing follows a warm-up that traces (and compiles) every shape it meets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import time
from pathlib import Path

import tfrec_sentiment  # noqa: F401  (first: sets the Keras world before any TensorFlow)

# isort: split

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfrec_sentiment.sentiment.config import OPENVINO_INSTALL, SentimentConfig
from tfrec_sentiment.sentiment.datasets import LabelledTexts, read_sst
from tfrec_sentiment.sentiment.inference import (
    bfloat16_copy,
    forward_function,
    openvino_function,
    packed_lengths,
    predict_sorted,
)
from tfrec_sentiment.sentiment.labels import LABELS, POSITIVE, labels_from_stars, review_texts
from tfrec_sentiment.sentiment.metrics import classification_metrics, to_binary
from tfrec_sentiment.sentiment.model import SentimentModel
from tfrec_sentiment.sentiment.openvino_runtime import openvino_available
from tfrec_sentiment.sentiment.scorer import classification_head
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES
from tfrec_sentiment.sentiment.trainer import (
    build_trainer,
    frozen_token_embeddings,
    preprocessed,
)
from tfrec_sentiment.sentiment.training import (
    compile_classifier,
    training_dataset,
)

# Fine-tuning variants: (label, bfloat16, through `build_trainer`, SentimentConfig changes).
BEFORE_STOP_23 = {"attention_dropout": None, "train_token_embeddings": True}
TRAINING_VARIANTS = (
    ("sorted + buckets, keras-hub backbone", False, False, BEFORE_STOP_23),
    ("+ bfloat16, keras-hub backbone (stop 22)", True, False, BEFORE_STOP_23),
    ("+ bfloat16, flattened encoder (trainer.py)", True, True, BEFORE_STOP_23),
    ("  + attention dropout 0, frozen token embeddings (defaults)", True, True, {}),
)
REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TFREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_FILE = DATA / "amazon2014" / "reviews_Musical_Instruments_5.json.gz"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--n", type=int, default=384, help="texts per inference timing")
    parser.add_argument("--batch", type=int, default=128, help="largest inference batch tried")
    parser.add_argument("--train-batches", type=int, default=24,
                        help="timed fine-tuning batches per side")
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of paired timings (inference: baseline and one "
                             "variant; fine-tuning: baseline, then every variant)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a saved SentimentModel (fine-tuned: makes the bfloat16 check "
                             "meaningful); default: MiniLM with a new head")
    parser.add_argument("--accuracy-set", type=Path, default=None,
                        help="an SST file (e.g. sst/dev.txt): print its binary accuracy "
                             "in float32 and bfloat16, TensorFlow and OpenVINO "
                             "(use with --model)")
    parser.add_argument("--accuracy-run", type=Path, default=None,
                        help="a tools/train.py run folder: print each runtime's macro-F1 "
                             "on its test part's star labels (use with its --model)")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-inference", action="store_true",
                        help="time fine-tuning only")
    parser.add_argument("--sequence-length", type=int, default=128,
                        help="our side's longest packed review, set on the model's "
                             "preprocessor (keras-hub's side is fixed at 128; a fine-tuned "
                             "--model keeps its own length otherwise, 64 by default)")
    return parser.parse_args()


def load_texts(path: Path, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """A fixed random sample of review texts and their 3-class labels."""
    from tfrec_sentiment.data.readers import read_reviews

    frame = read_reviews(path, "amazon2014").reviews
    rows = np.random.default_rng(seed).permutation(len(frame))[:n]
    sample = frame.iloc[rows]
    return review_texts(sample), labels_from_stars(sample["rating"].to_numpy())


def plain_classifier(model: SentimentModel) -> keras_hub.models.BertTextClassifier:
    """keras-hub's own classifier + preprocessor (fixed 128) on our weights."""
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        model.preprocessor.tokenizer, sequence_length=128)
    classifier = keras_hub.models.BertTextClassifier(
        backbone=model.classifier.backbone, num_classes=3, preprocessor=preprocessor)
    classification_head(classifier).set_weights(model.output_dense.get_weights())
    return classifier


def timed(fn, count: int) -> tuple[float, object]:
    """Items per wall-clock second, and `fn`'s result."""
    rate, _, result = timed_both(fn, count)
    return rate, result


def timed_both(fn, count: int) -> tuple[float, float, object]:
    """Items per wall-clock second and per CPU second of this process (all threads).

    On cores shared with other jobs the wall-clock rate swings with their load; the
    CPU-time rate counts only the work this process did, so it is the steadier basis
    for a ratio (thread-pool spinning counts on both sides alike).
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count / wall, count / max(cpu, 1e-9), result


def bench_inference(model: SentimentModel, texts: list[str], labels: np.ndarray, batch: int,
                    rounds: int, calibration: list[str]) -> None:
    n = len(texts)
    lengths = packed_lengths(model, texts)
    print(f"\n## inference on {n} reviews (packed length mean {lengths.mean():.0f}, "
          f"median {np.median(lengths):.0f}, capped at "
          f"{model.preprocessor.sequence_length})")
    print("Each variant is timed back to back with keras-hub's predict (fixed 128, batch 32), "
          "`rounds` times; ratios are medians of per-round ratios, by CPU time of this "
          "process (steady on shared cores) and by wall clock.")
    baseline = plain_classifier(model)
    baseline.predict(texts[:32], batch_size=32, verbose=0)  # trace

    def run_baseline():
        return keras.ops.softmax(baseline.predict(texts, batch_size=32, verbose=0)).numpy()

    base_probs = run_baseline()
    base_f1 = classification_metrics(labels, base_probs, LABELS)["macro_f1"]
    print(f"keras-hub predict: macro-F1 {base_f1:.4f} on these reviews' star labels "
          "(a fine-tuned --model makes it meaningful)")

    def ours(label: str, scorer_model: SentimentModel, size: int, jit: bool,
             forward=None) -> np.ndarray:
        forward = forward or forward_function(scorer_model, jit_compile=jit)
        warm, _ = timed(lambda: predict_sorted(scorer_model, texts, size, predict_fn=forward), 1)
        wall_ratios, cpu_ratios, cpu_rates = [], [], []
        for _ in range(rounds):
            base_wall, base_cpu, _ = timed_both(run_baseline, n)
            wall, cpu, scores = timed_both(
                lambda: predict_sorted(scorer_model, texts, size, predict_fn=forward), n)
            wall_ratios.append(wall / base_wall)
            cpu_ratios.append(cpu / base_cpu)
            cpu_rates.append((cpu, base_cpu))
        gap = np.abs(scores.probabilities - base_probs).max()
        ours_cpu, base_cpu = np.median(np.array(cpu_rates), axis=0)
        macro_f1 = classification_metrics(labels, scores.probabilities, LABELS)["macro_f1"]
        print(f"{label:30s}: {ours_cpu:5.1f} vs {base_cpu:5.1f} reviews/CPU-s -> "
              f"{np.median(cpu_ratios):.2f}x CPU time, {np.median(wall_ratios):.2f}x wall "
              f"(warm-up {1 / warm:4.1f} s, max |p - p_keras_hub| {gap:.1e}, "
              f"macro-F1 {macro_f1:.4f})")
        return scores.probabilities

    reference = None
    for size in sorted({32, 64, batch}):
        probs = ours(f"sorted + buckets, batch {size}", model, size, False)
        reference = probs if reference is None else reference
    for size in (32, 64):
        ours(f"+ XLA, batch {size}", model, size, True)
    half_model = bfloat16_copy(model)
    for size in (32, 64):
        half = ours(f"+ bfloat16, batch {size}", half_model, size, False)
    agree = (half.argmax(1) == reference.argmax(1)).mean()
    print(f"Keras bfloat16 vs float32: max |dp| {np.abs(half - reference).max():.1e}, "
          f"arg-max agreement {agree:.3f}")
    if openvino_available():  # the same graph compiled by OpenVINO (openvino_runtime.py)
        for kind, forward in openvino_variants(model, calibration).items():
            for size in (32, 64):
                ov = ours(f"OpenVINO {kind}, batch {size}", model, size, False, forward)
            print(f"OpenVINO {kind} vs TF float32: max |dp| "
                  f"{np.abs(ov - reference).max():.1e}, arg-max agreement "
                  f"{(ov.argmax(1) == reference.argmax(1)).mean():.3f}")
    else:
        print(f"OpenVINO: not installed ({OPENVINO_INSTALL}), skipped")
    # Last: a process-wide grappler switch. oneDNN rewrites the graph to bfloat16 where
    # it has fused kernels, instead of Keras casting around generic ones.
    tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    spec = {name: tf.TensorSpec([None, None], tf.int32) for name in FEATURE_NAMES}

    @tf.function(input_signature=[spec])
    def amp(features):
        return model.scorer(features, training=False)

    # The switch speeds up keras-hub's predict too; the ratio printed is against that.
    half = ours("+ oneDNN bfloat16, batch 32", model, 32, False, amp)
    agree = (half.argmax(1) == reference.argmax(1)).mean()
    print(f"oneDNN bfloat16 vs float32: max |dp| {np.abs(half - reference).max():.1e}, "
          f"arg-max agreement {agree:.3f}")


def openvino_variants(model: SentimentModel, calibration: list[str]) -> dict:
    """name -> OpenVINO forward function: float32, bfloat16 and, where nncf is
    installed, int8 (the rest in float32, as `score_texts` runs it) calibrated on
    `calibration` (the first call's texts win: the graph is cached per model)."""
    variants = {kind: openvino_function(model, kind == "bfloat16")
                for kind in ("float32", "bfloat16")}
    if openvino_available(int8=True):
        variants["int8"] = openvino_function(model, False, True, calibration)
    else:
        print(f"OpenVINO int8: nncf not installed ({OPENVINO_INSTALL}), skipped")
    return variants


def accuracy_checks(model: SentimentModel, sst_path: Path | None,
                    run_dir: Path | None, calibration: list[str]) -> None:
    """Each runtime's binary accuracy on an SST file and macro-F1 on a run's test part."""
    sets = []
    if sst_path is not None:
        data = read_sst(sst_path)
        sets.append((f"{sst_path.name} accuracy", data.texts, data.labels == POSITIVE))
    if run_dir is not None:
        import pandas as pd

        test = pd.read_parquet(run_dir / "data" / "test.parquet")
        sets.append((f"{run_dir.name} test macro-F1", review_texts(test),
                     labels_from_stars(test["rating"].to_numpy())))
    print("\n## accuracy of each runtime: " + "; ".join(
        f"{name} ({len(texts)} texts)" for name, texts, _ in sets))
    variants = [("float32", model, None), ("bfloat16", bfloat16_copy(model), None)]
    if openvino_available():
        variants += [(f"OpenVINO {kind}", model, forward)
                     for kind, forward in openvino_variants(model, calibration).items()]
    for name, scorer, forward in variants:
        cells = []
        for set_name, texts, truth in sets:
            probabilities = predict_sorted(scorer, texts, 32, predict_fn=forward).probabilities
            if truth.dtype == bool:  # SST: binary
                value = ((to_binary(probabilities)[:, 1] > 0.5) == truth).mean()
            else:
                value = classification_metrics(truth, probabilities, LABELS)["macro_f1"]
            cells.append(f"{set_name} {value:.4f}")
        print(f"{name:17s}: {'; '.join(cells)}")


def bench_training(model: SentimentModel, texts: list[str], labels: np.ndarray,
                   batches: int, batch: int, rounds: int) -> None:
    n = batches * batch
    print(f"\n## fine-tuning, {batches} batches of {batch}, {rounds} rounds (each model "
          "after a warm-up epoch, which traces each bucket length); per round keras-hub's "
          "fit, then each of ours; ratios are medians of per-round ratios")
    onehot = np.eye(3, dtype=np.float32)[labels]
    baseline = plain_classifier(model)
    baseline.compile(optimizer=keras.optimizers.AdamW(2e-5),
                     loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=[])
    baseline.fit(texts[:2 * batch], onehot[:2 * batch], batch_size=batch, verbose=0)

    config = SentimentConfig(batch_size=batch)
    data = LabelledTexts("bench", texts[:n], labels[:n], binary=False)
    lengths = packed_lengths(model, data.texts)
    weights = np.ones(3, np.float32)

    # (label, bfloat16 copy, fitted through `trainer.build_trainer`, config changes):
    # the classifier's own `fit` (keras-hub's backbone) as stop 22 fitted it, then the
    # trainer `training.py` fits now, then its two speed options. Every model stays
    # compiled (and its embeddings frozen where asked) for all rounds.
    fits = {}
    with contextlib.ExitStack() as frozen:
        for name, bfloat16, through_trainer, changes in TRAINING_VARIANTS:
            options = dataclasses.replace(config, **changes)
            fitted = bfloat16_copy(model) if bfloat16 else model
            frozen.enter_context(frozen_token_embeddings(
                fitted.classifier, not options.train_token_embeddings))
            trainer = (build_trainer(fitted.classifier, options.attention_dropout)
                       if through_trainer else fitted.classifier)
            compile_classifier(trainer, options, total_steps=1000)

            def fit(epoch: int, trainer=trainer, through_trainer=through_trainer):
                dataset = training_dataset(data, lengths, weights, batch, 0, [epoch])
                if through_trainer:
                    dataset = preprocessed(dataset, model.preprocessor)
                return trainer.fit(dataset, epochs=1, verbose=0, shuffle=False)

            fit(0)  # the same rows in another order: every bucket length traced
            fits[name] = fit
        ratios = {name: [] for name in fits}
        for _ in range(rounds):
            base_wall, base_cpu, _ = timed_both(
                lambda: baseline.fit(texts[:n], onehot[:n], batch_size=batch, verbose=0), n)
            print(f"keras-hub fit, fixed 128: {base_cpu:5.1f} reviews/CPU-s, "
                  f"{base_wall:5.1f}/s wall")
            for name, fit in fits.items():
                wall, cpu, _ = timed_both(lambda fit=fit: fit(1), n)
                ratios[name].append((cpu / base_cpu, wall / base_wall))
                print(f"  ours: {name:58s}: {cpu:5.1f} reviews/CPU-s, {wall:5.1f}/s wall")
    print("median over rounds, vs keras-hub fit:")
    for name, values in ratios.items():
        cpu, wall = np.median(np.array(values), axis=0)
        print(f"ours: {name:58s}: {cpu:.2f}x CPU time, {wall:.2f}x wall "
              f"(rounds: {', '.join(f'{c:.2f}x' for c, _ in values)})")


def main() -> None:
    args = parse_args()
    print("# sentiment speed")
    print(f"cores visible: {os.cpu_count()}, load average at start: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; TF {tf.__version__}, "
          f"keras {keras.__version__}, keras-hub {keras_hub.__version__}; intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    texts, labels = load_texts(args.file, args.n, args.seed)
    keras.utils.set_random_seed(args.seed)
    if args.model is not None:
        model = SentimentModel.load(args.model)
    else:
        model = SentimentModel.from_config(SentimentConfig(preset="minilm"))
    # Both sides cap reviews at the same length, so the ratio is the pipeline's.
    # (Set before the first call, which builds the packer with these.)
    model.preprocessor.bucket_boundaries = list(SentimentConfig().bucket_boundaries)
    model.preprocessor.sequence_length = args.sequence_length
    # An int8 graph is calibrated on the texts it is first given (`score_texts`): the
    # run's training reviews (as in its pipeline) with --accuracy-run, else the sample.
    calibration = texts
    if args.accuracy_run is not None:
        import pandas as pd

        calibration = review_texts(pd.read_parquet(args.accuracy_run / "data" / "train.parquet"))
    if args.accuracy_set is not None or args.accuracy_run is not None:
        accuracy_checks(model, args.accuracy_set, args.accuracy_run, calibration)
    if not args.skip_inference:
        bench_inference(model, texts, labels, args.batch, args.rounds, calibration)
    if not args.skip_train:
        bench_training(model, texts, labels, args.train_batches, args.train_batch,
                       args.rounds)
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
