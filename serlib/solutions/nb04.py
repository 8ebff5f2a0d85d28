"""Notebook 4, FCN+GAP and its class activation maps."""

from __future__ import annotations

import numpy as np

import serlib


def _fold(course, **changes):
    """Notebook 4's fold (read back from the course folder when kept) and its store."""
    store = course.features("logspec", progress=False)
    return course.train_fold(store, course.settings(4, **changes), log=lambda line: None), store


def _peak(cam: np.ndarray, config, segment_frames: int) -> tuple[float, float]:
    """Where a map ``(h, w)`` (row 0: the highest frequency) peaks: (seconds, kHz)."""
    row, col = np.unravel_index(np.argmax(cam), cam.shape)
    seconds = (col + 0.5) / cam.shape[1] * segment_frames * config.hop_length / config.sample_rate
    top_khz = config.nfreq * config.sample_rate / config.n_fft / 1000
    return float(seconds), float((cam.shape[0] - row - 0.5) / cam.shape[0] * top_khz)


def exercise_1(course, **changes) -> dict:
    """The maps of every class for the angry segment: where each peaks. A map of a wrong
    class shows where the model found evidence for that class."""
    result, store = _fold(course, **changes)
    row = course.examples().set_index("label").loc["anger"]
    segment = np.asarray(store.segments_of(row["speaker"], row["utt_id"])[:1])  # (1, C, F, T)
    predictor = serlib.Predictor(result)
    # Scaled as the evaluation (and notebook 4's figure) scaled it: by its speaker's segments.
    scaler = predictor.speaker_scalers(store, [row["speaker"]])
    peaks = {}
    for k, name in enumerate(store.classes):
        cam = predictor.class_maps(segment, np.array([k]), scaler=scaler)[0]
        peaks[name] = (*_peak(cam, store.config, segment.shape[-1]), float(cam.max()))
        print(f"map of {name}: peak {peaks[name][2]:.2f} at {peaks[name][0]:.1f} s, "
              f"{peaks[name][1]:.1f} kHz")
    return peaks


def exercise_2(course, **changes) -> dict:
    """FCN+GAP at 256 pixels against the tier's size: test UA (one seed: a few points are
    within noise) and the cells of a map, finer on each axis."""
    store = course.features("logspec", progress=False)
    row = course.examples().iloc[0]
    segment = np.asarray(store.segments_of(row["speaker"], row["utt_id"])[:1])  # (1, C, F, T)
    out = {}
    for size in (course.settings(4, **changes).image_size, 256):
        result, _ = _fold(course, **{**changes, "image_size": size})
        cells = serlib.Predictor(result).class_maps(segment, np.array([0]))[0].shape
        out[size] = {"UA": result.test.ua, "map cells": cells}
        print(f"{size} px: test UA {100 * result.test.ua:.1f} %, maps of {cells[0]} x "
              f"{cells[1]} cells")
    return out


def exercise_3(course, **changes) -> dict:
    """FCN+GAP against AlexNet on the same fold: parameters and test scores. One test
    speaker of a few dozen utterances moves UA by several points per utterance, and one
    seed is one draw: a single fold cannot tell which is more accurate."""
    store = course.features("logspec", progress=False)
    out = {}
    for name in ("alexnet", "alexnet_gap"):
        result = course.train_fold(store, course.settings(4, ser_model=name, **changes),
                                   log=lambda line: None)
        out[name] = {"parameters": result.num_params, "UA": result.test.ua, "WA": result.test.wa}
    ratio = out["alexnet_gap"]["parameters"] / out["alexnet"]["parameters"]
    test = course.index().table.query("speaker == @course.fold[1]")
    print(f"FCN+GAP has {100 * ratio:.1f} % of AlexNet's parameters; test UA "
          f"{100 * out['alexnet_gap']['UA']:.1f} % against {100 * out['alexnet']['UA']:.1f} %, "
          f"on {len(test)} test utterances")
    return out


def exercise_4(course, **changes) -> dict:
    """The thesis's scaling (fitted on the training speakers) against speaker normalisation:
    test UA, and the share of each map's positive evidence that lies in the quiet frames
    of its segment (below −60 dB in every bin: pauses, background, padding)."""
    store = course.features("logspec", progress=False)
    examples = course.examples()
    segments = np.stack([np.asarray(store.segments_of(r.speaker, r.utt_id)[0])
                         for r in examples.itertuples()])
    out = {}
    for scaler in ("speaker", "training"):
        result, _ = _fold(course, **{**changes, "scaler": scaler})
        predictor = serlib.Predictor(result)
        maps = predictor.class_maps(segments, examples["label_id"].to_numpy(),
                                    scaler=predictor.speaker_scalers(store, examples["speaker"]))
        quiet = segments[:, 0].max(axis=1) < -60  # (N, T) frames
        shares = []
        for cam, q in zip(maps, quiet, strict=True):
            columns = np.interp(np.linspace(0, len(q) - 1, cam.shape[1]), np.arange(len(q)),
                                q.astype(float)) > 0.5
            positive = np.clip(cam, 0, None)
            shares.append(positive[:, columns].sum() / max(positive.sum(), 1e-12))
        out[scaler] = {"UA": result.test.ua, "quiet share": float(np.mean(shares))}
        print(f"scaler={scaler}: test UA {100 * result.test.ua:.1f} %, "
              f"{100 * out[scaler]['quiet share']:.0f} % of the maps' evidence in quiet frames")
    return out
