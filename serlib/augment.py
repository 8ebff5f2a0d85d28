"""Noise and reverberation: the ``lognrevspec`` channels and the ``--mixnoise`` copies.

Noise is built in (white, pink and brown from audiomentations' coloured
noise, babble made from the synthetic speech) or read from any folder of noise
recordings (DEMAND, MUSAN) with audiomentations' ``AddBackgroundNoise``.
Reverberation convolves the speech with the impulse response of a room,
either simulated by pyroomacoustics (a small bank of rooms per seed) or read
from a folder of measured impulse responses.

audiomentations draws from Python's and NumPy's global generators, so each
call reseeds them from the caller's generator: the same seed gives the same
perturbation.
"""

from __future__ import annotations

import functools
import random
import warnings

import numpy as np
from scipy.signal import fftconvolve

from .config import BUILTIN_NOISES, COLOURS, NoiseConfig, _audio_files


def _reseed(rng: np.random.Generator) -> None:
    seed = int(rng.integers(2**32))
    random.seed(seed)
    np.random.seed(seed)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + noise`` with the noise scaled to ``snr_db`` (RMS ratio); shapes ``(S,)``."""
    p_speech = np.mean(speech.astype(np.float64) ** 2)
    p_noise = np.mean(noise.astype(np.float64) ** 2) or 1.0
    return (speech + noise * np.sqrt(p_speech / p_noise / 10 ** (snr_db / 10))).astype(np.float32)


def babble(num_samples: int, rng: np.random.Generator, sample_rate: int = 16_000,
           talkers: int = 5) -> np.ndarray:
    """Several synthetic talkers at once, ``(num_samples,)`` float32 with unit RMS."""
    from .corpora.voice import EMOTIONS, make_voice, render

    mix = np.zeros(num_samples, dtype=np.float64)
    for _ in range(talkers):
        voice = make_voice("b", str(rng.choice(["F", "M"])), rng)
        x = render(voice, str(rng.choice(list(EMOTIONS))), rng,
                   duration_s=num_samples / sample_rate + 0.01, sr=sample_rate)[:num_samples]
        mix[: len(x)] += x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)
    return (mix / (np.sqrt(np.mean(mix ** 2)) + 1e-12)).astype(np.float32)


def add_noise(y: np.ndarray, sample_rate: int, kind: str, snr_db: float,
              rng: np.random.Generator) -> np.ndarray:
    """Add noise of ``kind`` (a built-in name or a folder) at ``snr_db``; ``(S,)`` in and out."""
    from audiomentations import AddColorNoise

    _reseed(rng)
    if kind in COLOURS:
        beta = COLOURS[kind]
        add = AddColorNoise(min_snr_db=snr_db, max_snr_db=snr_db, min_f_decay=beta,
                            max_f_decay=beta, p=1.0)
        return add(samples=y, sample_rate=sample_rate)
    if kind == "babble":
        return mix_at_snr(y, babble(len(y), rng, sample_rate), snr_db)
    add = _background_noise(kind, snr_db)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about silent noise files and returns y
        return add(samples=y, sample_rate=sample_rate)


@functools.lru_cache(maxsize=16)
def _background_noise(folder: str, snr_db: float):
    from audiomentations import AddBackgroundNoise

    return AddBackgroundNoise(sounds_path=folder, min_snr_db=snr_db, max_snr_db=snr_db, p=1.0)


@functools.lru_cache(maxsize=4)
def room_impulse_responses(num_rooms: int, sample_rate: int, seed: int) -> tuple[np.ndarray, ...]:
    """Impulse responses of ``num_rooms`` shoebox rooms (RT60 0.2-0.8 s) simulated by
    pyroomacoustics; each ``(L,)`` float32, peak 1."""
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, 7])
    irs = []
    for _ in range(num_rooms):
        dim = rng.uniform([3.0, 3.0, 2.4], [9.0, 7.0, 3.5])
        rt60 = float(rng.uniform(0.2, 0.8))
        absorption, max_order = pra.inverse_sabine(rt60, dim)
        room = pra.ShoeBox(dim, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=min(max_order, 40))
        room.add_source(rng.uniform([0.5, 0.5, 1.2], dim - [0.5, 0.5, 1.0]))
        room.add_microphone(rng.uniform([0.5, 0.5, 0.8], dim - [0.5, 0.5, 1.0]))
        room.compute_rir()
        ir = np.asarray(room.rir[0][0], dtype=np.float32)
        irs.append(ir / np.abs(ir).max())
    return tuple(irs)


@functools.lru_cache(maxsize=4)
def _folder_impulse_responses(folder: str, sample_rate: int) -> tuple[np.ndarray, ...]:
    from .audio import load_audio

    return tuple(load_audio(p, sample_rate) for p in _audio_files(folder))


def add_reverb(y: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Convolve with an impulse response, keeping the length and the RMS; ``(S,)``."""
    wet = fftconvolve(y, ir)[: len(y)]
    scale = np.sqrt(np.mean(y.astype(np.float64) ** 2) / (np.mean(wet ** 2) + 1e-20))
    return (wet * scale).astype(np.float32)


class Perturber:
    """Makes the noisy and reverberant versions of an utterance for one noise config."""

    def __init__(self, config: NoiseConfig, sample_rate: int, seed: int) -> None:
        config.check()
        self.config, self.sample_rate, self.seed = config, sample_rate, seed

    def impulse_responses(self) -> tuple[np.ndarray, ...]:
        if self.config.reverb == "room":
            return room_impulse_responses(self.config.num_rooms, self.sample_rate, self.seed)
        return _folder_impulse_responses(self.config.reverb, self.sample_rate)

    def noisy(self, y: np.ndarray, rng: np.random.Generator, kind: str | None = None,
              snr_db: float | None = None) -> np.ndarray:
        """``y`` plus noise: ``kind`` and ``snr_db`` default to draws from the config."""
        if kind is None:
            kind = self.config.noise
            if kind == "builtin":
                kind = str(rng.choice(BUILTIN_NOISES))
        if snr_db is None:
            snr_db = float(rng.uniform(*self.config.snr_db))
        return add_noise(y, self.sample_rate, kind, snr_db, rng)

    def reverberant(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``y`` in a room drawn from the bank (or the folder)."""
        irs = self.impulse_responses()
        return add_reverb(y, irs[int(rng.integers(len(irs)))])

    def perturb(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One ``--mixnoise`` copy: noise at a drawn SNR, and a room with ``reverb_p``."""
        out = self.noisy(y, rng)
        if self.config.reverb != "none" and rng.random() < self.config.reverb_p:
            out = self.reverberant(out, rng)
        return out
