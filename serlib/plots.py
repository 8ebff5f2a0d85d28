"""The thesis figures: confusion heatmaps, training curves, and a comparison of runs.

Each function returns a matplotlib ``Figure`` (shown inline in a notebook) and
builds it without pyplot's global state, so it also works without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def confusion_figure(confusion: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """The confusion matrix ``(K, K)`` (rows: true class) in counts and in row percentages."""
    confusion = np.asarray(confusion)
    rows = confusion.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    for ax, data, fmt, name in zip(fig.subplots(1, 2), (confusion, percent), ("d", ".1f"),
                                   ("utterances", "% of the true class"), strict=True):
        sns.heatmap(data, annot=True, fmt=fmt, cmap="Blues", square=True, ax=ax, cbar=True,
                    xticklabels=classes, yticklabels=classes, cbar_kws={"label": name})
        ax.set_xlabel("predicted emotion")
        ax.set_ylabel("true emotion")
        ax.set_title(f"{title}: {name}")
    return fig


def curves_figure(histories: Sequence[dict[str, list[float]]], title: str) -> Figure:
    """Loss, WA and UA per epoch: the mean over folds and a band of one standard deviation."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = [("loss", [("train_loss", "training"), ("val_loss", "validation")]),
              ("validation WA (%)", [("val_wa", "WA")]), ("validation UA (%)", [("val_ua", "UA")])]
    for ax, (ylabel, series) in zip(axes, panels, strict=True):
        for key, name in series:
            runs = [h[key] for h in histories if h.get(key)]
            if not runs:
                continue
            n = min(len(r) for r in runs)
            values = np.array([r[:n] for r in runs], dtype=float)
            values *= 100 if "%" in ylabel else 1
            epochs = np.arange(1, n + 1)
            mean, std = values.mean(axis=0), values.std(axis=0)
            ax.plot(epochs, mean, marker="o", markersize=3, label=name)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.25)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend()
    fig.suptitle(f"{title}: mean over {len(histories)} fold(s), band = ±1 std")
    return fig


def comparison_figure(labels: Sequence[str], wa: Sequence[tuple[float, float]],
                      ua: Sequence[tuple[float, float]]) -> Figure:
    """WA and UA (mean, std in %) of several runs side by side, with error bars."""
    fig = Figure(figsize=(max(6, 1.6 * len(labels) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(labels))
    for offset, name, scores in ((-0.2, "WA", wa), (0.2, "UA", ua)):
        means, stds = zip(*scores, strict=True) if scores else ((), ())
        bars = ax.bar(x + offset, means, 0.4, yerr=stds, capsize=4, label=name)
        ax.bar_label(bars, fmt="%.1f", padding=2)
    ax.set_xticks(x, labels, rotation=15, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Cross-validation accuracy (mean ± std over folds)")
    ax.legend()
    return fig


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf``; returns both paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=120)
    return paths
