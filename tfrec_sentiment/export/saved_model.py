"""Writes the one SavedModel TF Serving loads: `<root>/<model_name>/<version>/`.

    saved_models/tfrec_sentiment/
        models.config              TF Serving model config (text protobuf)
        .publish.lock              flock of the tools that publish (TF Serving ignores it)
        1/                         a version: never overwritten
            saved_model.pb, variables/, fingerprint.pb
            assets/vocab.txt       the tokenizer vocabulary
            assets.extra/export.json
        2/ ...

A version is written into a hidden staging folder beside the versions (TF Serving
only loads integer-named folders), audited, described and then renamed to the next
free integer, so a server polling the folder never sees a half-written version. A
failed export (op audit, disk) leaves no version behind; a killed one leaves its
staging folder, whose name records the owner process (`.staging-<token>.<pid>@<host>`),
and the next export deletes it (`versions.remove_leftovers`). The claim and the rename
happen under the model folder's publish lock (`versions.publish_lock`).

`assets.extra/` is the SavedModel folder for files that the graph does not load (TF
Serving reads only its warm-up file there): `export.json` records the signatures,
the non-core ops and the minimum TF Serving release, the exporting versions, and
where the model came from.

The `explain` signature (`export.explain`) is added when the run folder holds aspect
profiles (`<run>/aspects/aspect_profiles.npz`, written by the aspects stage); without
them (or with an empty aspect vocabulary) the version has no `explain` signature, the
reason is logged at WARNING and recorded in export.json under "explain".

Example:

>>> version_dir = export_run(Path("runs/demo-20260101-120000"), ExportConfig())  # doctest: +SKIP
>>> version_dir.name                                                             # doctest: +SKIP
'1'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfrec_sentiment.export.config import ExportConfig
from tfrec_sentiment.export.module import VOCABULARY_FILE, build_serving_module
from tfrec_sentiment.export.ops import audit_ops, saved_model_ops
from tfrec_sentiment.export.run_parts import (
    ExportError,
    run_profiles,
    run_recommender,
    served_sentiment,
)
from tfrec_sentiment.export.versions import (
    STAGING_PREFIX,
    owned_name,
    publish_lock,
    remove_leftovers,
    versions,
)
from tfrec_sentiment.io import atomic_write, jsonable

if TYPE_CHECKING:
    from tfrec_sentiment.aspects.profiles import AspectProfiles
    from tfrec_sentiment.recsys.trained import TrainedRecommender
    from tfrec_sentiment.sentiment.model import SentimentModel

MODELS_CONFIG = "models.config"
METADATA_FILE = "export.json"
NO_PROFILES = "no aspect profiles were given"

log = logging.getLogger(__name__)

# Called under the publish lock just before a version is claimed; returns extra facts
# for export.json, or raises to abandon the export (the staging folder is removed).
BeforePublish = Callable[[Path], "dict | None"]
# Called under the publish lock right after the rename and models.config.
AfterPublish = Callable[[Path], None]


def export_run(run_dir: Path, config: ExportConfig, sentiment: SentimentModel | None = None,
               recommender: TrainedRecommender | None = None, metadata: dict | None = None,
               before_publish: BeforePublish | None = None,
               after_publish: AfterPublish | None = None) -> Path:
    """Exports a run's sentiment model and recommender as the next SavedModel version.

    Args:
        run_dir: the run folder (see the run-folder contract); models not passed in
            are loaded from `run_dir/sentiment/model` and `run_dir/recsys` (whose
            feature tables live in `run_dir/features`, opened with the key source of
            the run's config.json when encrypted).
        config: where to write (`root`, `model_name`), `top_k`, and which classifier
            is served (`sentiment_model`: "student" loads `run_dir/sentiment/student`).
        sentiment: the trained `SentimentModel` (the teacher), if already in memory.
        recommender: the trained `TrainedRecommender`, if already in memory.
        metadata, before_publish, after_publish: as `write_version`.

    The aspect profiles, when the run has them (`run_profiles`), add the `explain`
    signature; otherwise it is left out and the reason logged.

    Returns:
        The version folder written, e.g. `saved_models/tfrec_sentiment/3`.

    Raises:
        ExportError: as `export_models`, or the run's aspect profiles are unreadable.
    """
    run_dir = Path(run_dir)
    sentiment = served_sentiment(run_dir, config.sentiment_model, sentiment)
    recommender = recommender or run_recommender(run_dir)
    profiles, reason = run_profiles(run_dir)
    return export_models(sentiment, recommender, config, source=run_dir, metadata=metadata,
                         before_publish=before_publish, after_publish=after_publish,
                         profiles=profiles, no_profiles_reason=reason)


def export_models(sentiment: SentimentModel, recommender: TrainedRecommender,
                  config: ExportConfig, source: Path | None = None,
                  metadata: dict | None = None, before_publish: BeforePublish | None = None,
                  after_publish: AfterPublish | None = None,
                  profiles: AspectProfiles | None = None,
                  no_profiles_reason: str | None = None) -> Path:
    """Composes both models (`build_serving_module`) and writes the next version.

    Args:
        sentiment: the `SentimentModel`.
        recommender: the `TrainedRecommender`.
        config: the ExportConfig.
        source: the run folder the models come from (recorded in export.json).
        metadata, before_publish, after_publish: as `write_version`.
        profiles: the run's `AspectProfiles`: adds the `explain` signature.
        no_profiles_reason: without `profiles`, why (logged and recorded in
            export.json); default `NO_PROFILES`.

    Returns:
        The version folder.

    Raises:
        ExportError: `config.require_pseudonyms` is set and the recommender's (or the
            aspect profiles') user ids are not all pseudonyms (checked before
            anything is built).
    """
    if config.require_pseudonyms:
        from tfrec_sentiment.privacy import RawIdsError, check_pseudonymous

        try:
            check_pseudonymous(recommender.tables.ids["user"])
            if profiles is not None:
                check_pseudonymous(profiles.user_ids)
        except RawIdsError as error:
            raise ExportError(str(error)) from None
    reason = None if profiles is not None else no_profiles_reason or NO_PROFILES
    if reason is not None:
        log.warning("the export has no explain signature: %s", reason)
    module = build_serving_module(sentiment, recommender, config.top_k, config,
                                  profiles=profiles)
    tables = recommender.tables
    described = {
        "source_run": str(Path(source).resolve()) if source is not None else None,
        "top_k": config.top_k,
        "catalogue_items": len(tables.ids["item"]),
        "known_users": len(tables.ids["user"]),
        "excluded_training_reviews": int(module.index.seen_items.shape[0]),
        "index": module.describe_index(),
        "review_time": int(module.review_time.numpy()),
        "explain": ({"served": True, **module.explainer.facts} if module.explainer is not None
                    else {"served": False, "reason": reason}),
        "sentiment": jsonable(sentiment.describe(), fallback=str),
        "sentiment_model": config.sentiment_model,
        "recommender": {"config": jsonable(dataclasses.asdict(recommender.config), fallback=str),
                        "metrics": jsonable(recommender.metrics, fallback=str)},
        **(metadata or {}),
    }
    return write_version(module, module.serving_signatures(), config, described,
                         before_publish=before_publish, after_publish=after_publish)


def write_version(module: tf.Module, signatures: dict[str, Any], config: ExportConfig,
                  metadata: dict | None = None, before_publish: BeforePublish | None = None,
                  after_publish: AfterPublish | None = None) -> Path:
    """Saves `module` as the next version of `config.model_name` under `config.root`.

    First deletes the leftovers of killed exports and prunes (`remove_leftovers`),
    then stages the SavedModel in `.staging-<token>.<pid>@<host>`, audits its ops
    (`audit_ops`) and, holding the model folder's `publish_lock`, calls
    `before_publish`, writes `assets.extra/export.json`, renames the folder into
    place, (re)writes `models.config` and calls `after_publish`.

    Args:
        module: any `tf.Module` to save.
        signatures: signature name -> concrete function (or tf.function).
        config: the ExportConfig.
        metadata: extra facts for export.json.
        before_publish: `f(model_dir) -> dict | None`, under the lock before the
            version is claimed (e.g. re-check a guardrail against the newest version);
            its dict joins export.json; an exception abandons the export.
        after_publish: `f(version_dir)`, under the lock after the version is in place
            (e.g. prune older versions); an exception leaves the version published.

    Returns:
        The version folder.

    Raises:
        OpAuditError: an op stock TF Serving cannot run (nothing is written).
        ExportError: the version folder could not be put in place.
    """
    model_dir = Path(config.root) / config.model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(model_dir)
    staging = model_dir / owned_name(STAGING_PREFIX)
    try:
        tf.saved_model.save(module, str(staging), signatures=signatures)
        audit = audit_ops(saved_model_ops(staging))
        facts = {
            "model_name": config.model_name,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "signatures": signature_specs(staging),
            "ops": audit.to_dict(),
            "min_tf_serving": audit.min_tf_serving,
            "exported_with": _versions(),
            "vocabulary": _asset_facts(staging / "assets" / VOCABULARY_FILE),
            **(metadata or {}),
        }
        with publish_lock(model_dir):
            if before_publish is not None:
                facts.update(before_publish(model_dir) or {})
            version = _move_into_place(staging, model_dir, facts)
            write_models_config(config)
            if after_publish is not None:
                after_publish(model_dir / str(version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_dir / str(version)


def signature_specs(saved_model_dir: str | Path) -> dict[str, dict]:
    """The signatures as TF Serving sees them: name -> inputs / outputs -> dtype, shape.

    Shapes use -1 for an unknown dimension, e.g. {"dtype": "string", "shape": [-1, 10]}.
    """
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    specs = {}
    for name, signature in sorted(proto.meta_graphs[0].signature_def.items()):
        if name.startswith("__"):  # the loader's own init op, not a serving signature
            continue
        specs[name] = {
            side: {key: {"dtype": tf.dtypes.as_dtype(info.dtype).name,
                         "shape": [d.size for d in info.tensor_shape.dim]}
                   for key, info in sorted(getattr(signature, side).items())}
            for side in ("inputs", "outputs")
        }
    return specs


def models_config_text(config: ExportConfig) -> str:
    """TF Serving's `--model_config_file` content (ModelServerConfig, text format)."""
    return (
        "model_config_list {\n"
        "  config {\n"
        f"    name: {json.dumps(config.model_name)}\n"
        f"    base_path: {json.dumps(config.serving_base_path)}\n"
        '    model_platform: "tensorflow"\n'
        "    model_version_policy {\n"
        "      latest {\n"
        f"        num_versions: {config.num_versions}\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def write_models_config(config: ExportConfig) -> Path:
    """Writes `<root>/<model_name>/models.config` (atomically)."""
    path = Path(config.root) / config.model_name / MODELS_CONFIG
    atomic_write(path, models_config_text(config))
    return path


def _move_into_place(staging: Path, model_dir: Path, facts: dict) -> int:
    # The next free integer; a folder that appears meanwhile (another exporter) is
    # skipped, never replaced.
    for _ in range(100):
        version = max(versions(model_dir), default=0) + 1
        target = model_dir / str(version)
        if target.exists():
            continue
        facts["version"] = version
        extra = staging / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / METADATA_FILE).write_text(json.dumps(facts, indent=1) + "\n")
        try:
            os.rename(staging, target)
        except OSError:
            if target.exists():
                continue
            raise
        return version
    raise ExportError(f"{model_dir}: could not claim a free version folder")


def _asset_facts(path: Path) -> dict | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    return {"file": f"assets/{path.name}", "tokens": data.count(b"\n"),
            "sha256": hashlib.sha256(data).hexdigest()}


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    out = {"tensorflow": tf.__version__}
    for package in ("tensorflow-text", "keras", "keras-hub", "tf-keras",
                    "tensorflow-recommenders"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out
