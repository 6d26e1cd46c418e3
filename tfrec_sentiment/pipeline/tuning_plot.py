"""The tuning study's chart: the objective per trial with the running best, and the
parameter importances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfrec_sentiment.pipeline.tuning_space import Objective


def plot_trials(trials: Sequence[Mapping], goal: Objective, path: str | Path,
                importances: Mapping[str, float] | None = None) -> Path:
    """PNG: the objective per trial with the running best; the importances beside it.

    Args:
        trials: `trials.jsonl` lines (`trial`, `state`, `value`).
        goal: the objective (its name labels the axis; its direction the running best).
        path: the PNG to write.
        importances: parameter -> importance (a second panel when given and non-empty).
    """
    done = [(t["trial"], t["value"]) for t in trials
            if t["state"] == "complete" and t["value"] is not None]
    pruned = [t["trial"] for t in trials if t["state"] == "pruned"]
    panels = 2 if importances else 1
    figure = Figure(figsize=(5.5 * panels, 3.6))
    axes = figure.add_subplot(1, panels, 1)
    if done:
        numbers, values = zip(*done)
        pick = np.minimum if goal.direction == "minimize" else np.maximum
        axes.plot(numbers, values, "o", markersize=4, label="trial")
        axes.step(numbers, pick.accumulate(np.asarray(values)), where="post",
                  label="running best")
    if pruned:
        axes.plot(pruned, [axes.get_ylim()[0]] * len(pruned), "x", color="grey",
                  label="pruned")
    axes.set_xlabel("trial")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(goal.name)
    axes.grid(alpha=0.3)
    if done or pruned:
        axes.legend(fontsize=8)
    if importances:
        side = figure.add_subplot(1, panels, 2)
        names = list(importances)[::-1]
        side.barh(names, [importances[n] for n in names])
        side.set_xlabel("importance (fANOVA)")
        side.tick_params(axis="y", labelsize=8)
    figure.suptitle(f"tuning: {goal.name} ({goal.direction})")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path
