"""A minimal registered Keras 3 model around one layer, for save/load tests."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="tfrec_sentiment_tests")
class LayerModel(keras.Model):
    """Calls `layer` on its input; lets the `.keras` format save a layer on its own."""

    def __init__(self, layer: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, inputs):
        return self.layer(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": keras.layers.serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> LayerModel:
        config = dict(config)
        config["layer"] = keras.layers.deserialize(config["layer"])
        return cls(**config)
