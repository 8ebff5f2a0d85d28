"""Reading audio files safely: probe the header, report what is wrong."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
