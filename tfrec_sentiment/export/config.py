"""Export stage config (owned by tfrec_sentiment.export).

Example:

>>> config = ExportConfig(top_k=20)
>>> config.serving_base_path
'/models/tfrec_sentiment'
>>> ExportConfig(index="auto").index_kind(10_000_000)
'partitioned'
"""

from __future__ import annotations

import dataclasses
import re

from tfrec_sentiment.config_checks import ConfigError, check_fields

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
INDEX_KINDS = ("auto", "exact", "partitioned")
# How `explain` orders an item's aspects (`export.explain`): by the user's weight times
# the item's mentions, by the weight alone, or by the mentions alone.
EXPLAIN_ORDERS = ("weight_x_mentions", "weight", "mentions")
# Items the partitioned index's k-means is fitted on: `index_sample`'s default, and
# `PartitionedIndex.fit`'s, so that the two cannot drift apart.
INDEX_SAMPLE = 200_000


# The classifier served by `sentiment` / `recommend_from_reviews` (`ExportConfig.sentiment_model`).
SENTIMENT_MODELS = ("teacher", "student")


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
        index: how `recommend` and `recommend_from_reviews` find the top K: "exact"
            scores the whole catalogue (`export.index.CatalogueIndex`);
            "partitioned" takes the `candidates` best items by the retrieval dot
            product from a k-means partitioned index (`export.partitioned_index`),
            scores only those with the model's full score, then excludes and ranks;
            "auto" is "partitioned" for catalogues of more than `index_auto_items`
            items, else "exact".
        index_auto_items: the largest catalogue "auto" serves exactly. The exact
            learned score runs the rating head on every item: ~0.25 s per user at
            100,000 items and ~3 s at 1M on 2 cores (retrieval alone: ~10 ms at 1M).
        partitions: k-means partitions P of the partitioned index; None = about
            sqrt(items) (`partitioned_index.default_partitions`); at most the items.
        probes: partitions searched per request (at most `partitions`; clipped to P
            when P is chosen from the catalogue). More: higher recall, slower.
        candidates: C, the items the full score ranks per user; None = max(10 K, 100).
        index_sample: the k-means is fitted on a seeded sample of this many items
            (raised to P when smaller, since k-means needs P points; every item when
            the catalogue is no larger); every item is then assigned to its nearest
            centroid.
        index_seed: the sample's and the k-means' seed.
        require_pseudonyms: the deployment must be pseudonymous: the export refuses
            a model whose user ids are not pseudonyms (`privacy.check_pseudonymous`),
            and `tools/train.py` refuses to start when no pseudonymisation key is set.
        explain_aspects: N, the aspects per (user, item) of the `explain` signature
            (served when the run has aspect profiles, `export.explain`): the item's
            mentioned aspects ranked by `explain_order`, padded with "" / 0.
        explain_order: how those aspects are ranked: "weight_x_mentions" (the user's
            weight times the item's mentions: what this user cares about AND this
            item's reviews talk about), "weight" (the user's weight alone) or
            "mentions" (the item's mentions alone, the same for every user). On
            Musical Instruments' test reviews (docs/aspects.md), ranking by weight x
            item share tied ranking by mentions (NDCG@3 0.4419 / 0.4413) and beat the
            weight alone (0.4069).
        explain_praise: the item's mean aspect polarity at or above which `explain`'s
            sentence says "praised for" the aspect (in [0, 1]).
        explain_complain: the polarity at or below which the sentence says "some
            complain about" it (in [-1, 0], below `explain_praise`).
        explain_min_mentions: the mentions an aspect needs before the sentence
            praises or blames it (fewer: only "reviews mention").
        sentiment_model: the classifier inside the SavedModel's `sentiment` and
            `recommend_from_reviews` signatures: the run's fine-tuned "teacher", or its
            distilled "student" (`sentiment.student_layers`; faster, see
            `sentiment.student`). The recommender's features always come from the
            teacher's scores at training time. export.json records which.
    """

    root: str = "saved_models"
    model_name: str = "tfrec_sentiment"
    top_k: int = dataclasses.field(default=10, metadata={"min": 1})
    base_path: str | None = None
    num_versions: int = dataclasses.field(default=1, metadata={"min": 1})
    index: str = dataclasses.field(default="auto", metadata={"choices": INDEX_KINDS})
    index_auto_items: int = dataclasses.field(default=100_000, metadata={"min": 1})
    partitions: int | None = dataclasses.field(default=None, metadata={"min": 1})
    probes: int = dataclasses.field(default=32, metadata={"min": 1})
    candidates: int | None = dataclasses.field(default=None, metadata={"min": 1})
    index_sample: int = dataclasses.field(default=INDEX_SAMPLE, metadata={"min": 1})
    index_seed: int = 0
    require_pseudonyms: bool = False
    explain_aspects: int = dataclasses.field(default=5, metadata={"min": 1})
    explain_order: str = dataclasses.field(default="weight_x_mentions",
                                           metadata={"choices": EXPLAIN_ORDERS})
    explain_praise: float = dataclasses.field(default=0.3, metadata={"min": 0.0, "max": 1.0})
    explain_complain: float = dataclasses.field(default=-0.3,
                                                metadata={"min": -1.0, "max": 0.0})
    explain_min_mentions: int = dataclasses.field(default=2, metadata={"min": 1})
    sentiment_model: str = dataclasses.field(default="teacher",
                                             metadata={"choices": SENTIMENT_MODELS})

    def __post_init__(self) -> None:
        check_fields(self)
        if not _NAME.match(self.model_name):
            raise ConfigError("use letters, digits, '_', '.' or '-' (it is a folder and a URL "
                              "path segment)", "model_name", self.model_name)
        if self.partitions is not None and self.probes > self.partitions:
            raise ConfigError(f"must be <= partitions ({self.partitions})", "probes",
                              self.probes)
        if self.candidates is not None and self.candidates < self.top_k:
            raise ConfigError(f"must be >= top_k ({self.top_k}): the full score ranks the "
                              "candidates only", "candidates", self.candidates)
        if self.explain_complain >= self.explain_praise:
            raise ConfigError(f"must be < explain_praise ({self.explain_praise}): an aspect "
                              "cannot be praised and blamed at once", "explain_complain",
                              self.explain_complain)

    def index_kind(self, num_items: int) -> str:
        """"exact" or "partitioned" for a catalogue of `num_items` ("auto" resolved)."""
        if self.index != "auto":
            return self.index
        return "partitioned" if num_items > self.index_auto_items else "exact"

    @property
    def candidate_count(self) -> int:
        """C, the candidates the full score ranks (`candidates`, else max(10 K, 100))."""
        return self.candidates or max(10 * self.top_k, 100)

    @property
    def serving_base_path(self) -> str:
        """`base_path`, or the Docker image's `/models/<model_name>`."""
        return self.base_path or f"/models/{self.model_name}"
