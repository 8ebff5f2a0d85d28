"""Scaling spectrogram segments to [0, 255]: the training speakers' scaler, or each speaker's
own. Numpy only, so that prediction with an exported ONNX model needs no torch.

As the thesis: per-frequency-bin min-max scaling fitted on the training speakers only
(then applied to validation and test), clipped to [0, 1], quantised to uint8.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_CHUNK = 512  # segments processed at once, so that memory stays bounded on large stores


@dataclass(frozen=True)
class Scaler:
    """Per-channel, per-frequency-bin minimum and maximum, each ``(C, F)`` float32."""

    low: np.ndarray
    high: np.ndarray

    def transform(self, segments: np.ndarray) -> np.ndarray:
        """``(N, C, F, T)`` -> the same scaled to [0, 1] (clipped) and quantised to uint8."""
        out = np.empty(segments.shape, dtype=np.uint8)
        span = np.maximum(self.high - self.low, 1e-6)[None, :, :, None]
        for i in range(0, len(segments), _CHUNK):
            x = (np.asarray(segments[i:i + _CHUNK], np.float32) - self.low[None, :, :, None]) \
                / span
            out[i:i + _CHUNK] = np.rint(np.clip(x, 0.0, 1.0) * 255)
        return out

    def to_dict(self) -> dict:
        """For a checkpoint: plain tensors, loadable with ``weights_only=True``."""
        import torch

        return {"low": torch.from_numpy(self.low), "high": torch.from_numpy(self.high)}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        """The inverse of :meth:`to_dict` (tensors or arrays)."""
        return cls(*(np.asarray(v.numpy() if hasattr(v, "numpy") else v, np.float32)
                     for v in (d["low"], d["high"])))


def fit_scaler(segment_arrays: Iterable[np.ndarray]) -> Scaler:
    """Min and max per channel and frequency bin over ``(N, C, F, T)`` arrays (the
    training speakers' segments), read in chunks."""
    low = high = None
    for segments in segment_arrays:
        for i in range(0, len(segments), _CHUNK):
            x = np.asarray(segments[i:i + _CHUNK], np.float32)
            lo, hi = x.min(axis=(0, 3)), x.max(axis=(0, 3))
            low = lo if low is None else np.minimum(low, lo)
            high = hi if high is None else np.maximum(high, hi)
    if low is None:
        raise ValueError("no training segments to fit the scaler on")
    return Scaler(low, high)


#: Speaker normalisation maps this percentile of each bin, over all of a speaker's frames
#: (mostly the pauses: the recording's background), to 0 ...
BACKGROUND_PERCENTILE = 20.0
#: ... and this one (the speaker's loudest moments) to 255.
PEAK_PERCENTILE = 99.5


def fit_speaker_scaler(segments: np.ndarray) -> Scaler:
    """A scaler fitted on one speaker's own segments ``(N, C, F, T)``, labels unused: per
    channel and bin, the background (the 20th percentile of the speaker's frames) to 0 and
    the speaker's peaks (99.5th) to 255.

    Speaker normalisation, a standard step of speaker-independent SER: each speaker
    is measured against their own recording, so a session's microphone, room and
    background noise stop setting the level of the image. For a test speaker it uses
    their recordings, never their labels.
    """
    x = np.asarray(segments, dtype=np.float32)
    n, c, f, t = x.shape
    frames = x.transpose(1, 2, 0, 3).reshape(c, f, n * t)
    low, high = np.percentile(frames, [BACKGROUND_PERCENTILE, PEAK_PERCENTILE], axis=2)
    return Scaler(low.astype(np.float32), np.maximum(high, low + 1e-3).astype(np.float32))


def scaler_for(rule: str, trained: Scaler, segments: np.ndarray) -> Scaler:
    """How a model trained with ``TrainConfig.scaler == rule`` scales segments
    ``(N, C, F, T)`` at prediction: ``training``, with the scaler fitted on its training
    speakers (``trained``); ``speaker``, by statistics of the segments themselves
    (:func:`fit_speaker_scaler`: give all of one speaker's segments for the best estimate).
    The one rule of the torch and the ONNX predictors."""
    return fit_speaker_scaler(segments) if rule == "speaker" else trained
