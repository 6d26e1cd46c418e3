"""The review sentiment model: a keras-hub `BertTextClassifier` plus a pooled embedding.

`SentimentModel` holds one `keras_hub.models.BertTextClassifier` (3 classes, our
`SentimentPreprocessor` attached, so `fit`/`predict` on raw strings tokenize in the
`tf.data` pipeline) and derives from the same layers a scorer (scorer.py) that
returns, per text, the class `probabilities` [N, 3] and the `embedding` [N, D] (masked
mean of the last hidden layer, L2-normalised; see pooling.py for why) in one backbone
pass.

A text with no token (empty, whitespace only) gets the training class prior as
`probabilities`, a zero `embedding` and the label "none" (`empty_text.py`); the
prior is `class_prior`, saved with the model.

In-graph use (the export composes this with the recommender): `as_module()` returns a
`tf.Module` whose `__call__` is a `tf.function` from `tf.string` [B] to
`{"probabilities": float32 [B, 3], "embedding": float32 [B, D], "label": string [B]}`
(label "none" for an empty text).
Attach it to your own `tf.Module` and call it inside your `tf.function`s::

    class Export(tf.Module):
        def __init__(self, sentiment: SentimentModel):
            self.sentiment = sentiment.as_module()   # tracks variables + tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def score(self, text):
            return self.sentiment(text)

    tf.saved_model.save(Export(model), path)  # loads with tensorflow + tensorflow_text

Example:

>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> scores = model.score(["great strings", "the cable broke"])
>>> scores.probabilities.shape, scores.embedding.shape
((2, 3), (2, 32))
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import keras_hub
import numpy as np

from tfrec_sentiment.sentiment.config import SentimentConfig
from tfrec_sentiment.sentiment.empty_text import check_prior, uniform_prior
from tfrec_sentiment.sentiment.inference import score_texts
from tfrec_sentiment.sentiment.labels import LABELS
from tfrec_sentiment.sentiment.preprocessor import (
    SentimentPreprocessor,
    tiny_tokenizer,
    tiny_vocabulary,
)
from tfrec_sentiment.sentiment.presets import TINY, resolve_preset
from tfrec_sentiment.sentiment.scorer import SentimentModule, build_scorer, classification_head
from tfrec_sentiment.sentiment.scores import Scores
from tfrec_sentiment.text.emoji import mapping_version
from tfrec_sentiment.text.steps import CLEANING_VERSION

CLASSIFIER_FILE = "classifier.keras"
METADATA_FILE = "sentiment.json"
PRIOR_KEY = "class_prior"
TEMPERATURE_KEY = "temperature"


class SentimentModel:
    """A 3-class BERT review classifier with a pooled text embedding.

    Build with `SentimentModel.from_config(config)` (inside `strategy.scope()` to train
    distributed), restore with `SentimentModel.load(dir)`.

    Attributes:
        classifier: the `keras_hub.models.BertTextClassifier` (logits out); its
            `preprocessor` is the `SentimentPreprocessor`.
        metadata: what `save` writes beside the weights (labels, preset, ...).
    """

    def __init__(self, classifier: keras_hub.models.BertTextClassifier,
                 metadata: dict | None = None):
        if not isinstance(classifier.preprocessor, SentimentPreprocessor):
            raise TypeError("the classifier's preprocessor must be a SentimentPreprocessor")
        self.classifier = classifier
        self.metadata = dict(metadata or {})
        self._scorer: keras.Model | None = None
        self._module: SentimentModule | None = None

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_config(cls, config: SentimentConfig) -> SentimentModel:
        """A fresh classifier on the backbone named by `config.preset`.

        Named like Keras's `from_config` (an instance from its configuration; here the
        `SentimentConfig` dataclass, not a dict); not `build`, which Keras objects keep
        for `build(input_shape)`.

        "tiny": random weights, toy vocabulary. "minilm" or a folder: pretrained
        backbone and tokenizer loaded offline by keras-hub (the 3-class head is new).
        A folder written by `SentimentModel.save` is loaded with its weights and head
        (fine-tuned further from them), its text settings replaced by `config`'s:
        `sequence_length`, `bucket_boundaries` and `tail_tokens` (the folder's length
        was once kept, whatever the config said).

        Raises:
            ValueError: `config.sequence_length` exceeds the backbone's positions.
        """
        if config.preset != TINY:
            folder = resolve_preset(config.preset)
            if (folder / METADATA_FILE).is_file():
                model = cls.load(folder)
                _check_positions(config, model.classifier.backbone)
                preprocessor = model.preprocessor  # each setter reaches its packer too
                preprocessor.sequence_length = config.sequence_length
                preprocessor.bucket_boundaries = config.buckets
                preprocessor.tail_tokens = config.tail_tokens
                return model
        tokenizer, backbone = _tokenizer_and_backbone(config)
        _check_positions(config, backbone)
        preprocessor = SentimentPreprocessor(
            tokenizer, sequence_length=config.sequence_length,
            bucket_boundaries=config.buckets, tail_tokens=config.tail_tokens,
            name="sentiment_preprocessor",
        )
        classifier = keras_hub.models.BertTextClassifier(
            backbone=backbone, num_classes=len(LABELS), preprocessor=preprocessor,
            dropout=config.dropout, name="sentiment_classifier",
        )
        return cls(classifier, {"preset": config.preset})

    @classmethod
    def load(cls, directory: str | Path) -> SentimentModel:
        """Restores a model written by `save` (weights, vocabulary, metadata)."""
        directory = Path(directory)
        path = directory / CLASSIFIER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: not a saved SentimentModel folder")
        # The vocabulary is an asset inside the archive, read by the tokenizer. keras-hub
        # tasks compile a default optimizer when built; the archive (rightly) has no
        # optimizer state for it, which Keras would warn about.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            classifier = keras.saving.load_model(path, safe_mode=False, compile=False)
        metadata = json.loads((directory / METADATA_FILE).read_text())
        return cls(classifier, metadata)

    def save(self, directory: str | Path) -> Path:
        """Writes `classifier.keras` (weights + vocabulary asset) and `sentiment.json`.

        Written into a temporary sibling folder and renamed, so a crash never leaves
        a half-written model where a reader expects a whole one.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        # The `.keras` format always stores a compiled model's optimizer (twice the
        # weights again for AdamW); a finished model is for scoring, so leave it out.
        optimizer = getattr(self.classifier, "optimizer", None)
        self.classifier.optimizer = None
        try:
            self.classifier.save(staging / CLASSIFIER_FILE)
        finally:
            self.classifier.optimizer = optimizer
        metadata = {**self.metadata, **self.describe()}
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if directory.exists():
            old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
            directory.rename(old)
            staging.rename(directory)
            _remove_tree(old)
        else:
            staging.rename(directory)
        self.metadata = metadata
        return directory

    # --- properties ---------------------------------------------------------------

    @property
    def preprocessor(self) -> SentimentPreprocessor:
        return self.classifier.preprocessor

    @property
    def output_dense(self) -> keras.layers.Dense:
        """The classifier's 3-class head (`classification_head`)."""
        return classification_head(self.classifier)

    @property
    def embedding_dim(self) -> int:
        return int(self.classifier.backbone.hidden_dim)

    @property
    def class_prior(self) -> np.ndarray:
        """float64 [3], LABELS order: the answer for an empty text (see empty_text.py).

        The fine-tuning training set's label shares (`metadata["class_prior"]`), or
        uniform for a model that has none.
        """
        prior = self.metadata.get(PRIOR_KEY)
        return uniform_prior() if prior is None else check_prior(prior)

    def set_class_prior(self, prior) -> None:
        """Sets the empty-text prior [3] (saved by `save`, used by every scorer)."""
        values = check_prior(prior)
        self.metadata[PRIOR_KEY] = [float(p) for p in values]
        if self._scorer is not None:
            self._scorer.get_layer("empty_text").set_prior(values)

    @property
    def temperature(self) -> float:
        """The logits' divisor before the softmax (`calibration`): 1.0 = uncalibrated."""
        return float(self.metadata.get(TEMPERATURE_KEY, 1.0))

    def set_temperature(self, temperature: float) -> None:
        """Sets T (saved by `save`; every scorer built after this divides by it).

        Raises:
            ValueError: T is not a positive finite number.
        """
        temperature = float(temperature)
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        self.metadata[TEMPERATURE_KEY] = temperature
        if self._scorer is not None:  # a variable: no rebuild, no retrace
            self._scorer.get_layer("temperature").set_temperature(temperature)

    def describe(self) -> dict:
        """Facts a reader of the saved folder needs, including the weights fingerprint."""
        return {
            "labels": list(LABELS),
            "embedding": "masked mean of the last hidden layer over real tokens, L2-normalised",
            "embedding_dim": self.embedding_dim,
            "sequence_length": self.preprocessor.sequence_length,
            "bucket_lengths": self.preprocessor.packer.lengths
            if self.preprocessor.packer else None,
            PRIOR_KEY: [float(p) for p in self.class_prior],
            TEMPERATURE_KEY: self.temperature,
            "empty_text": "probabilities = class_prior, embedding = zeros, label 'none'",
            "text_mapping": mapping_version(),
            "fingerprint": self.fingerprint(),
            "keras_hub": keras_hub.__version__,
            "layers": int(self.classifier.backbone.num_layers),
            # a distilled student (sentiment.student): its teacher's fingerprint
            **{key: self.metadata[key] for key in ("student_of",) if key in self.metadata},
        }

    def fingerprint(self) -> str:
        """sha256 (hex, 16 chars) of the weights, vocabulary and preprocessing settings.

        Two models score a text identically iff (up to hash collisions) their
        fingerprints agree, so it keys the score cache. Covered: the weights, the
        vocabulary, sequence length, lower-casing, the text cleaning
        (`text.steps.CLEANING_VERSION`), the emoji mapping (`text.emoji.mapping_version`)
        and the empty-text prior; the temperature where it is not 1 and the
        preprocessor's `tail_tokens` where not 0 (so that the fingerprints, and score
        caches, of models without them stay as they were).
        """
        digest = hashlib.sha256()
        for weight in self.classifier.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        tokenizer = self.preprocessor.tokenizer
        digest.update("\n".join(tokenizer.get_vocabulary()).encode())
        settings = [self.preprocessor.sequence_length, tokenizer.lowercase,
                    f"cleaning-{CLEANING_VERSION}", mapping_version(),
                    [float(p) for p in self.class_prior]]
        if self.temperature != 1.0:
            settings.append({TEMPERATURE_KEY: self.temperature})
        if self.preprocessor.tail_tokens:
            settings.append({"tail_tokens": self.preprocessor.tail_tokens})
        digest.update(json.dumps(settings).encode())
        return digest.hexdigest()[:16]

    # --- scoring ------------------------------------------------------------------

    @property
    def scorer(self) -> keras.Model:
        """Keras model: token features (int32 [B, L] each) -> probabilities, embedding.

        Shares every layer (and so every weight) with `classifier`; one backbone pass.
        """
        if self._scorer is None:
            self._scorer = build_scorer(self.classifier, self.class_prior, self.temperature)
        return self._scorer

    def as_module(self) -> SentimentModule:
        """The in-graph `tf.string` [B] -> outputs function as a savable `tf.Module`."""
        if self._module is None:
            self._module = SentimentModule(self.preprocessor, self.scorer)
        return self._module

    def score(self, texts: Sequence[str], batch_size: int = 32, cache=None,
              progress: bool = False, jit_compile: bool = False,
              bfloat16: bool = False, runtime: str = "tensorflow") -> Scores:
        """Batch inference; see `tfrec_sentiment.sentiment.inference.score_texts`.

        `runtime`: "tensorflow" unless asked, as the config's default; the pipeline
        passes its config's (`sentiment.inference_runtime`: `inference.scoring_options`)."""
        return score_texts(self, texts, batch_size=batch_size, cache=cache,
                           progress=progress, jit_compile=jit_compile, bfloat16=bfloat16,
                           runtime=runtime)


def _check_positions(config: SentimentConfig, backbone: keras_hub.models.BertBackbone) -> None:
    if config.sequence_length > backbone.max_sequence_length:
        raise ValueError(f"sequence_length {config.sequence_length} exceeds the backbone's "
                         f"{backbone.max_sequence_length} positions")


def _tokenizer_and_backbone(config: SentimentConfig):
    if config.preset == TINY:
        hidden = config.tiny_hidden_dim
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(tiny_vocabulary()), num_layers=config.tiny_layers,
            num_heads=config.tiny_heads, hidden_dim=hidden, intermediate_dim=4 * hidden,
            dropout=config.dropout, max_sequence_length=max(config.sequence_length, 16),
        )
        return tiny_tokenizer(), backbone
    folder = str(resolve_preset(config.preset))
    tokenizer = keras_hub.models.BertTokenizer.from_preset(folder)
    backbone = keras_hub.models.BertBackbone.from_preset(folder, dropout=config.dropout)
    return tokenizer, backbone


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
