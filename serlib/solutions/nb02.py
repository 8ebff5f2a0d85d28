"""Notebook 2, features."""

from __future__ import annotations

import numpy as np


def exercise_1(course) -> dict:
    """``logmelspec`` against ``logspec``: a segment has ``nmel`` mel bands instead of
    ``nfreq`` linear bins, so it is ``nmel / nfreq`` the size (the time axis is the same)."""
    shapes = {}
    for kind in ("logspec", "logmelspec"):
        store = course.features(kind, progress=False)
        shapes[kind] = tuple(store[next(iter(store))].segments.shape[1:])  # (C, F, T)
    ratio = np.prod(shapes["logmelspec"]) / np.prod(shapes["logspec"])
    print(f"segment (C, F, T): logspec {shapes['logspec']}, logmelspec {shapes['logmelspec']}: "
          f"{ratio:.2f} of the size")
    return {"shapes": shapes, "ratio": float(ratio)}


def exercise_2(course) -> dict:
    """The window at which the harmonics of the angry utterance merge. A Hann window of T
    seconds smears each harmonic over about ±2/T Hz, so harmonics f0 apart stay separate
    lines while 2/T < f0, i.e. for windows longer than 2/f0. The pitch f0 measured with
    librosa's pYIN says where that is."""
    import librosa

    from serlib.audio import load_audio

    examples = course.examples().set_index("label")  # the notebook's angry utterance
    table = course.index().table
    row = examples.loc["anger"] if "anger" in examples.index else \
        table[table["label"] == "anger"].iloc[0]  # (a small corpus's test speaker may lack one)
    y = load_audio(row["path"], 16_000)
    f0, voiced, _ = librosa.pyin(y, fmin=60, fmax=500, sr=16_000)
    pitch = float(np.nanmedian(f0[voiced])) if voiced.any() else float("nan")
    shortest_ms = 1000 * 2 / pitch
    print(f"median pitch of {row['utt_id']}: {pitch:.0f} Hz: harmonics separate for windows "
          f"longer than about {shortest_ms:.0f} ms, merged below (the explorer's window_ms)")
    return {"pitch_hz": pitch, "window_ms": shortest_ms}


def exercise_3(course) -> dict:
    """Padded segments: an utterance shorter than a segment (3 s) is padded at its end with
    the floor (−80 dB). Padding with 0 dB instead would put the loudest value of the dB
    scale after every short utterance: a bright block that a model could learn as a cue of
    short utterances (the scaler maps it to white)."""
    store = course.features("logspec", progress=False)
    table = course.index().table
    config = store.config
    seconds = config.segment_size * config.hop_length / config.sample_rate
    short = int((table["duration_s"] < seconds).sum())
    floor = -float(config.top_db)
    padded = total = 0
    for speaker in store:
        segments = store[speaker].segments  # (N, C, F, T)
        padded += int(np.all(np.asarray(segments[:, :, :, -1]) <= floor, axis=(1, 2)).sum())
        total += len(segments)
    print(f"{short} of {len(table)} utterances are shorter than 3 s; {padded} of {total} "
          f"segments ({100 * padded / total:.0f} %) end in padding")
    return {"short_utterances": short, "padded_segments": padded, "segments": total}
