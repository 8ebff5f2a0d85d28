"""Notebook 8, your own recording."""

from __future__ import annotations

import numpy as np
import pandas as pd

import serlib
from serlib.audio import load_audio


def _predictor(course, name: str = "alexnet_gap", **changes) -> serlib.Predictor:
    """The model notebook 4 (FCN+GAP) or 3 (AlexNet) saved; trained here when missing."""
    checkpoint = course.work / "models" / f"{name}.pth"
    if changes or not checkpoint.exists():
        store = course.features("logspec", progress=False)
        result = course.train_fold(store, course.settings(8, ser_model=name, **changes),
                                   log=lambda line: None)
        return serlib.Predictor(result)
    return serlib.Predictor(checkpoint)


def _recordings(course, recordings: dict | None) -> dict:
    """``{emotion: path}``: yours, or the course's example utterances as stand-ins."""
    if recordings:
        return recordings
    examples = course.examples().set_index("label")
    return {label: examples.loc[label, "path"] for label in examples.index}


def exercise_1(course, recordings: dict | None = None, **changes) -> pd.DataFrame:
    """Four moods (``recordings``: ``{"anger": "me_angry.wav", ...}``; without them, the
    course's example utterances stand in): the model's answers, and the class each true
    emotion is most often taken for in notebook 7's confusion matrix, when that run exists."""
    predictor = _predictor(course, **changes)
    rows = []
    for emotion, path in _recordings(course, recordings).items():
        p = predictor.predict(path)
        rows.append({"said": emotion, "answered": p.emotion,
                     **{c: round(100 * q) for c, q in zip(predictor.classes, p.probs,
                                                         strict=True)}})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    folder = course.work / "cv" / "alexnet_gap"
    if list(folder.glob("fold-*.json")):
        run = serlib.report.load_runs([folder])[0]
        confusion = np.asarray(run.confusion(), float)
        np.fill_diagonal(confusion, 0)
        for k, name in enumerate(run.classes):
            print(f"notebook 7: {name} is most often taken for "
                  f"{run.classes[int(confusion[k].argmax())]}")
    return table


def exercise_2(course, recordings: dict | None = None, **changes) -> float:
    """AlexNet (notebook 3) and FCN+GAP (notebook 4) on the same segments: the share of
    segments on which they give the same answer."""
    models = {name: _predictor(course, name, **changes) for name in ("alexnet", "alexnet_gap")}
    agree = total = 0
    for path in _recordings(course, recordings).values():
        answers = []
        for predictor in models.values():
            segments, _ = predictor.segments(load_audio(path, predictor.features.sample_rate))
            answers.append(predictor.segment_probs(segments).argmax(axis=1))
        agree += int((answers[0] == answers[1]).sum())
        total += len(answers[0])
    print(f"the two models agree on {agree} of {total} segments")
    return agree / total


def exercise_3(course, recordings: dict | None = None, snr_db: float = 10.0,
               **changes) -> pd.DataFrame:
    """Each recording clean and with pink noise at ``snr_db``: the answer and its
    probability before and after."""
    predictor = _predictor(course, **changes)
    sr = predictor.features.sample_rate
    rows = []
    for emotion, path in _recordings(course, recordings).items():
        y = load_audio(path, sr)
        noisy = serlib.augment.add_noise(y, sr, "pink", snr_db, np.random.default_rng(0))
        clean, loud = predictor.predict_signal(y), predictor.predict_signal(noisy)
        rows.append({"said": emotion, "clean": f"{clean.emotion} {100 * clean.probs.max():.0f} %",
                     f"{snr_db:g} dB": f"{loud.emotion} {100 * loud.probs.max():.0f} %"})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table
