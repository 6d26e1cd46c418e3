"""The in-graph scorer shared by batch scoring and the export, built on a classifier's layers.

- `classification_head(classifier)`: the classifier's Dense head, the one place that
  reads keras-hub's attribute for it.
- `build_scorer(classifier, prior)`: a Keras 3 model from the backbone's int32 inputs
  [B, L] to `probabilities` float32 [B, 3], `embedding` float32 [B, D] and `empty` bool
  [B], one backbone pass, every weight shared with the classifier.
- `SentimentModule`: the preprocessor and the scorer as a `tf.Module` whose `__call__`
  maps `tf.string` [B] to `probabilities`, `embedding` and `label`, for
  `tf.saved_model.save` (`SentimentModel.as_module()`).

Kept apart from model.py (construction, saving, fingerprint of a `SentimentModel`),
which builds these on demand.

Example:

>>> from tfrec_sentiment.sentiment.config import SentimentConfig
>>> from tfrec_sentiment.sentiment.model import SentimentModel
>>> model = SentimentModel.from_config(SentimentConfig(preset="tiny"))
>>> classification_head(model.classifier).units
3
>>> outputs = model.as_module()(tf.constant(["great strings", ""]))
>>> outputs["label"].numpy()[1], tuple(outputs["embedding"].shape)
(b'none', (2, 32))
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf

from tfrec_sentiment.sentiment.empty_text import NO_TEXT_LABEL, EmptyTextAnswer, uniform_prior
from tfrec_sentiment.sentiment.encoder import BertInferenceEncoder
from tfrec_sentiment.sentiment.labels import LABELS
from tfrec_sentiment.sentiment.pooling import MaskedMeanPooling
from tfrec_sentiment.sentiment.preprocessor import PACKAGE, SentimentPreprocessor
from tfrec_sentiment.sentiment.scores import FEATURE_NAMES


class SentimentModule(tf.Module):
    """`tf.Module` around the preprocessor and scorer, for `tf.saved_model.save`.

    Call it with `tf.string` [B]; returns `probabilities` float32 [B, 3], `embedding`
    float32 [B, D] and `label` string [B] (the arg-max class name; for an empty text
    the class prior, zeros and "none": see empty_text.py). Every op in its
    graph is a core TensorFlow op or a TF Text tokenizer op, so a process that imports
    only `tensorflow` and `tensorflow_text` can load and call it.
    """

    def __init__(self, preprocessor: SentimentPreprocessor, scorer: keras.Model,
                 name: str = "sentiment"):
        super().__init__(name=name)
        self.preprocessor = preprocessor
        self.scorer = scorer
        self.label_names = tf.constant(LABELS)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        features = self.preprocessor(text)
        outputs = self.scorer(features, training=False)
        probabilities = outputs["probabilities"]
        label = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {
            "probabilities": probabilities,
            "embedding": outputs["embedding"],
            "label": tf.where(outputs["empty"], NO_TEXT_LABEL, label),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TemperatureScaling(keras.layers.Layer):
    """logits [B, K] -> logits / T, float32 (temperature scaling, `calibration`).

    T is held in a non-trainable variable, so `set_temperature` changes a built scorer
    (and every function traced from it) without rebuilding or retracing it.

    Args:
        temperature: T > 0 (1 = the logits as they are).
    """

    def __init__(self, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def build(self, input_shape) -> None:
        self.inverse_temperature = self.add_weight(
            name="inverse_temperature", shape=(), trainable=False, dtype="float32",
            initializer=keras.initializers.Constant(1.0 / self.temperature))
        super().build(input_shape)

    def call(self, logits):
        return keras.ops.cast(logits, "float32") * self.inverse_temperature

    def set_temperature(self, temperature: float) -> None:
        self.temperature = float(temperature)
        self.inverse_temperature.assign(1.0 / self.temperature)

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature}


def classification_head(classifier: keras_hub.models.TextClassifier) -> keras.layers.Dense:
    """The Dense layer [B, hidden] -> logits [B, classes] of a keras-hub text classifier.

    The one place that reads keras-hub's attribute name (`output_dense`, set in the
    classifier's constructor): the scorer, the bfloat16 copy and the bench reach the
    head through this function or `SentimentModel.output_dense`.
    """
    return classifier.output_dense


def build_scorer(classifier: keras_hub.models.BertTextClassifier,
                 prior=None, temperature: float = 1.0) -> keras.Model:
    """Token features -> {"probabilities" [B, 3], "embedding" [B, D], "empty" bool [B]}.

    Reuses the classifier's layers. The classifier's dropout is left out: it is the
    identity at inference. The backbone runs as `BertInferenceEncoder` (the same
    function in fewer, larger ops, with the backbone's dropout when called with
    `training=True`). The logits are divided by `temperature` before the softmax
    (`TemperatureScaling`, `calibration`). Rows with no token get `prior` (default
    uniform) and a zero embedding (`EmptyTextAnswer`).
    """
    # === Layers ===
    encoder = BertInferenceEncoder(classifier.backbone, name="encoder")
    softmax = keras.layers.Softmax(dtype="float32", name="probabilities")
    pooling = MaskedMeanPooling(normalize=True, dtype="float32", name="embedding")
    empty_text = EmptyTextAnswer(uniform_prior() if prior is None else prior,
                                 dtype="float32", name="empty_text")

    # === Functional Model ===
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES
    }
    outputs = encoder(inputs)
    logits = classification_head(classifier)(outputs["pooled_output"])
    logits = TemperatureScaling(temperature, dtype="float32", name="temperature")(logits)
    probabilities = softmax(logits)
    embedding = pooling(outputs["sequence_output"], inputs["padding_mask"])
    answered = empty_text(probabilities, embedding, inputs["padding_mask"])
    return keras.Model(inputs, answered, name="sentiment_scorer")
