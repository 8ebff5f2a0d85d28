"""The feature types: each one's computation from a waveform, registered by name.

numpy at import, librosa on first use, so that the configuration (and the command line)
can name and check feature types without loading librosa. Adding a feature type is one
function and one entry of :data:`FEATURE_TYPES` here; :mod:`serlib.features` cuts any of
them into segments, and the tests run over the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .config import FeatureConfig

#: A perturbation of a waveform ``(S,)``: ``perturb(y, "noise")`` (white noise at the
#: feature's SNR) or ``perturb(y, "room")`` (a reverberant copy), drawn by the caller's rng.
Perturb = Callable[[np.ndarray, str], np.ndarray]


def power_spectrogram(y: np.ndarray, config: FeatureConfig,
                      bins: int | None = None) -> np.ndarray:
    """Pre-emphasis, then ``|STFT|^2`` with a Hamming window: ``(bins or n_fft // 2 + 1, T)``."""
    import librosa

    y = librosa.effects.preemphasis(y, coef=config.preemphasis) if config.preemphasis else y
    spec = librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length,
                        win_length=config.win_length, window="hamming")[:bins]
    return spec.real ** 2 + spec.imag ** 2  # |z|^2 without the square root of abs()


def log_spectrogram(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """dB of the lowest ``nfreq`` bins relative to their maximum: ``(nfreq, T)``."""
    import librosa

    return librosa.power_to_db(power[: config.nfreq], ref=np.max, top_db=config.top_db)


def log_mel_spectrogram(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """dB of the mel spectrogram relative to its maximum: ``(nmel, T)``."""
    import librosa

    mel = librosa.feature.melspectrogram(S=power, sr=config.sample_rate, n_fft=config.n_fft,
                                         n_mels=config.nmel)
    return librosa.power_to_db(mel, ref=np.max, top_db=config.top_db)


def with_deltas(x: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``x`` with its delta and delta-delta: ``(F, T)`` -> ``(3, F, T)``."""
    import librosa

    width = config.delta_width
    if x.shape[-1] < width:  # librosa needs width frames; so short a file has no dynamics
        return np.stack([x, np.zeros_like(x), np.zeros_like(x)])
    return np.stack([x, librosa.feature.delta(x, width=width, order=1, mode="nearest"),
                     librosa.feature.delta(x, width=width, order=2, mode="nearest")])


def _linear(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    return log_spectrogram(power_spectrogram(y, config, config.nfreq), config)


def _mel(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    return log_mel_spectrogram(power_spectrogram(y, config), config)


def logspec(y: np.ndarray, config: FeatureConfig, perturb: Perturb | None) -> np.ndarray:
    """The log spectrogram ``(1, nfreq, T)``: the thesis's default."""
    return _linear(y, config)[None]


def logmelspec(y: np.ndarray, config: FeatureConfig, perturb: Perturb | None) -> np.ndarray:
    """The log mel spectrogram ``(1, nmel, T)``."""
    return _mel(y, config)[None]


def logmeldeltaspec(y: np.ndarray, config: FeatureConfig,
                    perturb: Perturb | None) -> np.ndarray:
    """The log mel spectrogram with its delta and delta-delta ``(3, nmel, T)``."""
    return with_deltas(_mel(y, config), config)


def logdeltaspec(y: np.ndarray, config: FeatureConfig, perturb: Perturb | None) -> np.ndarray:
    """The log spectrogram with its delta and delta-delta ``(3, nfreq, T)``."""
    return with_deltas(_linear(y, config), config)


def lognrevspec(y: np.ndarray, config: FeatureConfig, perturb: Perturb) -> np.ndarray:
    """The log spectrograms of the signal, of the signal with white noise
    (``nrev_snr_db``) and of a reverberant copy ``(3, nfreq, T)``."""
    return np.stack([_linear(v, config) for v in (y, perturb(y, "noise"), perturb(y, "room"))])


@dataclass(frozen=True)
class FeatureType:
    """A feature type: ``compute(y, config, perturb)`` gives ``(C, F, T)`` for a waveform
    ``(S,)``; ``channels`` is C; ``mel``: F is ``nmel`` bands (else ``nfreq`` linear bins);
    ``deltas``: channels 2 and 3 are derivatives (padded with 0, not the dB floor);
    ``perturbed``: it calls ``perturb`` (:data:`Perturb`), which
    :func:`serlib.features.compute_features` draws from a seeded rng."""

    compute: Callable[[np.ndarray, Any, Any], np.ndarray]
    channels: int = 1
    mel: bool = False
    deltas: bool = False
    perturbed: bool = False


#: The feature registry: the thesis's five types by name.
FEATURE_TYPES: dict[str, FeatureType] = {
    "logspec": FeatureType(logspec),
    "logmelspec": FeatureType(logmelspec, mel=True),
    "logmeldeltaspec": FeatureType(logmeldeltaspec, 3, mel=True, deltas=True),
    "lognrevspec": FeatureType(lognrevspec, 3, perturbed=True),
    "logdeltaspec": FeatureType(logdeltaspec, 3, deltas=True),
}
