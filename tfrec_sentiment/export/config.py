"""Export stage config (owned by tfrec_sentiment.export).

Example:

>>> config = ExportConfig(top_k=20)
>>> config.serving_base_path
'/models/tfrec_sentiment'
"""

from __future__ import annotations

import dataclasses
import re

from tfrec_sentiment.config_checks import ConfigError, check_fields

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass
class ExportConfig:
    """Where and how the one SavedModel is written.

    Attributes:
        root: folder holding one sub-folder per model name (relative paths are
            relative to the working directory).
        model_name: the model's name in TF Serving (its folder and its REST path,
            `/v1/models/<model_name>:predict`).
        top_k: K, the recommendations per user of `recommend` and
            `recommend_from_reviews`; fixed in the graph.
        base_path: the model folder as the SERVER sees it, written into
            models.config; None = "/models/<model_name>", the layout of the
            tensorflow/serving Docker image.
        num_versions: how many of the newest versions TF Serving keeps loaded
            (the `latest` model version policy): 1 serves the newest only, 2 keeps
            the previous one warm during a roll-out.
    """

    root: str = "saved_models"
    model_name: str = "tfrec_sentiment"
    top_k: int = dataclasses.field(default=10, metadata={"min": 1})
    base_path: str | None = None
    num_versions: int = dataclasses.field(default=1, metadata={"min": 1})

    def __post_init__(self) -> None:
        check_fields(self)
        if not _NAME.match(self.model_name):
            raise ConfigError("use letters, digits, '_', '.' or '-' (it is a folder and a URL "
                              "path segment)", "model_name", self.model_name)

    @property
    def serving_base_path(self) -> str:
        """`base_path`, or the Docker image's `/models/<model_name>`."""
        return self.base_path or f"/models/{self.model_name}"
