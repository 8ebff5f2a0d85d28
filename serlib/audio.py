"""Reading audio files safely: probe the header, report what is wrong; and a speech check.

:data:`AUDIO_SUFFIXES` are the files serlib reads, for prediction and every corpus alike.
:func:`load_audio` reports a file that is unusable, and one that is truncated (its header
promises more than it holds); :func:`read_recording` reads what there is and says what is
wrong with it instead. :func:`speech_check` tells recordings that sound like speech from
noise, tones, chords and silence, and :func:`split_at_pauses` cuts a long recording into
utterances.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import BadAudioError


def _readable_suffixes() -> tuple[str, ...]:
    """The suffixes of the formats the installed libsndfile decodes (mp3 from 1.1 on)."""
    formats = sf.available_formats()
    suffixes = [".wav", ".flac", ".ogg", ".opus", ".aif", ".aiff"]
    if "MP3" in formats:
        suffixes.append(".mp3")
    return tuple(suffixes)


#: Audio files serlib reads (through libsndfile): prediction and every corpus.
AUDIO_SUFFIXES: tuple[str, ...] = _readable_suffixes()
#: Lossy formats among them: the same utterance may be answered a little differently.
LOSSY_SUFFIXES: tuple[str, ...] = (".mp3", ".ogg", ".opus")
#: Audio that libsndfile cannot decode: reported as such, never silently ignored.
OTHER_AUDIO_SUFFIXES: tuple[str, ...] = tuple(
    s for s in (".mp3", ".m4a", ".aac", ".wma", ".mp4", ".webm", ".amr", ".3gp", ".mka",
                ".ape", ".wv", ".ac3") if s not in AUDIO_SUFFIXES)
#: A file whose header promises more than this beyond what it holds is truncated.
TRUNCATION_TOLERANCE_S = 0.02


def unreadable_audio_reason(path: str | os.PathLike) -> str | None:
    """Why a file with an audio suffix that serlib does not read is left out (``None`` for
    any other file): its format and how to convert it."""
    suffix = Path(path).suffix.lower()
    if suffix not in OTHER_AUDIO_SUFFIXES:
        return None
    return (f"{suffix} audio cannot be read here (serlib reads "
            f"{', '.join(AUDIO_SUFFIXES)}); convert it, e.g. ffmpeg -i "
            f"{Path(path).name} {Path(path).with_suffix('.wav').name}")


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says.

    ``frames`` is what the file holds; ``promised_frames`` what a WAV header promises when
    that is more (the file was cut short while copying or recording), else ``None``.
    """

    sample_rate: int
    channels: int
    frames: int
    subtype: str
    promised_frames: int | None = None

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate

    @property
    def truncated(self) -> bool:
        """Whether the header promises noticeably more than the file holds."""
        return self.promised_frames is not None and \
            self.promised_frames - self.frames > TRUNCATION_TOLERANCE_S * self.sample_rate


def probe_audio(path: str | os.PathLike) -> AudioInfo:
    """Read an audio file's header without loading its samples.

    Raises :class:`BadAudioError` naming the file and the reason when the file
    is a directory, empty, unreadable, not audio, or holds no samples. A WAV file
    whose header promises more samples than it holds gives ``promised_frames``
    (see :attr:`AudioInfo.truncated`).
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
        raise BadAudioError(path, unreadable_audio_reason(path) or _unreadable(path, e)) \
            from None
    except OSError as e:
        raise BadAudioError(path, f"cannot be read ({e})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise BadAudioError(path, "contains no audio samples")
    promised = _wav_promised_frames(path) if info.format == "WAV" else None
    if promised is not None and promised <= info.frames:
        promised = None
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), info.subtype,
                     promised)


def _wav_promised_frames(path: Path) -> int | None:
    """The frames a RIFF/WAVE header's ``data`` chunk promises (libsndfile caps what it
    reports at what the file holds), or ``None`` when it cannot tell: not RIFF, no
    ``data`` chunk, or a size left open by a streaming writer (0 or 0xFFFFFFFF)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = f.read(min(size, 16))
                    if len(fmt) < 14:
                        return None
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                    f.seek(size - len(fmt) + (size & 1), os.SEEK_CUR)
                elif name == b"data":
                    if size in (0, 0xFFFFFFFF) or block_align == 0:
                        return None
                    return size // block_align
                else:
                    f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # libsndfile repeats the path in its message; the caller already names the file.
    return text.splitlines()[-1].split(": ", 1)[-1] if text else type(error).__name__


def _unreadable(path: Path, error: BaseException) -> str:
    """Why libsndfile could not open ``path``, in words."""
    reason = _first_line(error)
    if "does not exist" in reason and path.is_file():  # libsndfile's word for undecodable
        reason = "it could not be decoded: truncated or corrupt"
    return f"not a readable audio file ({reason})"


@dataclass(frozen=True)
class Recording:
    """A file's samples, mono float32 ``(S,)`` at ``sample_rate``, and what is wrong with
    it: ``warnings`` (a truncated file, a lossy format), ``truncated`` what is missing
    (empty when the file holds what its header promises)."""

    samples: np.ndarray
    sample_rate: int
    warnings: tuple[str, ...] = ()
    truncated: str = ""


def read_recording(path: str | os.PathLike, sample_rate: int = 16_000,
                   min_samples: int = 1) -> Recording:
    """Read a file as :func:`load_audio` does, but keep what a truncated file holds and
    say so in the recording's ``warnings`` (and that a lossy format such as mp3 can be
    answered differently from the same utterance as wav).

    Raises :class:`BadAudioError` for a file that cannot be used at all: unreadable, no
    samples, NaN or infinite samples, silent, shorter than ``min_samples``.
    """
    import librosa

    path = Path(path)
    info = probe_audio(path)
    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        reason = ""
    except (RuntimeError, sf.LibsndfileError) as e:  # decoding stopped midway: keep the rest
        y, sr, reason = _read_blocks(path), info.sample_rate, _first_line(e)
        if len(y) == 0:
            raise BadAudioError(path, f"not a readable audio file ({reason})") from None
    promised = max(info.frames, info.promised_frames or 0)
    notes, truncated = [], ""
    if promised - len(y) > TRUNCATION_TOLERANCE_S * sr:
        cause = f" (decoding stopped: {reason})" if reason else ""
        truncated = (f"the header promises {promised / sr:.2f} s, the file holds "
                     f"{len(y) / sr:.2f} s: the file is truncated{cause}")
        notes.append(f"{truncated}; only what it holds is used")
    if path.suffix.lower() in LOSSY_SUFFIXES:
        notes.append(f"{path.suffix.lower()[1:]} is a lossy format: the same utterance as wav "
                     "can be answered a little differently")
    y = y.mean(axis=1)
    if not np.isfinite(y).all():
        raise BadAudioError(path, "contains NaN or infinite samples")
    if not np.any(y):
        raise BadAudioError(path, "is silent (every sample is zero)")
    if sr != sample_rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=sample_rate).astype(np.float32)
    if len(y) < min_samples:
        raise BadAudioError(path, f"too short: {1000 * len(y) / sample_rate:.0f} ms, less than "
                                  f"one {1000 * min_samples / sample_rate:.0f} ms frame"
                                  + (f" ({truncated})" if truncated else ""))
    return Recording(y, sample_rate, tuple(notes), truncated)


def _read_blocks(path: Path, blocksize: int = 1024) -> np.ndarray:
    """The frames ``(S, C)`` a damaged file yields before its decoder fails."""
    blocks = []
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=blocksize, dtype="float32", always_2d=True):
                blocks.append(block)
    except (RuntimeError, sf.LibsndfileError):
        pass
    return np.concatenate(blocks) if blocks else np.zeros((0, 1), np.float32)


def load_audio(path: str | os.PathLike, sample_rate: int = 16_000,
               min_samples: int = 1, *, strict: bool = True) -> np.ndarray:
    """Load a file as mono float32 samples ``(S,)`` at ``sample_rate``.

    Stereo is mixed down and other rates are resampled with librosa. Raises
    :class:`BadAudioError` naming the file when it cannot be read, holds NaN or
    infinite samples, is silent, or is shorter than ``min_samples`` after
    resampling (one analysis frame, for feature extraction); and, when ``strict``
    (feature extraction), when it is truncated: its header promises more than it
    holds. ``strict=False`` keeps what a truncated file holds (:func:`read_recording`
    also says so).
    """
    recording = read_recording(path, sample_rate, min_samples)
    if strict and recording.truncated:
        raise BadAudioError(path, recording.truncated)
    return recording.samples


@dataclass(frozen=True)
class SpeechCheck:
    """How much of a recording sounds like speech (:func:`speech_check`).

    ``fraction``: the share of its 1-s windows (every 0.25 s) that sound like speech, NaN
    when the recording is too short to tell (under 0.3 s, or a single short syllable or a
    few clicks); ``windows``: how many there are;
    ``sounds_like``: what most of the others sound like (``"steady noise"``, ``"steady
    tones or chords"``, ``"noise without the changing spectrum of speech"``, ``"near
    silence"``), empty when all sound like speech.
    """

    fraction: float
    windows: int
    sounds_like: str = ""

    @property
    def ok(self) -> bool:
        """Whether enough of it sounds like speech (or it is too short to tell)."""
        return not self.fraction < MIN_SPEECH_FRACTION

    def warning(self) -> str | None:
        """The warning to give, or ``None``."""
        if self.ok:
            return None
        share = f"{100 * self.fraction:.0f} %"
        what = f"it sounds like {self.sounds_like}" if self.sounds_like else "it is not speech"
        return (f"little or no speech ({share} of it sounds like speech; {what}): the model "
                "answers one of its classes for anything, so this answer means nothing")


# The speech check's parameters: 10-ms frames, 1-s windows every 0.25 s.
_HOP_S, _WINDOW_S, _WINDOW_HOP_S, _LAG_S, _CHUNK_S = 0.010, 1.0, 0.25, 0.2, 60.0
#: A window sounds like speech when its energy rises and falls at syllable rate by at least
#: this much (dB, the std of the envelope above 2.5 Hz) ...
MIN_MODULATION_DB = 3.0
#: ... its spectral envelope changes at least this much more over 200 ms than over 30 ms
#: (dB, mean absolute change of 24 mel bands) ...
MIN_SPECTRAL_CHANGE_DB = 0.5
#: ... and its harmonic fine structure does not stay in place over 200 ms (correlation of
#: the 80-4000 Hz log spectrum with its envelope removed): steady pitches are music or hum.
MAX_PERSISTENCE = 0.75
#: A recording of one window (under 1.25 s) may be a single vowel, steady in spectrum and
#: nearly so in pitch: it is speech when its level varies and its harmonic fine structure
#: persists as a voice's does (noise: under 0.05), though less than a tone's or a chord's
#: (0.91 and more).
MIN_PERSISTENCE_VOICED, MAX_PERSISTENCE_ONE_WINDOW = 0.3, 0.85
#: A recording with fewer windows that sound like speech gets a warning.
MIN_SPEECH_FRACTION = 0.4
#: A recording of one window with fewer pairs of active frames 200 ms apart than this (a
#: single short syllable, a few clicks: sound that does not last) is too short to tell.
_MIN_PAIRS = 10
#: Windows quieter than this (dB below full scale, RMS) are called near silence.
_SILENCE_DBFS = -60.0


def speech_check(y: np.ndarray, sample_rate: int) -> SpeechCheck:
    """How much of a waveform ``(S,)`` at ``sample_rate`` sounds like speech.

    A voice-activity check for the question "is there speech to answer about", not
    an utterance segmenter. Each 1-s window (every 0.25 s) is speech when three things
    hold together, each of which one kind of non-speech lacks:

    - syllabic modulation: the energy envelope (24 mel bands, 25-ms frames every 10 ms,
      floored 40 dB below the window's peak) varies above 2.5 Hz by at least
      :data:`MIN_MODULATION_DB` (std, dB). Steady noise, hiss, hum, tones and a single
      chord do not;
    - a changing spectral envelope: the mel spectrum's shape (level removed) differs more
      between frames 200 ms apart than between frames 30 ms apart, by at least
      :data:`MIN_SPECTRAL_CHANGE_DB`. Noise that is amplitude-modulated or clicks in hiss
      do not (the 30-ms difference is their estimation noise);
    - moving pitches: the harmonic fine structure (64-ms frames, 80-4000 Hz, log
      spectrum minus its 60-Hz moving average) correlates with itself 200 ms later by
      at most :data:`MAX_PERSISTENCE`. Tones and plucked or strummed chords stay at
      their pitches (0.91 and more); voices glide.

    A recording of a single window (under 1.25 s) may be one steady vowel: there a voiced
    sound whose pitch is not fixed (persistence between :data:`MIN_PERSISTENCE_VOICED` and
    :data:`MAX_PERSISTENCE_ONE_WINDOW`) need not change its spectrum; one whose sound
    lasts too little to compare frames 200 ms apart (a single short syllable, a few
    clicks) is too short to tell, as is anything under 0.3 s.

    Measured separation, on examples made for the purpose (0.4-8 s, at 8 to 48 kHz):

    ==========================================  ==========================================
    speech: 2436 files                          non-speech: 1761 files
    ==========================================  ==========================================
    serlib's synthetic voices, every layout,    white, pink and brown noise at -40..-6
    three seeds (1696 files, 400 of them        dBFS; hiss at -75..-45 dBFS, alone and
    0.8-1.3 s); espeak-ng, 10 voices at 3       with clicks; tones of 80-4000 Hz, alone,
    rates (150); ALSA's spoken channel names    with hiss or vibrato; 2-4 note chords with
    (8); 182 of them again with white or pink   5 harmonics, plucked once or strummed every
    noise at 5-20 dB SNR                        0.3-1.5 s; 2-8 Hz AM noise; ALSA's Noise.wav
    share of speech windows: min 0.79; too      share of speech windows: max 0.00; too
    short to tell: 10 (single syllables)        short to tell: 14 (clicks under 1.25 s)
    windows (15364): modulation 1 % quantile    modulation max 2.4 dB (noise, hiss, tones,
    4.3 dB; spectral change 1 % quantile 1.3    one pluck); spectral change 99 % quantile
    dB; persistence 99 % quantile 0.56          0.25 dB (AM noise, clicks); persistence
                                                1 % quantile 0.93 (tones, chords)
    single-window files: persistence max 0.73   single-window tones and chords: persistence
                                                min 0.87; noise: max 0.05
    ==========================================  ==========================================

    A warning is given below :data:`MIN_SPEECH_FRACTION` (0.4). What it cannot tell:
    singing, speech-like music, babble and a voice over music can pass for speech; a
    recording mostly of silence or noise with a little speech is flagged. It takes about
    0.2 s per minute of 16-kHz audio on one core, in chunks of a minute (bounded memory).
    """
    features = _window_features(y, sample_rate)
    if len(features) == 0 or (len(features) == 1 and features[0, 4] < _MIN_PAIRS):
        return SpeechCheck(float("nan"), len(features))  # too short to tell
    decisions = _verdicts(features, one_window=len(features) == 1)
    fraction = float(np.mean(decisions == 0))
    kinds = np.bincount(decisions, minlength=len(_SOUNDS_LIKE) + 1)[1:]
    sounds_like = _SOUNDS_LIKE[int(kinds.argmax())] if kinds.any() else ""
    return SpeechCheck(fraction, len(decisions), sounds_like)


def _window_features(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """The speech check's measures of each 1-s window ``(W, 5)``: modulation (dB),
    spectral change (dB), persistence, level (dBFS), pairs of active frames 200 ms apart;
    ``(0, 5)`` when under 0.3 s."""
    y = np.asarray(y, dtype=np.float32)
    hop = max(1, int(round(_HOP_S * sample_rate)))
    window = int(round(_WINDOW_S / _HOP_S))
    step = int(round(_WINDOW_HOP_S / _HOP_S))
    lag = int(round(_LAG_S / _HOP_S))
    frames = 1 + len(y) // hop
    if frames <= lag + 10:
        return np.zeros((0, 5))
    starts = np.arange(0, max(frames - window, 0) + 1, step)
    chunk = int(round(_CHUNK_S / _HOP_S)) // step * step
    margin = 8  # frames of context before a chunk (the STFT's centring)
    results = []
    for first in range(0, len(starts), chunk // step):
        these = starts[first:first + chunk // step]
        lo = max(0, int(these[0]) - margin)
        hi = min(frames, int(these[-1]) + window + lag + 4)
        part = y[lo * hop:(hi - 1) * hop + 1]
        results.append(_measure_windows(_speech_frames(part, sample_rate, hop), these - lo,
                                        min(window, frames), lag, part, hop))
    return np.concatenate(results)


_SOUNDS_LIKE = ("steady tones or chords", "near silence", "steady noise",
                "noise without the changing spectrum of speech")


def speech_fraction(y: np.ndarray, sample_rate: int) -> float:
    """The share of a waveform ``(S,)`` that sounds like speech (:func:`speech_check`):
    0 for noise, tones, chords and silence, 0.67 and more on the speech it was measured on."""
    return speech_check(y, sample_rate).fraction


def _speech_frames(y: np.ndarray, sr: int, hop: int) -> dict[str, np.ndarray]:
    """Per 10-ms frame ``(T,)``: mel energy (dB), spectral-envelope change over 30 and
    200 ms (dB), fine-structure persistence over 200 ms (correlation); NaN where the
    later frame is past the end."""
    import librosa
    from scipy import ndimage

    win = int(round(0.025 * sr))
    power = np.abs(librosa.stft(y, n_fft=1 << (win - 1).bit_length(), hop_length=hop,
                                win_length=win)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=24, fmin=60.0,
                                         fmax=min(8000.0, sr / 2))
    n = mel.shape[1]
    lag = int(round(_LAG_S / _HOP_S))
    shape = 10 * np.log10(mel + 1e-12)
    shape = np.maximum(shape, shape.max(axis=0, keepdims=True) - 50)
    shape = ndimage.uniform_filter1d(shape, 3, axis=1, mode="nearest")
    shape -= shape.mean(axis=0, keepdims=True)

    def change(k: int) -> np.ndarray:
        out = np.full(n, np.nan, np.float32)
        if n > k:
            out[:-k] = np.abs(shape[:, k:] - shape[:, :-k]).mean(axis=0)
        return out

    n_fft = 1 << (int(0.064 * sr) - 1).bit_length()
    fine_power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    band = (freqs >= 80) & (freqs <= min(4000.0, 0.95 * sr / 2))
    fine = 10 * np.log10(fine_power[band] + 1e-12)
    fine = np.maximum(fine, fine.max(axis=0, keepdims=True) - 60)
    fine -= ndimage.uniform_filter1d(fine, max(3, int(round(60 / freqs[1]))), axis=0,
                                     mode="nearest")
    fine -= fine.mean(axis=0, keepdims=True)
    norm = np.sqrt((fine ** 2).sum(axis=0)) + 1e-9
    persistence = np.full(n, np.nan, np.float32)
    m = min(n, fine.shape[1])
    if m > lag:
        persistence[:m - lag] = (fine[:, lag:m] * fine[:, :m - lag]).sum(axis=0) / \
            (norm[lag:m] * norm[:m - lag])
    return {"energy": 10 * np.log10(mel.sum(axis=0) + 1e-12), "short": change(3),
            "long": change(lag), "persistence": persistence}


def _measure_windows(f: dict[str, np.ndarray], starts: np.ndarray, window: int, lag: int,
                     y: np.ndarray, hop: int) -> np.ndarray:
    """Each window's measures ``(W, 5)`` (modulation, change, persistence, level, pairs)
    from the frame features ``f`` of ``y``; change and persistence are NaN where no pair of
    active frames lies 200 ms apart."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import ndimage

    energy = f["energy"]
    n = len(energy)
    starts = np.minimum(starts, max(n - window, 0))
    window = min(window, n)

    def windows(x: np.ndarray) -> np.ndarray:
        return sliding_window_view(x, window)[starts]

    def later(x: np.ndarray, k: int) -> np.ndarray:
        return np.concatenate([x[k:], np.full(k, -np.inf, x.dtype)])

    e = windows(energy)
    floor = np.percentile(e, 95, axis=1, keepdims=True) - 35  # active: within 35 dB of the top
    env = windows(ndimage.uniform_filter1d(energy, 3, mode="nearest"))
    env = np.maximum(env, env.max(axis=1, keepdims=True) - 40)
    modulation = np.std(env - ndimage.uniform_filter1d(env, 41, axis=1, mode="nearest"), axis=1)
    short_ok = (e > floor) & (windows(later(energy, 3)) > floor)  # pairs of active frames
    long_ok = (e > floor) & (windows(later(energy, lag)) > floor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows without active pairs
        change = np.nanmean(np.where(long_ok, windows(f["long"]), np.nan), axis=1) - \
            np.nanmean(np.where(short_ok, windows(f["short"]), np.nan), axis=1)
        persistence = np.nanmedian(np.where(long_ok, windows(f["persistence"]), np.nan),
                                   axis=1)
    pairs = long_ok.sum(axis=1)
    square = np.concatenate([[0.0], np.cumsum(np.asarray(y, np.float64) ** 2)])
    a, b = starts * hop, np.minimum((starts + window) * hop, len(y))
    level = 10 * np.log10((square[b] - square[a]) / np.maximum(b - a, 1) + 1e-20)
    return np.stack([modulation, change, persistence, level, pairs], axis=1)


def _verdicts(measures: np.ndarray, one_window: bool = False) -> np.ndarray:
    """Each window's verdict ``(W,)`` from its measures ``(W, 5)``: 0 speech, else 1 + the
    index of what it sounds like in ``_SOUNDS_LIKE``. ``one_window``: the whole recording
    is one window (under 1.25 s), perhaps a single steady vowel, so a voiced sound whose
    pitch is not fixed (:data:`MAX_PERSISTENCE_ONE_WINDOW`) need not change its spectrum."""
    modulation, change, persistence, level, pairs = measures.T
    with np.errstate(invalid="ignore"):
        tonal = persistence > (MAX_PERSISTENCE_ONE_WINDOW if one_window else MAX_PERSISTENCE)
        steady = modulation < MIN_MODULATION_DB
        unchanging = ~(change >= MIN_SPECTRAL_CHANGE_DB)  # NaN (too few active pairs) too
        if one_window:  # a voiced sound (harmonic, as noise is not), its pitch not fixed
            unchanging &= ~((persistence >= MIN_PERSISTENCE_VOICED) &
                            (persistence <= MAX_PERSISTENCE_ONE_WINDOW))
    speech = ~(tonal | steady | unchanging)
    # What a window that is not speech sounds like; the level only names it.
    return np.select([speech, tonal, level < _SILENCE_DBFS, steady], [0, 1, 2, 3], 4)


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
