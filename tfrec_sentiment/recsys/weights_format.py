"""The layout of a recommender's saved weights: its format number, and format 1 read back.

`TrainedRecommender.save` writes the model's variables as a TF object-based checkpoint,
whose keys are the attribute paths of the variables ("user_tower/id_embedding/
embeddings"), and the format number `FORMAT` in recsys.json. Format 1 is the layout of
the towers as one flat layer (before 2026-12-01); format 2 composes them from small
layers (`recsys/towers.py`), which moved some variables:

    format 1 (tower attribute)      format 2
    id_embedding                    ids/embedding
    fusion, text_projection         profile/fusion, profile/text_projection
    history_embedding               history/embedding
    similarity_weight (a variable)  similarity/weight

Every other tower part and the rating head kept its path.

- `restore_format_1` reads a format-1 checkpoint through a tree of the old attribute
  names whose leaves are the new model's layers and variables, so TensorFlow matches
  the old keys to the new variables; it refuses (a `ValueError` that says to retrain)
  when a variable of the new towers has no old key or another shape, e.g. after a
  change of the architecture itself.
- `check_backup` guards the resume of an interrupted training (`BackupAndRestore`'s
  folder): a backup without this format's marker would restore only the variables
  whose paths did not move, silently, so it is refused with a message that says to
  delete it.

Example:

>>> restore_format_1(model, "runs/old/recsys/weights/model")   # doctest: +SKIP
>>> check_backup(Path("runs/x/recsys/checkpoints/backup"), write=True)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfrec_sentiment.io import atomic_write

FORMAT = 2  # 2: the composed towers; 1: the flat towers, read by `restore_format_1`
MARKER = "weights_format"  # the file in a training backup folder that holds FORMAT
RETRAIN = "retrain it with this version (tools/train.py), or read it with the version that wrote it"


def _format_1_parts(tower: tf.keras.layers.Layer) -> dict:
    """The tower's layers and variables under their format-1 attribute names."""
    parts = {"id_embedding": tower.ids.embedding, "id_bias": tower.id_bias,
             "projection": tower.projection}
    if tower.profile is not None:
        parts.update(fusion=tower.profile.fusion, text_projection=tower.profile.text_projection)
    if tower.history is not None:
        parts["history_embedding"] = tower.history.embedding
    if tower.similarity is not None and tower.similarity.trainable_variables:
        (parts["similarity_weight"],) = tower.similarity.trainable_variables
    for name in ("feature_projection", "feature_bias", "retrieval_bias_table",
                 "feature_retrieval_bias"):
        parts[name] = getattr(tower, name)
    return {k: v for k, v in parts.items() if v is not None}


def restore_format_1(model: tf.keras.Model, prefix: str) -> None:
    """Assigns a format-1 checkpoint's values to a built format-2 `RecommenderModel`.

    Args:
        model: the recommender, built (its variables exist), with towers and head.
        prefix: the checkpoint prefix ("<run>/recsys/weights/model").

    Raises:
        ValueError: a variable of the towers or the head is not in the old layout, or
            the checkpoint lacks one of them (the message names the variables).
    """
    parts = {side: _format_1_parts(getattr(model, side)) for side in ("user_tower", "item_tower")}
    covered = {v.ref() for side in parts.values() for part in side.values()
               for v in ([part] if isinstance(part, tf.Variable) else part.variables)}
    unmapped = [v.name for side in parts for v in getattr(model, side).variables
                if v.ref() not in covered]
    if unmapped:
        raise ValueError(f"{prefix}: weights of format 1 have no place for {unmapped} "
                         f"of this version's towers; {RETRAIN}")
    trees = {side: tf.train.Checkpoint(**side_parts) for side, side_parts in parts.items()}
    try:  # a missing variable fails the assertion, a shape the read itself
        status = tf.train.Checkpoint(rating_head=model.rating_head, **trees).read(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as error:
        raise ValueError(f"{prefix}: not the layout of format 1 ({error}); {RETRAIN}") from None
    status.expect_partial()  # the old metrics and optimizer state are not read



def check_backup(folder: Path, write: bool) -> None:
    """Refuses a training backup of another weights format; marks a new one as `FORMAT`.

    Args:
        folder: `BackupAndRestore`'s backup folder (it deletes the folder, marker
            included, when training ends normally).
        write: write the marker (the chief; other workers only check).

    Raises:
        ValueError: the folder holds a checkpoint but no marker of `FORMAT`.
    """
    folder = Path(folder)
    marker = folder / MARKER
    found = marker.read_text().strip() if marker.exists() else None
    if found != str(FORMAT) and any(folder.rglob("checkpoint")):
        raise ValueError(
            f"{folder}: the backup of an interrupted training written with weights format "
            f"{found or 1}; this version writes format {FORMAT} and would resume only part "
            "of it. Delete the folder to train the recommender from its first epoch")
    if write and found != str(FORMAT):
        # Atomic, and only when missing: other workers read it at the same moment (a
        # truncate-then-write let one read "" and refuse its own backup on a restart).
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(marker, f"{FORMAT}\n")
