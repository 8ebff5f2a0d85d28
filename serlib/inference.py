"""What a model can be asked: the half of prediction that needs no network.

:class:`serlib.Predictor` (torch) and :class:`serlib.deploy.OnnxPredictor`
(onnxruntime) differ only in how segments become log-probabilities; everything
else is here, once: reading the file with what is wrong with it (truncated, lossy),
the speech check (:func:`serlib.audio.speech_check`), and recordings longer than
:data:`MAX_DURATION_S`, which are answered per part (split at their pauses, parts
still longer cut into equal windows) with a warning to split them.

A model answers a probability over its own classes for anything it is given, never
"none of these": the warnings say when the question did not fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .audio import read_recording, speech_check, split_at_pauses
from .config import FeatureConfig

if TYPE_CHECKING:  # librosa and scikit-learn load when a prediction is made, not before
    from .metrics import Prediction

#: Recordings longer than this (seconds) are answered per part, with a warning: a model
#: trained on utterances of a few seconds says little about one average over minutes.
MAX_DURATION_S = 60.0

#: Segments ``(N, C, F, T)`` in dB -> their log class probabilities ``(N, K)``.
LogProbs = Callable[[np.ndarray], np.ndarray]


def split_recording(y: np.ndarray, sample_rate: int, max_duration_s: float) -> np.ndarray:
    """The parts a long recording ``(S,)`` is answered in: ``(M, 2)`` sample ranges
    ``[start, end)`` of its utterances (:func:`serlib.audio.split_at_pauses`), each part
    still longer than ``max_duration_s`` cut into equal windows no longer than it. A
    recording without pauses to split at is cut into windows whole."""
    ranges = split_at_pauses(y, sample_rate)
    if len(ranges) == 0:
        ranges = np.array([[0, len(y)]])
    limit = max(1, int(max_duration_s * sample_rate))
    out = []
    for start, end in ranges:
        edges = np.linspace(start, end, -(-(end - start) // limit) + 1).round().astype(np.int64)
        out += zip(edges[:-1], edges[1:], strict=True)
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def predict_part(y: np.ndarray, name: str, features: FeatureConfig, classes: Sequence[str],
                 log_probs: LogProbs, *, offset_s: float = 0.0) -> Prediction:
    """One waveform ``(S,)`` at ``features.sample_rate`` answered whole: its segments'
    probabilities, segment starts in seconds from ``offset_s``, its time range, the share
    that sounds like speech and a warning when that is little."""
    return _answer(y, name, features, classes, log_probs, offset_s)[0]


def _answer(y: np.ndarray, name: str, features: FeatureConfig, classes: Sequence[str],
            log_probs: LogProbs, offset_s: float = 0.0) -> tuple[Prediction, np.ndarray]:
    """:func:`predict_part`, and its segments' log-probabilities ``(N, K)``."""
    from .features import compute_features, segment, segment_starts
    from .metrics import prediction

    fc = features
    x = compute_features(y, fc, np.random.default_rng(fc.seed))
    segs = segment(x, fc.segment_size, fc.pad_values())
    starts = np.array(segment_starts(x.shape[-1], fc.segment_size)) * fc.hop_length / \
        fc.sample_rate
    seg_log_probs = log_probs(segs)
    result = prediction(name, tuple(classes), seg_log_probs, starts + offset_s)
    check = speech_check(y, fc.sample_rate)
    result.start_s, result.end_s = offset_s, offset_s + len(y) / fc.sample_rate
    result.speech = check.fraction
    if check.warning():
        result.warnings.append(check.warning())
    return result, seg_log_probs


def predict_waveform(y: np.ndarray, name: str, features: FeatureConfig,
                     classes: Sequence[str], log_probs: LogProbs, *,
                     warnings: Sequence[str] = (),
                     max_duration_s: float | None = None) -> Prediction:
    """A recording ``(S,)`` at ``features.sample_rate`` answered as a whole when it is no
    longer than ``max_duration_s`` (default :data:`MAX_DURATION_S`), else per part
    (:func:`split_recording`): then ``parts`` holds one :class:`Prediction` per part, and
    the file's own probabilities average every part's segments, as a shorter file's do.
    ``warnings`` (from reading the file) come first in the result's."""
    from .metrics import prediction

    sr = features.sample_rate
    limit = MAX_DURATION_S if max_duration_s is None else max_duration_s
    duration = len(y) / sr
    if duration <= limit:
        result = predict_part(y, name, features, classes, log_probs)
        result.warnings[:0] = list(warnings)
        return result
    answers = [_answer(y[a:b], f"{name} [{a / sr:.1f}-{b / sr:.1f} s]", features, classes,
                       log_probs, a / sr) for a, b in split_recording(y, sr, limit)]
    parts = [part for part, _ in answers]
    result = prediction(name, tuple(classes), np.concatenate([lp for _, lp in answers]),
                        np.concatenate([p.segment_starts_s for p in parts]))
    result.parts, result.start_s, result.end_s = parts, 0.0, duration
    checked = [p for p in parts if not np.isnan(p.speech)]  # weighted by duration
    result.speech = float(np.average([p.speech for p in checked],
                                     weights=[p.end_s - p.start_s for p in checked])) \
        if checked else float("nan")
    result.warnings += list(warnings)
    result.warnings.append(
        f"{_minutes(duration)} is longer than {limit:.0f} s: answered per part, {len(parts)} "
        f"part(s) cut at its pauses and none longer than {limit:.0f} s (the pauses are left "
        "out); the model was trained on single utterances of a few seconds, so split the "
        "recording into utterances and predict each")
    quiet = [p for p in parts if not np.isnan(p.speech) and p.warnings]
    if quiet:
        shown = ", ".join(f"{p.start_s:.1f}-{p.end_s:.1f} s" for p in quiet[:5])
        more = f" and {len(quiet) - 5} more" if len(quiet) > 5 else ""
        result.warnings.append(f"little or no speech in {len(quiet)} of {len(parts)} parts "
                               f"({shown}{more}): their answers mean nothing")
    return result


def predict_file(path: str | os.PathLike, features: FeatureConfig, classes: Sequence[str],
                 log_probs: LogProbs, *, max_duration_s: float | None = None) -> Prediction:
    """A file answered by :func:`predict_waveform`, read at ``features.sample_rate`` with
    :func:`serlib.audio.read_recording`: a truncated file is answered on what it holds,
    with a warning. Raises :class:`~serlib.errors.BadAudioError` for unusable audio."""
    fc = features
    recording = read_recording(path, fc.sample_rate, min_samples=fc.win_length)
    return predict_waveform(recording.samples, str(path), fc, classes, log_probs,
                            warnings=recording.warnings, max_duration_s=max_duration_s)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
