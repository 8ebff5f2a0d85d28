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
                     delta: bool = False, cmap: str = "magma"):
    """Draw one ``(F, T)`` spectrogram on ``ax`` with time (s) and frequency axes; returns the
    image (for a colour bar). dB channels share the range [-top_db, 0] (in ``cmap``; grey
    under a coloured overlay); deltas are centred."""
    if delta:
        lim = float(np.abs(x).max()) or 1.0
        kw = {"cmap": "coolwarm", "vmin": -lim, "vmax": lim}
    else:
        kw = {"cmap": cmap, "vmin": -config.top_db, "vmax": 0.0}
    im = ax.imshow(x, origin="lower", aspect="auto", interpolation="nearest",
                   extent=_extent(x.shape[-1], config, mel), **kw)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band" if mel else "frequency (kHz)")
    ax.set_title(title)
    return im


def spectrogram_grid(panels: dict[str, dict[str, np.ndarray]], config, title: str, *,
                     ncols: int | None = None) -> Figure:
    """Rows of ``(F, T)`` spectrograms, e.g. emotions x feature types (rows may differ).

    A column whose name contains ``mel`` gets a mel axis, one whose name contains
    ``delta`` or ``Δ`` a centred colour scale. ``ncols``: at most that many panels side by
    side, a longer row wrapping onto the next lines, with one dB colour bar for the whole
    figure (six panels in one row are too small to read); by default each row is one line.
    """
    width = ncols or max(len(row) for row in panels.values())
    # (row name, its panels' names) per line of the grid: a row longer than ``width`` wraps.
    lines = [(r, names[i:i + width]) for r, names in ((r, list(c)) for r, c in panels.items())
             for i in range(0, len(names), width)]
    fig = Figure(figsize=(3.3 * width + 1, 2.5 * len(lines) + 0.6), layout="constrained")
    axes = fig.subplots(len(lines), width, squeeze=False)
    db_image = None
    for i, (r, names) in enumerate(lines):
        for ax in axes[i, len(names):]:
            ax.set_axis_off()
        for j, c in enumerate(names):
            delta = "delta" in c.lower() or "Δ" in c
            im = spectrogram_axes(axes[i, j], panels[r][c], config, mel="mel" in c.lower(),
                                  title=f"{r}: {c}", delta=delta)
            db_image = db_image if delta else im
            if delta or (ncols is None and i == len(lines) - 1):
                fig.colorbar(im, ax=axes[i, j], label="dB" if not delta else "dB per frame",
                             shrink=0.8)
    if ncols is not None and db_image is not None:
        # Every dB panel has the same range [-top_db, 0]: one bar, beside the whole grid.
        fig.colorbar(db_image, ax=axes, label="dB", shrink=0.6)
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
                  cbar_label: str | Sequence[str] = "", xlabel: str = "time frame",
                  ylabel: str = "frequency bin", cmap: str = "magma",
                  origin: str = "lower", ncols: int | None = None,
                  limits: tuple[float, float] | None = None) -> Figure:
    """2-D arrays ``(H, W)`` side by side (image steps, mixup), ``ncols`` to a line (by
    default all in one line).

    ``cbar_label``: one label for every colour bar, or one per array. Each array has its
    own colour scale and bar; ``limits`` ``(vmin, vmax)`` puts them all on that one scale,
    with one colour bar, so that levels compare across panels.
    """
    n = len(arrays)
    ncols = min(ncols or n, n)
    nrows = -(-n // ncols)
    labels = [cbar_label] * n if isinstance(cbar_label, str) else list(cbar_label)
    if len(labels) != n:
        raise ValueError(f"{n} arrays but {len(labels)} colour bar labels")
    fig = Figure(figsize=(3.4 * ncols + 0.5 + (0.6 if limits else 0), 3.0 * nrows + 0.4),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    vmin, vmax = limits if limits else (None, None)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    for ax, a, t, label in zip(axes.flat, arrays, titles, labels, strict=False):
        im = ax.imshow(a, origin=origin, aspect="auto", cmap=cmap, interpolation="nearest",
                       vmin=vmin, vmax=vmax)
        ax.set_title(t, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if not limits:
            fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    if limits:
        fig.colorbar(im, ax=axes, label=labels[0], shrink=0.7)
    fig.suptitle(title)
    return fig


def _map_limits(m: np.ndarray, signed: bool, limit: float | None = None
               ) -> tuple[float, float]:
    """Colour limits of a map ``(h, w)``, anchored at 0 so that its contrast is not
    stretched: ``(-top, top)`` for a signed map, ``(0, top)`` for a non-negative one, where
    ``top`` is ``limit`` or the map's largest absolute value."""
    top = float(limit) if limit is not None else float(np.max(np.abs(m))) or 1.0
    return (-top if signed else 0.0, top)


def cam_figure(spectrograms: np.ndarray, maps: np.ndarray, titles: Sequence[str],
               config, map_titles: Sequence[str] | None = None, *,
               label: str | None = None, title: str | None = None,
               limit: float | None = None, signed: bool | None = None) -> Figure:
    """Spectrograms ``(N, F, T)`` above the same, in grey, with maps ``(N, h, w)`` drawn over
    them (upsampled, image rows top-down as the model saw them): class activation maps, or,
    with ``label`` and ``title`` that say so, other maps (the attention FCN's weights).

    The colour scale starts at 0, never at a map's minimum, so that a map's colours say
    how far it is from 0: ``signed`` maps (class activation maps: evidence for the class
    above 0, against it below) get a diverging colour map, red above 0 and blue below,
    on ``±max|map|``; others (attention weights) a sequential one on ``[0, max]``, so that
    a near-uniform map looks uniform. By default (None) maps are signed when any value is
    below 0. Each map has its own scale (maps of different utterances differ in range, and
    on one shared scale the weaker ones would look blank) and prints its range in its
    title; ``limit`` puts every map on ``±limit`` or ``[0, limit]`` instead (e.g. 1 for
    attention weights).
    """
    maps = np.asarray(maps, dtype=float)
    signed = bool((maps < 0).any()) if signed is None else signed
    label = label or ("evidence for the class (logit units)" if signed else "map value")
    title = title or ("Where the FCN+GAP model finds evidence for (red) and against (blue) "
                      "a class (each map on its own scale)" if signed else
                      "Where the FCN+GAP model finds evidence for a class (each map on its own "
                      "scale, from 0)")
    n = len(spectrograms)
    fig = Figure(figsize=(3.9 * n + 0.5, 6.2), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for k in range(n):
        extent = _extent(spectrograms[k].shape[-1], config, False)
        spectrogram_axes(axes[0, k], spectrograms[k], config, title=titles[k])
        name = map_titles[k] if map_titles else "class activation map"
        spectrogram_axes(axes[1, k], spectrograms[k], config, cmap="gray",
                         title=f"{name}\nvalues {maps[k].min():.3g} to {maps[k].max():.3g}")
        vmin, vmax = _map_limits(maps[k], signed, limit)
        # The image is flipped (low frequencies at the bottom row), so its top row is the
        # highest frequency: drawn with origin "upper" it lines up with the spectrogram.
        im = axes[1, k].imshow(maps[k], origin="upper", aspect="auto", extent=extent,
                               cmap="RdBu_r" if signed else "viridis", alpha=0.6,
                               interpolation="bilinear", vmin=vmin, vmax=vmax)
        fig.colorbar(im, ax=axes[1, k], label=label, shrink=0.8)
    fig.suptitle(title)
    return fig


#: Marker per class in :func:`prediction_figure`: told apart without colour too.
_MARKERS = "osD^vP*Xph"


def prediction_figure(prediction, classes: Sequence[str], segment_s: float, *,
                      boundaries: Sequence[tuple[float, str]] = ()) -> Figure:
    """A prediction's class probabilities per segment, at each segment's place in the file,
    and for the utterance.

    Each segment's probabilities are markers at its centre, not joined: segments are
    separate answers, and the last one overlaps the one before it. Each segment's span is
    a numbered bar above them. ``boundaries``: ``(time in s, label)`` pairs, each drawn as
    a dashed vertical line (e.g. where the recording changes from one emotion to another).
    """
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    ax_t, ax_u = fig.subplots(1, 2, width_ratios=(3, 1))
    starts = np.asarray(prediction.segment_starts_s, dtype=float)
    probs = 100 * np.asarray(prediction.segment_probs)  # (N, K)
    colours = sns.color_palette(n_colors=len(classes))
    # Classes side by side around the centre, so that equal values do not hide each other.
    dodge = segment_s * 0.025 * (np.arange(len(classes)) - (len(classes) - 1) / 2)
    for k, name in enumerate(classes):
        ax_t.plot(starts + segment_s / 2 + dodge[k], probs[:, k], ls="none",
                  marker=_MARKERS[k % len(_MARKERS)], markersize=7, color=colours[k],
                  label=name)
    # Segments' spans above the probabilities, on two alternating lines: neighbours touch.
    for i, s in enumerate(starts):
        y = 104 + 11 * (i % 2)
        ax_t.plot([s + 0.05, s + segment_s - 0.05], [y, y], color="grey", lw=4,
                  solid_capstyle="butt")
        ax_t.text(s + segment_s / 2, y + 1, f"segment {i + 1}", ha="center", va="bottom",
                  fontsize=8, color="dimgrey")
    for t, text in boundaries:
        ax_t.axvline(t, color="k", ls="--", lw=1.5)
        ax_t.text(t, 50, f" {text} ", rotation=90, ha="center", va="center", fontsize=9,
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    end = float(starts.max() + segment_s) if len(starts) else segment_s
    ax_t.set_xlim(0, end)
    ax_t.set_ylim(0, 127)
    ax_t.set_yticks(np.arange(0, 101, 20))
    ax_t.grid(alpha=0.3, axis="y")
    ax_t.set_xlabel("time in the file (s); markers at each segment's centre")
    ax_t.set_ylabel("probability (%)")
    ax_t.set_title(f"{Path(prediction.path).name}: each {segment_s:g}-s segment")
    ax_t.legend(ncol=len(classes), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    ax_u.barh(list(classes), 100 * np.asarray(prediction.probs), color=colours)
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
