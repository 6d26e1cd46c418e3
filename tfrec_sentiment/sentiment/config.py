"""Sentiment stage config (owned by tfrec_sentiment.sentiment).

Example:

>>> config = SentimentConfig(preset="tiny", epochs=2)
>>> config.buckets[-1] == config.sequence_length
True
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterable

from tfrec_sentiment.config_checks import ConfigError, check_fields

# Allowed `class_weighting` values, dispatched in `sentiment.labels.class_weights`.
CLASS_WEIGHTINGS = ("balanced", "sqrt", "none")
# Allowed `student_selection` values (`pipeline.train_sentiment.distil_student`).
STUDENT_SELECTIONS = ("agreement", "macro_f1")
# Allowed `calibration` values (`sentiment.calibration`).
CALIBRATIONS = ("temperature", "none")
# The shortest packed sequence: [CLS], one token, [SEP].
MIN_SEQUENCE_LENGTH = 3
# SST with a neutral class (fine-grained 0-1 / 2 / 3-4): its sentences, or every phrase
# of its trees (`datasets.sst_training_data`, which imports these names).
SST3, SST3_PHRASES = "sst3", "sst3-phrases"
# Allowed `first_stage` values (`sentiment.first_stage`).
FIRST_STAGES = ("none", SST3, SST3_PHRASES)
# Allowed `inference_runtime` values (resolved in sentiment/openvino_runtime.py).
INFERENCE_RUNTIMES = ("auto", "tensorflow", "openvino", "openvino_int8")
OPENVINO_INSTALL = ("pip install -e '.[openvino]' in a clone (the versions setup.cfg pins), "
                    "or pip install openvino nncf")


def openvino_available(int8: bool = False) -> bool:
    """Whether the `openvino` package (and with `int8`, `nncf`, which quantises for it)
    can be imported here, without importing them."""
    needed = ("openvino", "nncf") if int8 else ("openvino",)
    return all(importlib.util.find_spec(name) is not None for name in needed)



@dataclasses.dataclass
class SentimentConfig:
    """The BERT review classifier, its fine-tuning and its batch inference.

    Attributes:
        preset: "minilm" (the packaged all-MiniLM-L6-v2 weights), "tiny" (a tiny
            randomly initialised BERT with a built-in toy vocabulary, for tests), a
            local keras-hub preset / Hugging Face BERT folder, or a folder written by
            `SentimentModel.save` (fine-tuned further from its weights: how the first
            stage hands its model on).
        epochs: fine-tuning epochs; the best one by validation macro-F1 is kept.
        early_stopping_patience: stop fine-tuning (the reviews', the first stage's)
            and a student's distillation once this many epochs in a row have not
            raised the best validation macro-F1; None (default) runs every epoch. The
            learning-rate schedule still spans `epochs`, so stopping only cuts the run
            short (`training.py`). Off since measured at stop 26: 1 or 2 would have
            kept the same epoch on Musical Instruments and Subscription Boxes and
            saved the demo ~2 min, but on Yelp 10k kept epoch 1 (validation macro-F1
            0.558) instead of epoch 4 (0.572); README, "Early stopping".
        sequence_length: the longest packed sequence, [CLS] and [SEP] included;
            longer reviews are truncated (their head is kept, and their last
            `tail_tokens` tokens). 64: 128 was measured at stop 26 (validation
            macro-F1 0.693 against 0.682 over three seeds, within their noise; test
            0.630 both; 36% more fine-tuning time): README, "Length 128 instead of 64".
        tail_tokens: of a review longer than `sequence_length - 2` tokens, keep its
            first `sequence_length - 2 - tail_tokens` and its last `tail_tokens`
            tokens ("head + tail" truncation: Sun et al., "How to Fine-Tune BERT for
            Text Classification?", CCL 2019, found it best on long IMDb reviews);
            0 keeps the head only. Training, batch scoring and the exported graph
            truncate alike (`SentimentPreprocessor`); a model loaded from a folder
            (`preset`) takes this setting.
        bucket_boundaries: the padded lengths a batch may have; a batch is padded
            to the smallest boundary that holds its longest review. The last
            boundary is raised to `sequence_length` if it is smaller.
        batch_size: global training batch (split across replicas).
        inference_batch_size: batch of the scorer; on 2 CPU cores 32 beat 64 and 128
            (bench/sentiment_speed.py: large batches of long rows fall out of cache).
        learning_rate: peak AdamW learning rate, reached after the warm-up.
        warmup_fraction: share of all training steps spent warming up linearly.
        weight_decay: AdamW decoupled weight decay.
        dropout: dropout of the classifier head and the backbone.
        attention_dropout: fine-tuning's dropout rate on the attention probabilities;
            None = `dropout` (`trainer.build_trainer`). 0 by default since stop 23
            (with `train_token_embeddings=False`): over three seeds on Musical
            Instruments validation macro-F1 0.638 against 0.637 with both as before
            (test 0.604 / 0.599, SST-2 dev 0.832 / 0.833, UCI 0.919 / 0.913), and
            fine-tuning ran at 2.12x keras-hub's `fit` per CPU-second instead of
            1.68x (README, "Sentiment" benchmarks).
        train_token_embeddings: False (default) fine-tunes with the word-piece
            embedding table frozen at its pre-trained values
            (`trainer.frozen_token_embeddings`); the "tiny" preset, whose table is
            random, always trains it.
        class_weighting: "balanced" (n / (k * n_c)), "sqrt" (its square root, milder)
            or "none"; counters the ~85% five-star skew of Amazon data.
        max_train_examples: cap on the training rows (the newest are kept), None = all.
        first_stage: "none", or "sst3" / "sst3-phrases": fine-tune on SST's sentences
            (or phrases), three classes, first, then on the reviews from those weights
            (`first_stage.py`); skipped with a warning where `first_stage_data` has no
            `sst/train.txt`.
        first_stage_data: the folder holding `sst/train.txt` (relative paths from the
            working directory).
        first_stage_epochs: epochs of the first stage (the best by its held-out
            macro-F1 is kept).
        first_stage_class_weighting: `class_weighting` of the first stage (SST's
            classes are near even, neutral the rarest); "balanced" by default: with
            "sqrt" its held-out macro-F1 fell from 0.628 to 0.550 (stop 29).
        calibration: "temperature" fits one temperature on the validation texts after
            fine-tuning (`calibration.calibrate`, Guo et al. 2017), so the probabilities
            the recommender reads are calibrated (labels unchanged); "none" keeps the
            softmax as trained.
        label_column: take labels from this column (names in LABELS or 0/1/2)
            instead of deriving them from `rating`.
        sort_pool_batches: training batches are formed by sorting pools of this many
            batches by length (shuffled per epoch), so a batch pads little.
        jit_compile: XLA-compile the inference function (one compile per bucket length;
            bench/sentiment_speed.py measures whether it pays on the machine at hand).
        inference_bfloat16: score with a bfloat16-compute copy (`inference.bfloat16_copy`):
            with length buckets 2.87x keras-hub's predict per CPU-second here (stop 21;
            1.96x before the scorer ran `BertInferenceEncoder`; AVX512_BF16),
            SST-2 dev accuracy unchanged (bench/sentiment_speed.py --accuracy-set).
        inference_runtime: "tensorflow" (default), "auto" (OpenVINO where the openvino
            package is installed and TensorFlow sees no GPU, else TensorFlow), or
            "openvino" (optional extra `[openvino]`; refused at once without it): batch
            scoring runs the same graph compiled by OpenVINO for the CPU
            (`openvino_runtime.py`; with `inference_bfloat16`, in its CPU plugin's
            bfloat16), same accuracy. Not the default: on quiet cores (stop 22) it
            scored as many reviews per CPU-second as TensorFlow bfloat16 (108.6 vs
            108.2) and fewer per second of wall clock (1.79x keras-hub's predict vs
            2.28x); stop 21's 4.15x, measured on shared cores, was not reproduced
            (README, "Sentiment"). "openvino_int8" (the same extra, which brings
            NNCF): that graph with its matmuls quantised to int8 after training
            (`openvino_runtime.quantize_int8`: NNCF's post-training quantisation,
            calibrated on the first texts scored, the pipeline's training reviews;
            VNNI / AMX), the rest in float32: 1.2-1.3x OpenVINO bfloat16's reviews per
            CPU-second on this AVX512_VNNI CPU, probabilities up to ~0.2 from
            float32's (README, stop 27). Opt-in: an optional extra, and not the
            float32 scores. Fine-tuning and the exported SavedModel stay TensorFlow.
        train_bfloat16: fine-tune (both stages) a Keras `mixed_bfloat16` copy (float32
            weights, bfloat16 matmuls: AMX / AVX512_BF16), its weights then copied into
            the float32 model that is scored, saved and exported; on (default) only
            where bfloat16 is native (`inference.use_bfloat16`: elsewhere float32, with
            a warning). On since stop 22: 1.25x float32's reviews per CPU-second in
            bench/sentiment_speed.py (1.64x keras-hub's fit, against 1.31x), and over
            three seeds on Musical Instruments validation macro-F1 0.639 against 0.635,
            SST-2 dev 0.834 / 0.826, UCI 0.912 / 0.916 (README, "bfloat16 fine-tuning").
        student_layers: > 0 distils a student of that many transformer layers from the
            fine-tuned classifier on the training reviews (`sentiment.student`), saved as
            `<run>/sentiment/student` and served with `export.sentiment_model=student`;
            0 = none.
        student_epochs / student_learning_rate / student_embedding_weight /
            student_temperature: its distillation (epochs over the training texts,
            the best on validation kept, `student_selection`; Adam's rate; the weight of the
            embedding MSE beside the soft cross-entropy; the distillation temperature
            of that cross-entropy, Hinton et al. 2015, 1 = the teacher's probabilities).
            Temperature 2: chosen among five settings on Musical Instruments'
            validation part at stop 19 (94.7% of the teacher's macro-F1, against 93.1%
            for 2 epochs at 1), and better there too on Yelp 10k's (99.9% against
            97.2%); README, "A 1-layer student chosen on validation". 8 epochs (4
            until stop 26): with the four-epoch teacher the 4-epoch student was still
            rising at its last epoch (validation 0.572, 93.9% of the teacher's); 8
            epochs kept 0.611 (100.3%; epoch 5), a second distillation of 12 kept
            0.590 (epoch 6); README, "The student against the four-epoch teacher".
        student_class_weighting: weights each distillation text by the class the
            teacher gives it, as `class_weighting` weights the fine-tuning's labels
            (`labels.class_weights` of the teacher's argmax): "none" (default) or
            "balanced" / "sqrt", to keep the minority classes' recall.
        student_selection: what chooses the student's epoch on the validation part:
            "agreement" (default since stop 28), its macro-F1 against the teacher's
            classes (the student's task; no star read), or "macro_f1", against the
            stars. With other review files a 3-layer student of Musical Instruments'
            teacher kept its first epoch by the stars (0.616, agreement 0.749; the
            stars' macro-F1 moved 0.571-0.616 over 8 epochs with no trend); README,
            "The student against the four-epoch teacher".
        student_extra_texts: review files (any format the package reads) whose texts
            the student also learns from, with the teacher's answers (no star read;
            `sentiment.distillation_texts`): at most `student_extra_sample` distinct
            texts drawn at random, of which at most `student_extra_per_class` per class
            the teacher gives them; the run's own reviews' texts left out.
            () = the training reviews only. With the other data sets of
            `../shared/data` a 3-layer student of Musical Instruments' teacher kept
            98.6% of its test macro-F1 (epoch by agreement) against 93.1% without
            (README, "The student against the four-epoch teacher").
        tiny_hidden_dim / tiny_layers / tiny_heads: the "tiny" backbone's size.
        model_dir: a fine-tuned `SentimentModel` folder to reuse; the pipeline then
            skips fine-tuning (e.g. one model scored into several recommender runs).
        cache_dir: the score cache folder; None = `<run>/sentiment/scores`. Scores are
            keyed by the model fingerprint, so one cache can serve many runs.

    Defaults (issue 15): a first stage on SST's sentences with three classes (1 epoch),
    then the newest 6,000 training reviews (3,000 until stop 24), 4 epochs (2 until
    stop 25), learning_rate 5e-5, sequence_length 64, square-root class weights ("sqrt";
    "balanced" until stop 29: validation macro-F1 +0.028 on Musical Instruments, +0.004
    on Subscription Boxes, +0.029 on Yelp 10k, README "Class weights and soft star
    labels"). The rest chosen at stop 21 on the validation part of
    `tools/train_sentiment.py`'s time split of Musical Instruments (3 seeds each):
    validation macro-F1 0.635 +- 0.012 (sd), against 0.508 +- 0.032 for the earlier
    defaults (no first stage, 1 epoch at 1e-4), 0.592 for 2 epochs at 5e-5 alone and
    0.581 for the first stage alone; test, read once: 0.598 against 0.506. The earlier
    defaults (stop 12, one seed): the newest 3,000 reviews at length 64 cost about 0.3x
    fine-tuning every review at length 128, for the same validation macro-F1.
    Stop 24 raised the cap from 3,000 to 6,000 on the same split (stop 23's options,
    3 seeds): validation macro-F1 0.651 against 0.638, every seed higher; test 0.617
    against 0.604; SST-2 dev 0.822 against 0.832; `tools/train.py` on Musical
    Instruments 11:10 end to end (15-minute budget), its whole 6,197-review training part.
    Stop 25 raised the epochs from 2 to 4 on the same split and seeds: validation
    macro-F1 0.682 (0.679 / 0.674 / 0.692) against 0.672 for 3 epochs and 0.651 for 2
    (5 epochs: 0.684, within the seeds' noise, so the cheaper 4); test, read once per
    row: 0.630 for 4, 0.637 for 3, 0.621 for 5, 0.617 for 2. `tools/train.py` on Musical
    Instruments: see the README.
    The table and the command: README, section 2, "Default fine-tuning settings".
    """

    preset: str = "minilm"
    epochs: int = dataclasses.field(default=4, metadata={"min": 1})
    early_stopping_patience: int | None = dataclasses.field(default=None,
                                                            metadata={"min": 1})
    sequence_length: int = dataclasses.field(default=64,
                                             metadata={"min": MIN_SEQUENCE_LENGTH})
    tail_tokens: int = dataclasses.field(default=0, metadata={"min": 0})
    bucket_boundaries: tuple[int, ...] = dataclasses.field(
        default=(16, 32, 48, 64, 96, 128), metadata={"min": MIN_SEQUENCE_LENGTH})
    batch_size: int = dataclasses.field(default=32, metadata={"min": 1})
    inference_batch_size: int = dataclasses.field(default=32, metadata={"min": 1})
    learning_rate: float = dataclasses.field(default=5e-5, metadata={"above": 0.0})
    warmup_fraction: float = dataclasses.field(default=0.1, metadata={"min": 0.0, "below": 1.0})
    weight_decay: float = dataclasses.field(default=0.01, metadata={"min": 0.0})
    dropout: float = dataclasses.field(default=0.1, metadata={"min": 0.0, "below": 1.0})
    attention_dropout: float | None = dataclasses.field(
        default=0.0, metadata={"min": 0.0, "below": 1.0})
    train_token_embeddings: bool = False
    class_weighting: str = dataclasses.field(default="sqrt",
                                             metadata={"choices": CLASS_WEIGHTINGS})
    max_train_examples: int | None = dataclasses.field(default=6000, metadata={"min": 1})
    first_stage: str = dataclasses.field(default="sst3", metadata={"choices": FIRST_STAGES})
    first_stage_data: str = "../shared/data/sentiment"
    first_stage_epochs: int = dataclasses.field(default=1, metadata={"min": 1})
    first_stage_class_weighting: str = dataclasses.field(
        default="balanced", metadata={"choices": CLASS_WEIGHTINGS})
    calibration: str = dataclasses.field(default="temperature",
                                         metadata={"choices": CALIBRATIONS})
    label_column: str | None = None
    sort_pool_batches: int = dataclasses.field(default=50, metadata={"min": 1})
    jit_compile: bool = False
    inference_bfloat16: bool = True
    inference_runtime: str = dataclasses.field(default="tensorflow",
                                               metadata={"choices": INFERENCE_RUNTIMES})
    train_bfloat16: bool = True
    student_layers: int = dataclasses.field(default=0, metadata={"min": 0})
    student_epochs: int = dataclasses.field(default=8, metadata={"min": 1})
    student_learning_rate: float = dataclasses.field(default=1e-4, metadata={"above": 0.0})
    student_embedding_weight: float = dataclasses.field(default=1.0, metadata={"min": 0.0})
    student_temperature: float = dataclasses.field(default=2.0, metadata={"above": 0.0})
    student_class_weighting: str = dataclasses.field(default="none",
                                                     metadata={"choices": CLASS_WEIGHTINGS})
    student_selection: str = dataclasses.field(default="agreement",
                                               metadata={"choices": STUDENT_SELECTIONS})
    student_extra_texts: tuple[str, ...] = ()
    student_extra_sample: int = dataclasses.field(default=12000, metadata={"min": 1})
    student_extra_per_class: int = dataclasses.field(default=2000, metadata={"min": 1})
    tiny_hidden_dim: int = dataclasses.field(default=32, metadata={"min": 1})
    tiny_layers: int = dataclasses.field(default=2, metadata={"min": 1})
    tiny_heads: int = dataclasses.field(default=2, metadata={"min": 1})
    model_dir: str | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)  # also turns a list of bucket boundaries into a tuple
        if self.tiny_hidden_dim % self.tiny_heads:
            # Attention splits the hidden width evenly over the heads.
            raise ConfigError(f"must be a multiple of tiny_heads={self.tiny_heads}",
                              "tiny_hidden_dim", self.tiny_hidden_dim)
        if self.tail_tokens > self.sequence_length - 3:
            # At least one token of the head: its first words.
            raise ConfigError(f"must be at most sequence_length - 3 = "
                              f"{self.sequence_length - 3}", "tail_tokens", self.tail_tokens)
        int8 = self.inference_runtime == "openvino_int8"
        if self.inference_runtime.startswith("openvino") and not openvino_available(int8):
            packages = "openvino and nncf packages" if int8 else "openvino package"
            raise ConfigError(f"needs the {packages}: {OPENVINO_INSTALL}",
                              "inference_runtime", self.inference_runtime)

    @property
    def buckets(self) -> tuple[int, ...]:
        """Sorted padded lengths, capped at and always ending with `sequence_length`."""
        return bucket_lengths(self.bucket_boundaries, self.sequence_length)


def bucket_lengths(boundaries: Iterable[int], sequence_length: int) -> tuple[int, ...]:
    """The padded lengths a batch may have: the one rule, for the config and the packer.

    Boundaries strictly between 2 (an empty text's [CLS] [SEP]) and `sequence_length`,
    deduplicated and ascending, then `sequence_length` itself (always allowed).

    Example:

    >>> bucket_lengths([64, 16, 16, 2, 200], sequence_length=128)
    (16, 64, 128)
    """
    kept = sorted({int(b) for b in boundaries if 2 < b < sequence_length})
    return (*kept, int(sequence_length))

