"""The course's figures drawn from small made-up arrays: colour scales, layouts, markers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from serlib import plots
from serlib.features import FeatureConfig

CONFIG = FeatureConfig(segment_size=100)
CLASSES = ["anger", "sadness", "happiness", "neutral"]


def _spectrograms(n: int) -> np.ndarray:
    """``n`` made-up spectrograms ``(n, F, T)`` in dB."""
    rng = np.random.default_rng(0)
    return rng.uniform(-80, 0, (n, CONFIG.nfreq, 100)).astype(np.float32)


def _map_images(fig: Figure) -> list:
    """The maps drawn over the spectrograms of the lower row (the last image of each axes
    with a map title), in panel order."""
    return [ax.images[-1] for ax in fig.axes if len(ax.images) == 2]


def _colour_bars(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_class_activation_maps_are_centred_at_zero():
    """A map below 0 nearly everywhere is drawn on a scale symmetric about 0 (blue), not
    stretched so that its least negative cell looks like strong evidence."""
    maps = np.stack([np.linspace(-0.85, -0.2, 15).reshape(3, 5),
                     np.linspace(-0.1, 7.0, 15).reshape(3, 5)])
    fig = plots.cam_figure(_spectrograms(2), maps, ["true happiness", "true sadness"], CONFIG)
    images = _map_images(fig)
    assert [im.get_clim() for im in images] == [pytest.approx((-0.85, 0.85)),
                                                pytest.approx((-7.0, 7.0))]
    assert all(im.get_cmap().name == "RdBu_r" for im in images)
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == \
        ["evidence for the class (logit units)"] * 2
    titles = [ax.get_title() for ax in fig.axes if len(ax.images) == 2]
    assert titles[0].endswith("values -0.85 to -0.2")
    limited = plots.cam_figure(_spectrograms(2), maps, ["a", "b"], CONFIG, limit=10)
    assert all(im.get_clim() == (-10, 10) for im in _map_images(limited))
    # A class activation map that happens to be positive everywhere is still drawn diverging.
    positive = plots.cam_figure(_spectrograms(1), maps[1:] + 1, ["a"], CONFIG, signed=True)
    assert _map_images(positive)[0].get_clim() == pytest.approx((-8.0, 8.0))
    assert "against (blue)" in positive.get_suptitle()


def test_near_uniform_attention_looks_uniform():
    """Weights of 0.498 and 0.502 on a scale from 0: their colours are all but the same."""
    weights = np.array([[[0.498, 0.502]], [[0.2, 0.8]]])
    fig = plots.cam_figure(_spectrograms(2), weights, ["a", "b"], CONFIG,
                           map_titles=["attention weights"] * 2,
                           label="attention weight (the map sums to 1)",
                           title="Where the attention FCN looks")
    flat, sharp = _map_images(fig)
    assert flat.get_clim() == pytest.approx((0.0, 0.502))
    assert sharp.get_clim() == pytest.approx((0.0, 0.8))
    low, high = flat.norm(np.array([0.498, 0.502]))
    assert high - low < 0.01
    assert fig.get_suptitle() == "Where the attention FCN looks"


def test_panels_wrap_into_a_grid_with_one_shared_scale():
    arrays = [np.full((20, 30), v) for v in np.linspace(0, 1, 6)]
    fig = plots.panels_figure(arrays, [f"λ = {v}" for v in range(6)], "mixup",
                              cbar_label="scaled level", ncols=3, limits=(0, 1))
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert len({ax.get_subplotspec().rowspan.start for ax in shown}) == 2
    assert all(ax.images[0].get_clim() == (0, 1) for ax in shown)
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == ["scaled level"]
    steps = plots.panels_figure(arrays[:2], ["a", "b"], "steps", cbar_label=["dB", "level"])
    assert [cb.get_ylabel() for cb in _colour_bars(steps)] == ["dB", "level"]
    with pytest.raises(ValueError, match="colour bar labels"):
        plots.panels_figure(arrays[:2], ["a", "b"], "steps", cbar_label=["dB"])


def test_a_long_row_of_spectrograms_wraps():
    panels = {"anger": {f"version {k}": _spectrograms(1)[0] for k in range(6)}}
    fig = plots.spectrogram_grid(panels, CONFIG, "perturbations", ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert len({ax.get_subplotspec().rowspan.start for ax in shown}) == 2
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == ["dB"]
    one_row = plots.spectrogram_grid(panels, CONFIG, "perturbations")
    assert len({ax.get_subplotspec().rowspan.start for ax in one_row.axes if ax.images}) == 1


def test_segment_probabilities_are_unjoined_markers_and_the_change_is_marked():
    prediction = SimpleNamespace(path="my_recording.wav", emotion="neutral",
                                 probs=np.array([0.2, 0.1, 0.1, 0.6]),
                                 segment_probs=np.array([[0.7, 0.1, 0.1, 0.1],
                                                         [0.1, 0.6, 0.1, 0.2],
                                                         [0.1, 0.5, 0.2, 0.2]]),
                                 segment_starts_s=np.array([0.0, 3.0, 3.3]))
    fig = plots.prediction_figure(prediction, CLASSES, 3.0,
                                  boundaries=[(3.05, "anger → sadness")])
    ax = fig.axes[0]
    markers = [line for line in ax.lines if line.get_label() in CLASSES]
    assert len(markers) == 4 and all(line.get_linestyle() == "None" for line in markers)
    assert np.allclose(markers[1].get_ydata(), [10, 60, 50])
    lines = [line for line in ax.lines if list(line.get_xdata()) == [3.05, 3.05]]
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    assert any("anger → sadness" in text.get_text() for text in ax.texts)
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("segment")] == \
        ["segment 1", "segment 2", "segment 3"]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
