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


def class_colours(classes: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per class, in class order (seaborn's default palette), so that a class has
    the same colour in every panel and notebook: pass as ``palette=`` with
    ``hue_order=list(colours)``."""
    return dict(zip(classes, sns.color_palette(n_colors=len(classes)), strict=True))


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
    """Loss, WA and UA per epoch: one fold's curves, or the mean over folds with a band of
    one standard deviation."""
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
            mean = values.mean(axis=0)
            ax.plot(epochs, mean, marker="o", markersize=3, label=name)
            if len(runs) > 1:
                std = values.std(axis=0)
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.25)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(series) > 1 and ax.get_legend_handles_labels()[0]:
            ax.legend()
    what = "one fold" if len(histories) == 1 else \
        f"mean over {len(histories)} folds, band = ±1 std"
    fig.suptitle(f"{title}: {what}")
    return fig


def comparison_figure(folds, paired=None) -> Figure:
    """Runs side by side (``folds``: :meth:`serlib.report.Run.table` rows with a ``run``
    column): mean WA and UA as bars, each fold's UA as a dot and collapsed folds as red
    crosses; and, given ``paired`` (:func:`serlib.report.paired_table`), each run's paired
    difference from the reference with its 95 % interval."""
    labels = list(dict.fromkeys(folds["run"]))
    has_pairs = paired is not None and len(paired) > 0
    fig = Figure(figsize=(max(6, 1.5 * len(labels) + 2) + (5 if has_pairs else 0), 4.4),
                 layout="constrained")
    axes = fig.subplots(1, 2 if has_pairs else 1, squeeze=False)[0]
    ax = axes[0]
    x = np.arange(len(labels))
    for offset, metric in ((-0.2, "WA"), (0.2, "UA")):
        means = [folds.loc[folds["run"] == r, metric].mean() for r in labels]
        bars = ax.bar(x + offset, means, 0.4, label=f"{metric}, mean over folds", alpha=0.8)
        # Inside the bar: the fold dots gather around its top and would hide a label there.
        ax.bar_label(bars, fmt="%.1f", label_type="center", fontsize=8)
    for i, run in enumerate(labels):
        t = folds[folds["run"] == run]
        jitter = np.linspace(-0.08, 0.08, len(t)) if len(t) > 1 else np.zeros(1)
        ok = ~t["collapsed"].to_numpy(bool)
        ax.scatter((i + 0.2 + jitter)[ok], t["UA"].to_numpy()[ok], s=14, color="k", zorder=3,
                   label="UA of one fold" if i == 0 else None)
        ax.scatter((i + 0.2 + jitter)[~ok], t["UA"].to_numpy()[~ok], s=40, marker="x",
                   color="red", zorder=3, label="collapsed fold" if (~ok).any() else None)
    num_classes = sum(c.startswith("recall ") for c in folds.columns)
    if num_classes:
        ax.axhline(100 / num_classes, color="grey", ls=":", lw=1,
                   label=f"chance UA ({100 / num_classes:.0f} %)")
    long = max(len(label) for label in labels) > 12
    ax.set_xticks(x, labels, rotation=30 if long else 15, ha="right", rotation_mode="anchor")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Cross-validation accuracy")
    legend_axes = [ax]
    if has_pairs:
        ax = axes[1]
        y = np.arange(len(paired))
        for offset, metric, colour in ((0.15, "UA", "C1"), (-0.15, "WA", "C0")):
            mean = paired[f"d{metric}"].to_numpy()
            # No bar where the pairs were too few for an interval (NaN ends): a dot alone.
            err = np.nan_to_num(np.abs(np.stack([paired[f"d{metric}_low"],
                                                 paired[f"d{metric}_high"]]) - mean))
            ax.errorbar(mean, y + offset, xerr=err, fmt="o", capsize=4, color=colour,
                        label=f"Δ{metric}")
        ax.axvline(0, color="grey", lw=1)
        ax.set_yticks(y, [f"{r} ({n} folds)" for r, n in zip(paired["run"], paired["folds"],
                                                             strict=True)])
        ax.set_ylim(len(paired) - 0.5, -0.5)
        ax.set_xlabel(f"difference from {paired['reference'].iloc[0]} (percentage points)")
        ax.set_title("Paired difference, mean and 95 % sign-flip interval")
        ax.grid(alpha=0.3, axis="x")
        legend_axes.append(ax)
    # One legend under the whole figure: below rotated run names, whatever their length.
    unique = {}
    for a in legend_axes:
        handles, names = a.get_legend_handles_labels()
        unique.update(zip(names, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), fontsize=8, loc="outside lower center",
               ncols=min(len(unique), 7))
    return fig


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf``; returns both paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=120)
    return paths


# --- The course's figures: spectrograms, images, class activation maps, predictions ---

def _extent(frames: int, config, mel: bool) -> tuple[float, float, float, float]:
    """Axis limits: time in s, frequency in kHz (linear bins) or mel band number."""
    seconds = frames * config.hop_length / config.sample_rate
    top = config.nmel if mel else config.nfreq * config.sample_rate / config.n_fft / 1000
    return (0.0, seconds, 0.0, top)


def spectrogram_axes(ax, x: np.ndarray, config, *, mel: bool = False, title: str = "",
                     delta: bool = False):
    """Draw one ``(F, T)`` spectrogram on ``ax`` with time (s) and frequency axes; returns the
    image (for a colour bar). dB channels share the range [-top_db, 0]; deltas are centred."""
    if delta:
        lim = float(np.abs(x).max()) or 1.0
        kw = {"cmap": "coolwarm", "vmin": -lim, "vmax": lim}
    else:
        kw = {"cmap": "magma", "vmin": -config.top_db, "vmax": 0.0}
    im = ax.imshow(x, origin="lower", aspect="auto", interpolation="nearest",
                   extent=_extent(x.shape[-1], config, mel), **kw)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band" if mel else "frequency (kHz)")
    ax.set_title(title)
    return im


def spectrogram_grid(panels: dict[str, dict[str, np.ndarray]], config, title: str) -> Figure:
    """Rows of ``(F, T)`` spectrograms, e.g. emotions x feature types (rows may differ).

    A column whose name contains ``mel`` gets a mel axis, one whose name contains
    ``delta`` or ``Δ`` a centred colour scale.
    """
    rows = list(panels)
    width = max(len(row) for row in panels.values())
    fig = Figure(figsize=(3.3 * width + 1, 2.5 * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), width, squeeze=False)
    for i, r in enumerate(rows):
        for ax in axes[i, len(panels[r]):]:
            ax.set_axis_off()
        for j, c in enumerate(panels[r]):
            delta = "delta" in c.lower() or "Δ" in c
            im = spectrogram_axes(axes[i, j], panels[r][c], config, mel="mel" in c.lower(),
                                  title=f"{r}: {c}", delta=delta)
            if i == len(rows) - 1 or delta:
                fig.colorbar(im, ax=axes[i, j], label="dB" if not delta else "dB per frame",
                             shrink=0.8)
    fig.suptitle(title)
    return fig


def segments_figure(x: np.ndarray, config, starts: Sequence[int], title: str) -> Figure:
    """A ``(F, T)`` spectrogram with the segments cut from it (frame ``starts``) outlined."""
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(11, 3.2), layout="constrained")
    ax = fig.subplots()
    im = spectrogram_axes(ax, x, config, title=title)
    top = _extent(1, config, False)[3]
    step = config.hop_length / config.sample_rate
    colours = sns.color_palette("Set2", len(starts))
    for k, (s, colour) in enumerate(zip(starts, colours, strict=True)):
        ax.add_patch(Rectangle((s * step, 0.03 * top), config.segment_size * step, 0.94 * top,
                               fill=False, lw=2, ls="--" if k % 2 else "-", ec=colour))
        ax.text(s * step + 0.05, 0.9 * top, f"segment {k + 1}", color=colour, fontsize=9)
    ax.set_xlim(0, max(x.shape[-1], max(starts) + config.segment_size) * step)
    fig.colorbar(im, ax=ax, label="dB")
    return fig


def panels_figure(arrays: Sequence[np.ndarray], titles: Sequence[str], title: str, *,
                  cbar_label: str = "", xlabel: str = "time frame",
                  ylabel: str = "frequency bin", cmap: str = "magma",
                  origin: str = "lower") -> Figure:
    """A row of 2-D arrays side by side, each with its own colour bar (image steps, mixup)."""
    fig = Figure(figsize=(3.4 * len(arrays) + 0.5, 3.3), layout="constrained")
    for ax, a, t in zip(np.atleast_1d(fig.subplots(1, len(arrays))), arrays, titles,
                        strict=True):
        im = ax.imshow(a, origin=origin, aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_title(t, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.colorbar(im, ax=ax, label=cbar_label, shrink=0.85)
    fig.suptitle(title)
    return fig


def cam_figure(spectrograms: np.ndarray, maps: np.ndarray, titles: Sequence[str],
               config, map_titles: Sequence[str] | None = None, *,
               label: str = "class score (logit contribution)",
               title: str = "Where the FCN+GAP model finds evidence for a class (each map on "
                            "its own scale)") -> Figure:
    """Spectrograms ``(N, F, T)`` above the same with class activation maps ``(N, h, w)``
    (upsampled, image rows top-down as the model saw them) drawn over them; ``label`` and
    ``title`` name other maps (the attention FCN's weights).

    Each map has its own colour scale and colour bar: maps of different utterances
    differ in range, and on one shared scale the weaker ones would look blank.
    """
    n = len(spectrograms)
    fig = Figure(figsize=(3.9 * n + 0.5, 5.8), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for k in range(n):
        extent = _extent(spectrograms[k].shape[-1], config, False)
        spectrogram_axes(axes[0, k], spectrograms[k], config, title=titles[k])
        spectrogram_axes(axes[1, k], spectrograms[k], config,
                         title=map_titles[k] if map_titles else "class activation map")
        # The image is flipped (low frequencies at the bottom row), so its top row is the
        # highest frequency: drawn with origin "upper" it lines up with the spectrogram.
        im = axes[1, k].imshow(maps[k], origin="upper", aspect="auto", extent=extent,
                               cmap="viridis", alpha=0.55, interpolation="bilinear",
                               vmin=float(np.min(maps[k])), vmax=float(np.max(maps[k])))
        fig.colorbar(im, ax=axes[1, k], label=label, shrink=0.8)
    fig.suptitle(title)
    return fig


def prediction_figure(prediction, classes: Sequence[str], segment_s: float) -> Figure:
    """A prediction's class probabilities per segment over time, and for the utterance."""
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax_t, ax_u = fig.subplots(1, 2, width_ratios=(3, 1))
    starts = np.asarray(prediction.segment_starts_s)
    mids = starts + segment_s / 2
    for k, name in enumerate(classes):
        ax_t.plot(mids, 100 * prediction.segment_probs[:, k], marker="o", label=name)
    for s in starts:
        ax_t.axvspan(s, s + segment_s, color="grey", alpha=0.06)
    ax_t.set_xlabel("segment centre (s)")
    ax_t.set_ylabel("probability (%)")
    ax_t.set_ylim(0, 100)
    ax_t.set_title(f"{Path(prediction.path).name}: each 3-s segment")
    ax_t.legend(ncol=len(classes), fontsize=8)
    ax_u.barh(list(classes), 100 * np.asarray(prediction.probs),
              color=sns.color_palette(n_colors=len(classes)))
    ax_u.set_xlabel("probability (%)")
    ax_u.set_ylabel("emotion")
    ax_u.set_xlim(0, 100)
    ax_u.set_title(f"utterance: {prediction.emotion}")
    return fig


def snr_figure(results, title: str) -> Figure:
    """WA and UA against SNR per model (``accuracy_vs_snr``'s table); clean as dashed lines."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("WA", "UA"), strict=True):
        for (model, group), colour in zip(results.groupby("model", sort=False),
                                          sns.color_palette(), strict=False):
            noisy = group.dropna(subset=["snr_db"]).sort_values("snr_db")
            ax.plot(noisy["snr_db"], noisy[metric], marker="o", color=colour, label=model)
            clean = group[group["snr_db"].isna()]
            if len(clean):
                ax.axhline(float(clean[metric].iloc[0]), color=colour, ls="--", lw=1,
                           label=f"{model}, clean")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(f"{metric} (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig
