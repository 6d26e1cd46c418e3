"""PNG charts for run folders: the ablation bars, training curves and aspect polarity.

Drawn with matplotlib's object API on an Agg canvas, so nothing here touches pyplot's
global state or needs a display.

Example:

>>> path = plot_training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
...                             "/tmp/curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tfrec_sentiment.evaluation.stats import MeanCI

_VALIDATION_PREFIX = "val_"


def plot_training_curves(history: Mapping[str, Sequence[float]], path: str | Path,
                         title: str = "") -> Path:
    """One panel per metric of a Keras-style history, training and `val_` curves together.

    Args:
        history: metric name -> one value per epoch, e.g. `model.fit(...).history`
            ({"loss": [...], "val_loss": [...], "rmse": [...]}).
        path: the PNG to write (parent folders are created).
        title: figure title.

    Returns:
        The path written.
    """
    curves = {name: list(values) for name, values in history.items() if len(values)}
    if not curves:
        raise ValueError("plot_training_curves: history holds no values")
    panels: dict[str, list[str]] = {}
    for name in curves:
        panels.setdefault(name.removeprefix(_VALIDATION_PREFIX), []).append(name)
    figure = Figure(figsize=(4.5 * min(len(panels), 3), 3.4 * math.ceil(len(panels) / 3)))
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    for slot, (panel, names) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(rows, columns, slot)
        for name in names:
            epochs = range(1, len(curves[name]) + 1)
            axes.plot(epochs, curves[name], marker="o", markersize=3,
                      label="validation" if name.startswith(_VALIDATION_PREFIX) else "train")
        axes.set_title(panel)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return _save(figure, path, title)


def plot_ablation(summaries: Mapping[str, Mapping[str, MeanCI]], metrics: Sequence[str],
                  path: str | Path, labels: Mapping[str, str] | None = None,
                  title: str = "") -> Path:
    """Horizontal bars of each variant's mean metric with its confidence interval.

    Args:
        summaries: variant name -> metric name -> `MeanCI` (intervals that are NaN, e.g.
            one seed, are drawn without an error bar; a NaN mean, a metric no user
            qualifies for, draws no bar).
        metrics: the metrics to draw, one panel each (e.g. ("rmse", "ndcg@10")).
        path: the PNG to write.
        labels: panel titles by metric; default the metric keys.
        title: figure title.

    Returns:
        The path written.
    """
    names = list(summaries)
    if not names:
        raise ValueError("plot_ablation: no variants to draw")
    figure = Figure(figsize=(4.8 * len(metrics), 0.5 * len(names) + 1.6))
    for slot, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(1, len(metrics), slot)
        positions = list(range(len(names)))
        axes.set_yticks(positions, names if slot == 1 else [""] * len(names))
        axes.set_ylim(len(names) - 0.5, -0.5)  # first variant on top, as in the table
        drawn = [p for p in positions if not math.isnan(summaries[names[p]][metric].mean)]
        if not drawn:
            axes.set_title(f"{(labels or {}).get(metric, metric)}\n(no user qualifies)",
                           fontsize=10)
            continue
        means = [summaries[names[p]][metric].mean for p in drawn]
        errors = [summaries[names[p]][metric].half_width for p in drawn]
        positions = drawn
        axes.barh(positions, means, color="tab:blue", alpha=0.75)
        with_interval = [j for j in range(len(drawn)) if errors[j] > 0]  # NaN, 0 are False
        axes.errorbar([means[j] for j in with_interval], [drawn[j] for j in with_interval],
                      xerr=[errors[j] for j in with_interval], fmt="none", ecolor="black",
                      capsize=4)
        for position, mean, error in zip(positions, means, errors):
            axes.annotate(f"{mean:.4f}", (mean + (error if error > 0 else 0), position),
                          xytext=(4, -4),
                          textcoords="offset points", fontsize=7)
        spans = [(m - (e if e > 0 else 0), m + (e if e > 0 else 0)) for m, e in zip(means, errors)]
        low, high = min(s[0] for s in spans), max(s[1] for s in spans)
        margin = (high - low) * 0.25 or abs(high) * 0.05 or 0.01
        # Differences between models are small next to the values: the axis starts near
        # the lowest bar, not at zero (the panel says so).
        start = max(0.0, low - margin)
        axes.set_xlim(start, high + margin)
        name = (labels or {}).get(metric, metric)
        axes.set_title(name if start == 0 else f"{name}\naxis from {start:.3g}", fontsize=10)
        axes.grid(axis="x", alpha=0.3)
    return _save(figure, path, title)


def plot_aspect_polarity(polarity: Mapping[str, Sequence[float]], path: str | Path,
                         top: int = 15, title: str = "") -> Path:
    """The most-mentioned aspects of the catalogue, one box of mention polarity each.

    Args:
        polarity: aspect -> the polarity of each of its mentions, in [-1, 1].
        path: the PNG to write.
        top: how many aspects to draw, the most-mentioned first (top row).
        title: figure title.

    Returns:
        The path written.
    """
    ranked = sorted((a for a in polarity if len(polarity[a])), key=lambda a: -len(polarity[a]))
    ranked = ranked[:top]
    if not ranked:
        raise ValueError("plot_aspect_polarity: no aspect has a mention")
    figure = Figure(figsize=(7.0, 0.38 * len(ranked) + 1.6))
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(ranked)))
    axes.boxplot([list(polarity[a]) for a in ranked], positions=positions, vert=False,
                 widths=0.6, showmeans=True, flierprops={"markersize": 2, "alpha": 0.3})
    axes.set_yticks(positions, [f"{a} ({len(polarity[a])})" for a in ranked])
    axes.set_ylim(len(ranked) - 0.5, -0.5)
    axes.axvline(0.0, color="grey", linewidth=0.8)
    axes.set_xlim(-1.05, 1.05)
    axes.set_xlabel("mention polarity (-1 negative .. +1 positive; triangle: mean)")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path, title)


def _save(figure: Figure, path: str | Path, title: str) -> Path:
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path
