"""Reading audio files safely: probe the header, report what is wrong."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import BadAudioError


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header without loading its samples.

    Raises :class:`BadAudioError` naming the file and the reason when the file
    is a directory, empty, unreadable, not audio, or holds no samples.
    """
    path = Path(path)
    if path.is_dir():
        raise BadAudioError(path, "is a directory, not an audio file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise BadAudioError(path, f"cannot be opened ({e.strerror})") from None
    if size == 0:
        raise BadAudioError(path, "empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:
        raise BadAudioError(path, f"not a readable audio file ({_first_line(e)})") from None
    except OSError as e:
        raise BadAudioError(path, f"cannot be read ({e})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise BadAudioError(path, "contains no audio samples")
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), info.subtype)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # libsndfile repeats the path in its message; the caller already names the file.
    return text.splitlines()[-1].split(": ", 1)[-1] if text else type(error).__name__


def load_audio(path: str | os.PathLike, sample_rate: int = 16_000,
               min_samples: int = 1) -> np.ndarray:
    """Load a file as mono float32 samples ``(S,)`` at ``sample_rate``.

    Stereo is mixed down and other rates are resampled with librosa. Raises
    :class:`BadAudioError` naming the file when it cannot be read, holds NaN or
    infinite samples, is silent, or is shorter than ``min_samples`` after
    resampling (one analysis frame, for feature extraction).
    """
    import librosa

    path = Path(path)
    probe_audio(path)
    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise BadAudioError(path, f"not a readable audio file ({_first_line(e)})") from None
    y = y.mean(axis=1)
    if not np.isfinite(y).all():
        raise BadAudioError(path, "contains NaN or infinite samples")
    if not np.any(y):
        raise BadAudioError(path, "is silent (every sample is zero)")
    if sr != sample_rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=sample_rate).astype(np.float32)
    if len(y) < min_samples:
        raise BadAudioError(path, f"too short: {1000 * len(y) / sample_rate:.0f} ms, less than "
                                  f"one {1000 * min_samples / sample_rate:.0f} ms frame")
    return y


def split_at_pauses(y: np.ndarray, sample_rate: int, *, top_db: float = 40.0,
                    min_pause_s: float = 0.3, min_part_s: float = 0.5) -> np.ndarray:
    """Where a recording ``(S,)`` should be cut into utterances: ``(M, 2)`` sample ranges
    ``[start, end)`` of the stretches louder than ``top_db`` below its peak (librosa's
    ``effects.split``), joined across pauses shorter than ``min_pause_s``, without parts
    shorter than ``min_part_s``.

    Features are in dB relative to the loudest moment of what is given, so a quiet
    utterance recorded after a loud one looks quieter still when both are one file:
    predict each part on its own.
    """
    import librosa

    if not np.any(y):  # digital silence: nothing to split (librosa would call it all loud)
        return np.zeros((0, 2), dtype=np.int64)
    parts: list[list[int]] = []
    for start, end in librosa.effects.split(np.asarray(y, dtype=np.float32), top_db=top_db):
        if parts and start - parts[-1][1] < min_pause_s * sample_rate:
            parts[-1][1] = int(end)
        else:
            parts.append([int(start), int(end)])
    kept = [p for p in parts if p[1] - p[0] >= min_part_s * sample_rate]
    return np.array(kept, dtype=np.int64).reshape(-1, 2)
