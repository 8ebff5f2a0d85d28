"""Notebook 6, stability training and noise."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

import serlib

SNRS = [None, 20, 10, 5]


def _curves(course, predictors: dict, noise: str) -> pd.DataFrame:
    test = course.index().table.query("speaker == @course.fold[1]")
    return serlib.predict.accuracy_vs_snr(predictors, test, SNRS, noise=noise, progress=False)


def exercise_1(course, seeds=(111, 112, 113), noises=("pink",), **changes) -> pd.DataFrame:
    """UA against SNR averaged over three seeds, with and without stability training.
    Read the 5 dB row: is the stability-trained model ahead at every seed, or only on
    average? (The notebook's fan noise is a folder: pass its path in ``noises``.)"""
    store = course.features("logspec", mixnoise=1, progress=False)
    config = course.settings(6, **changes)
    rows = []
    for seed in seeds:
        predictors = {name: serlib.Predictor(course.train_fold(
            store, replace(config, seed=seed, stability=stable), log=lambda line: None))
            for name, stable in (("no stability", False), ("stability training", True))}
        for noise in noises:
            rows.append(_curves(course, predictors, noise).assign(seed=seed, noise=noise))
    table = pd.concat(rows).pivot_table(index=["noise", "snr_db"], columns="model",
                                        values="UA", aggfunc="mean", dropna=False)
    print(table.round(1).to_string())
    return table


def exercise_2(course, **changes) -> pd.DataFrame:
    """Stability training with Gaussian noise in the image domain, on the clean store,
    against no stability training, both tested with noise in the audio (pink)."""
    store = course.features("logspec", progress=False)
    config = course.settings(6, **changes)
    predictors = {name: serlib.Predictor(course.train_fold(store, replace(config, **extra),
                                                           log=lambda line: None))
                  for name, extra in (("no stability", {}),
                                      ("stability, gaussian", {"stability": True,
                                                               "stability_source": "gaussian"}))}
    table = _curves(course, predictors, "pink").pivot_table(
        index="snr_db", columns="model", values="UA", dropna=False)
    print(table.round(1).to_string())
    return table


def exercise_3(course, **changes) -> pd.DataFrame:
    """White, pink and babble noise at the same SNRs for one model. White noise spreads its
    power evenly over 0-8 kHz, so little of it lands in the 0-4 kHz image; babble puts its
    power where speech has its own (below 4 kHz, in harmonics and formants), which masks
    most at the same SNR."""
    store = course.features("logspec", progress=False)
    model = course.train_fold(store, course.settings(6, **changes), log=lambda line: None)
    predictors = {"model": serlib.Predictor(model)}
    table = pd.concat([_curves(course, predictors, noise).assign(noise=noise)
                       for noise in ("white", "pink", "babble")])
    table = table.pivot_table(index="snr_db", columns="noise", values="UA", dropna=False)
    print(table.round(1).to_string())
    return table
