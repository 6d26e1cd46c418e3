"""What an export reads from a run folder: the served classifier, the recommender, the
aspect profiles (the run-folder contract, docs/design.md).

- `served_sentiment(run_dir, which, in_memory)`: the teacher (`sentiment/model`) or
  the distilled student (`sentiment/student`, `ExportConfig.sentiment_model`).
- `run_recommender(run_dir)`: `recsys/` with its feature tables, decrypted with the
  run's key source.
- `run_profiles(run_dir)`: `aspects/aspect_profiles.npz` for the `explain` signature,
  or why it is left out.

`ExportError` lives here, the module every export step imports first; it is
re-exported by `export.saved_model`, where callers have always found it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfrec_sentiment.aspects.profiles import AspectProfiles
    from tfrec_sentiment.recsys.trained import TrainedRecommender
    from tfrec_sentiment.sentiment.model import SentimentModel

ASPECTS_DIR = "aspects"  # <run>/aspects/aspect_profiles.npz: the explain signature's tables


class ExportError(RuntimeError):
    """The export could not be written (the message names the folder and the cause)."""


def served_sentiment(run_dir: Path, which: str,
                     in_memory: SentimentModel | None = None) -> SentimentModel:
    """The classifier the SavedModel serves: "teacher" (`in_memory` if given, else
    `run_dir/sentiment/model`) or "student" (always `run_dir/sentiment/student`).

    Raises:
        ExportError: the student is asked for and the run has none.
        FileNotFoundError: the teacher's folder is missing (not a finished run).
    """
    from tfrec_sentiment.sentiment.model import SentimentModel

    if which == "student":  # the teacher in memory is not the one served
        student = Path(run_dir) / "sentiment" / "student"
        if not student.is_dir():
            raise ExportError(f"export.sentiment_model=student but {student} does not exist: "
                              "train the run with sentiment.student_layers > 0")
        return SentimentModel.load(student)
    if in_memory is not None:
        return in_memory
    return SentimentModel.load(existing(Path(run_dir) / "sentiment" / "model", run_dir))


def run_recommender(run_dir: Path) -> TrainedRecommender:
    """The run's trained recommender (`recsys/`, tables opened with the run's keys)."""
    from tfrec_sentiment.privacy import run_encryption
    from tfrec_sentiment.recsys.trained import TrainedRecommender

    return TrainedRecommender.load(existing(Path(run_dir) / "recsys", run_dir),
                                   encryption=run_encryption(run_dir))


def run_profiles(run_dir: Path) -> tuple[AspectProfiles | None, str | None]:
    """The run's aspect profiles, or None and why the `explain` signature is left out.

    Returns:
        (profiles, None) when `run_dir/aspects/aspect_profiles.npz` holds at least one
        aspect; else (None, the reason, naming the file).

    Raises:
        ExportError: the file exists but cannot be read or is inconsistent.
    """
    from tfrec_sentiment.aspects.profiles import PROFILES_FILE, AspectProfiles

    path = Path(run_dir) / ASPECTS_DIR / PROFILES_FILE
    if not path.is_file():
        return None, f"{path} not found (the run has no aspect profiles)"
    try:
        from tfrec_sentiment.privacy import run_encryption

        profiles = AspectProfiles.load(path.parent, run_encryption(run_dir))
    except (OSError, ValueError, KeyError) as error:
        raise ExportError(f"{path}: unreadable aspect profiles: {error}") from error
    if profiles.num_aspects == 0:
        return None, f"{path} has no aspect (an empty aspect vocabulary)"
    return profiles, None


def existing(path: Path, run_dir: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: {run_dir} is not a finished run folder")
    return path
