"""The file-level checks of a read, for a human: an empty or damaged file, nothing
accepted, times that look like another unit."""

from __future__ import annotations

from collections import Counter

from tfrec_sentiment.data.readers.fields import UNIT_NAMES


def read_warnings(file: str, format: str, lines: int, accepted: int,
                  reasons: Counter) -> list[str]:
    """Notes for a human about a whole file: empty, nothing accepted, damaged."""
    notes = []
    if lines == 0:
        notes.append(f"{file} holds no records (empty file)")
    elif accepted == 0:
        top = reasons.most_common(1)[0][0] if reasons else "duplicates"
        notes.append(f"no review of {file} was accepted (most common reason: {top}); "
                     f"is {format!r} the right format?")
    damaged = [reason for reason in ("truncated_file", "corrupt_file") if reasons[reason]]
    if damaged:
        notes.append(f"{file} is damaged ({damaged[0]}): records after the damage are lost, "
                     "and a corrupt stream may have garbled the records just before it")
    return notes


def unit_warnings(file: str, hints: Counter, accepted: int) -> list[str]:
    """Per-file time-unit check, from the out-of-range times of a file.

    Args:
        file: name for the message.
        hints: (field, unit read, likely unit or None) -> records rejected as
            `timestamp_out_of_range` (see `fields.TimestampRangeError`).
        accepted: records whose time was plausible (all accepted records).

    Returns:
        One warning per (field, unit read, likely unit) with a likely unit: "most" when
        those records outnumber all the others with a time (the unit is probably wrong
        for the file), else a count of the few that look mis-scaled.

    Example:

    >>> unit_warnings("f.csv", Counter({("ts", "ms", "s"): 2}), accepted=0)[0][:52]
    'most times in field ts of f.csv (2 of 2) look like s'
    """
    timed = accepted + sum(hints.values())
    notes = []
    for (field, unit, likely), count in sorted(hints.items(), key=str):
        if likely is None or likely == unit:
            continue
        what = f"{UNIT_NAMES[likely]}, not {UNIT_NAMES[unit]}"
        if 2 * count > timed:
            hint = (" (csv / parquet / jsonl: map timestamp=COLUMN for seconds or ISO dates, "
                    "timestamp_ms=COLUMN for milliseconds)"
                    if unit in ("s", "ms") and likely in ("s", "ms") else "")
            notes.append(f"most times in field {field} of {file} ({count} of {timed}) look "
                         f"like {what}: is the time unit right for this file?{hint} They "
                         "were rejected as timestamp_out_of_range")
        else:
            notes.append(f"{count} of {timed} times in field {field} of {file} look like "
                         f"{what}; rejected as timestamp_out_of_range")
    return notes
