"""A run's memory budget: its peak, estimated from the data's size before the costly stages.

After the data stage the sizes that drive memory are known: N training rows, U users,
I catalogue items, the reviews' text and the sentiment model's embedding width D. From
them `estimate_run_memory` adds up the large arrays the later stages hold at once
(bytes, each part named), and `fit_memory_budget` compares the total with the budget
(`RunConfig.memory_budget_gb`, or the memory this process can still take:
`available_bytes`). Over the budget, it adapts where that is enough: an exact
item-to-item block (the only part that grows with rows x items) is projected on
`features.similarity_rank` eigenvectors (rows x r), as it is above
`features.similarity_max_items` items or `features.similarity_max_gb` of exact
profiles, and a projected one that still does not fit is switched off.
Otherwise the run stops at once with `MemoryBudgetError`, whose message gives the
estimate by part and the changes that can help, instead of the kernel's OOM killer
stopping it an hour later.

The parts (float32 = 4 bytes; the copy counts were read off `bench/scale.py --growth`,
which reports each stage's measured peak beside the estimate):

- runtime: TensorFlow, Keras and the models: 1.2 GiB, plus 1.3 GiB to fine-tune or
  load a pretrained backbone (any preset but "tiny": the demo run's sentiment stage
  peaked at 2.5 GB with MiniLM-L6);
- reviews: the review frames' own size (pandas, deep), twice (the split and the
  feature stage's working copy);
- text embeddings: (N + held-out rows) x D, twice (scores, cache);
- training examples: N x (3 D + 64 + 3 L) values, twice (the examples and the
  tf.data tensors they become, `recsys.data.make_dataset`), plus 4 KiB per row that
  the recommender stage holds beyond them (read off `bench/scale.py --growth` at 300k
  synthetic reviews, 193,153 training rows: the run peaked at 2.80 GiB through the
  recommender stage, 3.19 GiB estimated, with the scoring calls bounded by
  `recsys.scoring.MAX_PAIRS_PER_CALL`; before that bound, 256 users x the whole
  catalogue per call made this look like 16 KiB per row, and the run peaked at 10.1 GiB);
- item similarity: width x (N + U) profiles (training rows and served users), twice,
  width = I exact or r projected; the sparse co-review and similarity matrices, 16
  bytes per co-reviewed pair (a float32 value and an int32 column each), bounded by
  the sum over users of (their distinct items)^2; projected, the basis Q and S Q
  (float32 [I, r]) and the randomized SVD's three float64 [I, 2r] blocks;
- ranking: the score blocks of the evaluation and of the weight fits (held-out users
  x I float64, bounded by `evaluation.metrics.DEFAULT_MAX_ELEMENTS` and
  `recsys.blend_max_scores`), and the item-kNN baseline's validation grid keeping its
  float32 products (`evaluation.baselines.knn.GRID_CACHE_BYTES` at most);
- aspects (when `aspects.enabled`): spaCy's pipeline, 0.5 GiB, and 20 KiB per parsed
  training review (read off Musical Instruments: the aspects stage peaked 628 MiB above
  the sentiment stage with 6,197 reviews);
- background process: when the comment-only protocol runs in a child process beside
  the chain (`pipeline/background.py`), that process's runtime (without a backbone to
  fine-tune), reviews and training examples, as above (the parse child, spaCy and the
  training texts, is smaller and ends before it starts).

Example:

>>> estimate = MemoryEstimate({"runtime": 2**30, "reviews": 2**29}, budget=2**32)
>>> round(estimate.total / 2**30, 1), estimate.fits
(1.5, True)
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np

from tfrec_sentiment import config as config_lib
from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.baselines.knn import GRID_CACHE_BYTES
from tfrec_sentiment.evaluation.metrics import DEFAULT_MAX_ELEMENTS
from tfrec_sentiment.pipeline.background import background_skip_reason
from tfrec_sentiment.pipeline.stages import rss_bytes, write_json

GIB = 2**30
RUNTIME_BYTES = int(1.2 * GIB)
PRETRAINED_BYTES = int(1.3 * GIB)  # a pretrained backbone's fine-tuning (module doc)
_FLOAT = 4
_EXAMPLE_COPIES = 2
_SIMILARITY_COPIES = 2
_PAIR = 16  # bytes per co-reviewed pair: the co-reviews and the similarity, value + column
_ROW_OVERHEAD = 4 * 1024  # bytes per training row in the recommender stage (module doc)
# The aspects stage (module doc): spaCy's pipeline, and per parsed review its candidates,
# mentions and scored contexts.
SPACY_BYTES = int(0.5 * GIB)
_ASPECT_ROW = 20 * 1024
_MINILM_DIM = 384  # the packaged MiniLM-L6's hidden size
_UNKNOWN_DIM = 768  # a BERT-base width: the safe guess for a model of unknown width


class MemoryBudgetError(RuntimeError):
    """The run would need more memory than its budget (the message says what to change)."""


@dataclasses.dataclass
class MemoryEstimate:
    """Estimated peak bytes by part, against a budget in bytes."""

    parts: dict[str, int]
    budget: int

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    @property
    def fits(self) -> bool:
        return self.total <= self.budget

    def table(self) -> str:
        """One line per part, in GiB, then the total against the budget."""
        lines = [f"  {name:<18} {size / GIB:6.2f} GiB" for name, size in self.parts.items()]
        lines.append(f"  {'total':<18} {self.total / GIB:6.2f} GiB of a "
                     f"{self.budget / GIB:.2f} GiB budget")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"parts_gib": {k: round(v / GIB, 3) for k, v in self.parts.items()},
                "total_gib": round(self.total / GIB, 3),
                "budget_gib": round(self.budget / GIB, 3)}


def available_bytes() -> int:
    """The memory this process can hold at most: what it holds now plus what the machine
    (or its cgroup, when that is lower) still has free.

    Linux: `/proc/meminfo` MemAvailable and the cgroup v2 / v1 limit; elsewhere 0 (no
    budget known: `fit_memory_budget` then checks nothing unless a budget is set).
    """
    free = 0
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except OSError:
        return 0
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit, usage = (Path(limit_file).read_text().strip(),
                            int(Path(usage_file).read_text().strip()))
        except (OSError, ValueError):
            continue
        if limit.isdigit():
            free = min(free, int(limit) - usage)
        break
    return max(0, free) + rss_bytes()


def text_dim(config: config_lib.RunConfig) -> int:
    """The sentiment model's embedding width D, read without loading the model."""
    settings = config.sentiment
    if settings.model_dir:
        metadata = Path(settings.model_dir) / "sentiment.json"
        try:
            return int(json.loads(metadata.read_text())["embedding_dim"])
        except (OSError, ValueError, KeyError):
            return _UNKNOWN_DIM
    if settings.preset == "tiny":
        return settings.tiny_hidden_dim
    if settings.preset == "minilm":
        return _MINILM_DIM
    try:
        return int(json.loads((Path(settings.preset) / "config.json").read_text())
                   ["hidden_size"])
    except (OSError, ValueError, KeyError):
        return _UNKNOWN_DIM


def similarity_bytes(rows: int, users: int, items: int, width: int | None = None,
                     pairs: int | None = None) -> int:
    """The item-to-item term's arrays: profiles of `rows` training rows and `users`
    served users, `width` columns each (float32, twice; None = `items`, exact), the
    sparse co-reviews and similarity (`pairs` co-reviewed pairs; None = items^2, the
    most there can be) and, projected (width < items), the basis, S Q and the
    randomized SVD's working blocks (module doc).

    Example:
        >>> exact = similarity_bytes(80_000, 10_000, 5_000, pairs=10**6)  # 100k reviews
        >>> projected = similarity_bytes(80_000, 10_000, 5_000, width=64, pairs=10**6)
        >>> round(exact / 2**30, 2), round(projected / 2**30, 3)
        (3.37, 0.075)
    """
    width = items if width is None else width
    pairs = items * items if pairs is None else min(pairs, items * items)
    size = _FLOAT * width * (rows + users + 1) * _SIMILARITY_COPIES + _PAIR * pairs
    if width < items:
        size += 2 * _FLOAT * items * width + 8 * items * 3 * (2 * width)
    return size


def similarity_width(config: config_lib.RunConfig, items: int) -> int:
    """The item-to-item block's width for a catalogue of `items`: I up to
    `features.similarity_max_items`, the rank r (at most I) above."""
    features = config.features
    if items <= features.similarity_max_items:
        return items
    return min(features.similarity_rank, items)


def estimate_run_memory(config: config_lib.RunConfig, split: Split,
                        budget: int | None = None) -> MemoryEstimate:
    """The run's estimated peak (module doc), from the split's sizes and the config.

    Args:
        config: the resolved run config.
        split: the data stage's split (train / validation / test frames).
        budget: bytes; default `memory_budget_gb` or `available_bytes()`.
    """
    rows = len(split.train)
    users = split.train["user_id"].nunique()
    items = split.train["item_id"].nunique()
    held_out = len(split.validation) + len(split.test)
    width = text_dim(config) if config.features.use_text else 0
    history = config.features.history_length
    frames = sum(int(f.memory_usage(deep=True).sum())
                 for f in (split.train, split.validation, split.test))
    parts = {
        "runtime": RUNTIME_BYTES + (PRETRAINED_BYTES if _pretrained(config) else 0),
        "reviews": 2 * frames,
        "text embeddings": 2 * _FLOAT * (rows + held_out) * width,
        "training examples": rows * (_EXAMPLE_COPIES * _FLOAT * (3 * width + 64 + 3 * history)
                                     + _ROW_OVERHEAD),
    }
    if config.features.item_similarity and config.recsys.item_similarity:
        distinct = split.train.groupby("user_id")["item_id"].nunique().to_numpy(np.int64)
        parts["item similarity"] = similarity_bytes(
            rows, users, items, similarity_width(config, items), int((distinct ** 2).sum()))
    scores = max(split.validation["user_id"].nunique(), split.test["user_id"].nunique()) * items
    parts["ranking"] = (8 * (6 * min(DEFAULT_MAX_ELEMENTS, scores)
                             + 10 * min(config.recsys.blend_max_scores, scores))
                        + min(GRID_CACHE_BYTES, 4 * scores))  # the kNN grid's products
    if config.aspects.enabled:
        parsed = min(rows, config.aspects.max_reviews or rows)
        parts["aspects"] = SPACY_BYTES + _ASPECT_ROW * parsed
    if config.evaluation.comment_only and background_skip_reason(config) is None:
        parts["background process"] = (RUNTIME_BYTES + parts["reviews"]
                                       + parts["training examples"])
    if budget is None:
        budget = (int(config.memory_budget_gb * GIB) if config.memory_budget_gb
                  else available_bytes())
    return MemoryEstimate(parts, budget)


def fit_memory_budget(config: config_lib.RunConfig, split: Split,
                      run_dir: Path | None = None,
                      budget: int | None = None) -> tuple[config_lib.RunConfig, MemoryEstimate]:
    """Adapts the config to the memory it may use, or stops the run before the costly stages.

    An exact item-to-item block is projected (`features.similarity_max_items` lowered
    below the catalogue, so the block has `features.similarity_rank` columns) when its
    profiles would take more than `features.similarity_max_gb` or when the run would
    not fit the budget with it; a projected block is switched off (features and recsys
    alike) by the same two rules. Each change warns and rewrites `config.json`. With
    `run_dir`, the final estimate is written to `memory.json` (also when the run is
    refused).

    Returns:
        (the config to run with, its memory estimate).

    Raises:
        MemoryBudgetError: the estimate without the item-to-item term is still over the
            budget (`config.json` is left as it was); the message gives each part and
            the changes that can help.
    """
    estimate = estimate_run_memory(config, split, budget)
    adapted, changes = config, []
    if config.features.item_similarity and config.recsys.item_similarity:
        items = split.train["item_id"].nunique()
        reason = _similarity_excess(adapted, estimate)
        if reason is not None and similarity_width(adapted, items) == items and items > 1:
            adapted = dataclasses.replace(adapted, features=dataclasses.replace(
                adapted.features, similarity_max_items=items - 1))
            changes.append(f"item similarity projected on rank "
                           f"{similarity_width(adapted, items)} "
                           f"(features.similarity_max_items lowered to {items - 1}): {reason}")
            estimate = estimate_run_memory(adapted, split, estimate.budget)
            reason = _similarity_excess(adapted, estimate)
        if reason is not None:
            adapted = dataclasses.replace(
                adapted, features=dataclasses.replace(adapted.features, item_similarity=False),
                recsys=dataclasses.replace(adapted.recsys, item_similarity=False))
            changes.append(f"item similarity switched off: {reason}")
            estimate = estimate_run_memory(adapted, split, estimate.budget)
    if run_dir is not None:
        write_json(Path(run_dir) / "memory.json", estimate.to_dict())
    if estimate.budget and not estimate.fits:
        raise MemoryBudgetError(_refusal(adapted, estimate))
    for change in changes:
        warnings.warn(change, stacklevel=2)
    if changes and run_dir is not None:
        config_lib.save(adapted, Path(run_dir) / "config.json")
    return adapted, estimate


def _similarity_excess(config: config_lib.RunConfig, estimate: MemoryEstimate) -> str | None:
    """Why the item-to-item term does not fit (its size limit, the budget), or None."""
    size, limit = estimate.parts["item similarity"], config.features.similarity_max_gb
    if size > limit * GIB:
        return (f"its profiles would take {size / 2**20:.1f} MiB "
                f"(features.similarity_max_gb = {limit:g})")
    if estimate.budget and not estimate.fits:
        return (f"the run would need {estimate.total / GIB:.2f} GiB with it, over the "
                f"{estimate.budget / GIB:.2f} GiB budget")
    return None


def _refusal(config: config_lib.RunConfig, estimate: MemoryEstimate) -> str:
    """The refusal message: the estimate by part and only the changes that can help."""
    head = (f"this run would need about {estimate.total / GIB:.1f} GiB of memory, more than "
            f"its {estimate.budget / GIB:.1f} GiB budget (memory_budget_gb; default: what "
            f"this machine has free):\n{estimate.table()}\n")
    if estimate.parts["runtime"] >= estimate.budget:
        return head + ("TensorFlow and the models alone (the runtime part) need more than "
                       "the budget: raise memory_budget_gb, or run on a machine with more "
                       "free memory.")
    changes = ["train on fewer reviews (e.g. a time window of the file)"]
    if config.features.use_text:
        changes.append("set features.use_text=false (no text embeddings in the examples)")
    if _pretrained(config):
        changes.append("use a smaller sentiment model (sentiment.preset=tiny)")
    changes.append("raise memory_budget_gb on a machine with more memory")
    return head + "To fit: " + "; ".join(changes) + "."


def _pretrained(config: config_lib.RunConfig) -> bool:
    """Whether the sentiment model is a pretrained backbone (anything but a fresh "tiny")."""
    return config.sentiment.preset != "tiny" or bool(config.sentiment.model_dir)
