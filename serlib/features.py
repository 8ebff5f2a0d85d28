"""Spectrogram features: a waveform in, segments ``(N, C, F, T)`` out.

The five feature types of the thesis (``logspec``, ``logmelspec``,
``logmeldeltaspec``, ``lognrevspec``, ``logdeltaspec``) are computed with
librosa from one pre-emphasised STFT: Hamming window of 40 ms, hop 10 ms,
n_fft 800 at 16 kHz; the lowest 200 bins (0-4 kHz) for the linear
spectrograms, 128 mel bands; decibels relative to the utterance's maximum with
an 80 dB range; deltas of width 5 with edge mode ``nearest``.

Each utterance's ``(C, F, T)`` spectrogram is cut into segments of
``segment_size`` frames. The last segment ends at the end of the utterance
(overlapping the one before), and an utterance shorter than one segment is
padded. The thesis padded with 0, which on a scale whose maximum is 0 dB is the
*loudest* possible value; serlib pads with the floor (-80 dB, and 0 for delta
channels, the delta of a constant) unless ``pad="zero"`` asks for the thesis's
behaviour.
"""

from __future__ import annotations

import numpy as np

from .augment import Perturber
from .config import FeatureConfig, NoiseConfig
from .spectrograms import (  # each feature type's computation, and its parts
    FEATURE_TYPES,
    log_mel_spectrogram,
    log_spectrogram,
    power_spectrogram,
    with_deltas,
)

__all__ = ["FEATURE_TYPES", "FeatureConfig", "NoiseConfig", "compute_features", "load_features",
           "log_mel_spectrogram", "log_spectrogram", "num_segments", "power_spectrogram",
           "segment", "segment_starts", "with_deltas"]


def compute_features(y: np.ndarray, config: FeatureConfig,
                     rng: np.random.Generator | None = None,
                     perturber: Perturber | None = None) -> np.ndarray:
    """The feature of a waveform ``(S,)`` at ``config.sample_rate``: ``(C, F, T)`` float32.

    A ``perturbed`` type (``lognrevspec``) draws its noise and room from ``rng`` with
    ``perturber``.
    """
    kind = FEATURE_TYPES[config.features]
    perturb = None
    if kind.perturbed:
        rng = rng if rng is not None else np.random.default_rng(config.seed)
        perturber = perturber or Perturber(config.noise, config.sample_rate, config.seed)

        def perturb(x: np.ndarray, how: str) -> np.ndarray:
            return perturber.noisy(x, rng, "white", config.nrev_snr_db) if how == "noise" \
                else perturber.reverberant(x, rng)
    return kind.compute(y, config, perturb).astype(np.float32)


def num_segments(frames: int, segment_size: int) -> int:
    """``ceil(frames / segment_size)``, and at least one."""
    return max(1, -(-frames // segment_size))


def segment(x: np.ndarray, segment_size: int, pad_values: np.ndarray) -> np.ndarray:
    """Cut ``(C, F, T)`` into ``(N, C, F, segment_size)``.

    Segments start every ``segment_size`` frames and the last one ends at the
    last frame, overlapping the one before; a spectrogram shorter than one
    segment is padded at the end with ``pad_values`` ``(C,)``.
    """
    c, f, t = x.shape
    if t <= segment_size:
        out = np.empty((1, c, f, segment_size), dtype=x.dtype)
        out[:] = np.asarray(pad_values, dtype=x.dtype)[None, :, None, None]
        out[0, :, :, :t] = x
        return out
    return np.stack([x[:, :, s:s + segment_size] for s in segment_starts(t, segment_size)])


def segment_starts(frames: int, segment_size: int) -> list[int]:
    """The first frame of each segment :func:`segment` cuts from ``frames`` frames."""
    n = num_segments(frames, segment_size)
    return [i * segment_size for i in range(n - 1)] + [max(0, frames - segment_size)]


def load_features(path, *, mmap: bool = True):
    """Load a feature store: the thesis's ``{speaker: (segments (N, C, F, T), utt_labels (U,),
    seg_labels (N,), num_segs (U,))}`` as a :class:`serlib.store.FeatureStore`.

    Arrays are memory-mapped (``mmap=False`` reads them into memory) and never
    unpickled; ``store.noisy[speaker]`` holds the ``--mixnoise`` copies
    ``(K, N, C, F, T)``, ``store.config`` every extraction parameter.
    """
    from .store import load_store

    return load_store(path, mmap=mmap)
