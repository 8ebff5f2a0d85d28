"""Notebook 10, beyond AlexNet."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

import serlib


def exercise_1(course) -> dict:
    """The one line for DenseNet-121, registered here at run time (in the repository it goes
    into ``BACKBONES`` in ``serlib/backbones.py``, where the parametrised tests of
    ``tests/test_backbones.py`` pick it up by name). torchvision's ``DenseNet.forward``
    applies a ReLU to ``features``' output before pooling; the ``_gap`` and ``_att`` forms
    take ``features`` as they are, so they pool values of which many are negative. The
    ReLU belongs between the features and the 1x1 convolution of those forms (a field of
    ``Backbone`` saying which backbones need it, read where serlib builds the head)."""
    from serlib import models
    from serlib.backbones import BACKBONES, FORMS, Backbone

    line = Backbone("densenet121", "classifier", "features", 1024, params=6_957_956)
    added = line.name not in BACKBONES
    # At import, serlib derives every model name from BACKBONES; added at run time, the
    # names are added by hand too (and both are undone after).
    BACKBONES[line.name] = line
    known = models.MODELS
    models.MODELS = known + tuple(line.name + suffix for suffix in FORMS.values())
    try:
        finetuned = serlib.build_model("densenet121", 4)
        gap = serlib.build_model("densenet121_gap", 4).eval()
        with torch.no_grad():
            features = gap.features(torch.randn(2, 3, 64, 64))
    finally:
        models.MODELS = known
        if added:
            del BACKBONES[line.name]
    params = serlib.models.count_parameters(finetuned)
    negative = float((features < 0).float().mean())
    print(f"densenet121: {params:,} parameters finetuned (the line says {line.params:,}); "
          f"features {tuple(features.shape)}, {100 * negative:.0f} % of them negative: the "
          "ReLU that DenseNet.forward applies is missing before the pooling")
    return {"params": params, "negative_share": negative}


def exercise_2(course, **changes) -> dict:
    """The attention FCN at 128 pixels (its own checkpoint in the course folder): the
    attention map's cells, and the share of the attention on quiet frames (below −60 dB in
    every bin: pauses, background, padding) against those frames' share of the segment."""
    store = course.features("logspec", progress=False)
    config = course.settings(10, ser_model="alexnet_att", **{"image_size": 128, **changes})
    predictor = serlib.Predictor(course.train_fold(store, config, log=lambda line: None))
    examples = course.examples()
    segments = np.stack([np.asarray(store.segments_of(r.speaker, r.utt_id)[0])
                         for r in examples.itertuples()])
    # Scaled as the evaluation scaled them: by statistics of all of each speaker's segments.
    weights = predictor.attention_maps(  # (N, h, w), each sums to 1
        segments, scaler=predictor.speaker_scalers(store, examples["speaker"]))
    quiet = segments[:, 0].max(axis=1) < -60      # (N, T)
    rows = []
    for row, w, q in zip(examples.itertuples(), weights, quiet, strict=True):
        columns = np.interp(np.linspace(0, len(q) - 1, w.shape[1]), np.arange(len(q)),
                            q.astype(float)) > 0.5
        rows.append({"utterance": row.label, "cells": w.shape,
                     "attention on quiet frames (%)": round(100 * float(w[:, columns].sum())),
                     "quiet frames (%)": round(100 * float(q.mean()))})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return {"cells": weights.shape[1:], "table": table}


def exercise_3(course, **changes) -> pd.DataFrame:
    """SpecAugment with the default masks, wider time masks, and more frequency masks, each
    paired with FCN+GAP over the five folds: do the intervals move beyond each other?"""
    store = course.features("logspec", progress=False)
    config = course.settings(10, **changes)
    variants = {"alexnet_gap": {}, "specaugment": {"specaugment": True},
                "specaugment, time width 100": {"specaugment": True,
                                                "specaugment_time_width": 100},
                "specaugment, 4 frequency masks": {"specaugment": True,
                                                   "specaugment_freq_masks": 4}}
    folders = []
    for label, extra in variants.items():
        out = course.work / "cv-specaugment" / label.replace(" ", "").replace(",", "-")
        serlib.run_cv(store, "5fold", replace(config, **extra), out, label=label,
                      progress=False, log=lambda line: None)
        folders.append(out)
    paired = serlib.report.paired_table(serlib.report.load_runs(folders))
    print(paired[["run", "dUA", "dUA_low", "dUA_high", "UA verdict"]].round(1).to_string())
    return paired


def exercise_4(course, utterances: int = 480, **changes) -> pd.DataFrame:
    """The other direction: FCN+GAP trained on (synthetic, unless ``RAVDESS_DIR``) RAVDESS
    with its checkpoints kept, then tested on the course's whole corpus; beside its own
    cross-validation on RAVDESS, to read the gap."""
    from serlib.corpora import index_corpus
    from serlib.crosscorpus import run_evaluate
    from serlib.extract import extract_features

    store = course.features("logspec", progress=False)
    root = course.stand_in("ravdess", utterances)
    index = index_corpus("ravdess", root, "ravdess-4", progress=False)
    ravdess = serlib.load_features(extract_features(
        index, replace(store.config, mixnoise=0), course.work / "features-ravdess-logspec",
        progress=False))
    config = course.settings(10, **changes)
    trained = course.work / "cv-ravdess-kept" / "alexnet_gap"
    serlib.run_cv(ravdess, "kfold", config, trained, keep_checkpoints=True, progress=False,
                  log=lambda line: None)
    cross = course.work / "cross-ravdess-to-course" / "alexnet_gap"
    run_evaluate([trained], store, cross, label="RAVDESS -> course corpus",
                 log=lambda line: None)
    rows = {}
    for name, folder in (("within RAVDESS", trained), ("on the course's corpus", cross)):
        table = serlib.report.load_runs([folder])[0].table()
        rows[name] = {"UA (%)": table["UA"].mean(), "WA (%)": table["WA"].mean()}
    out = pd.DataFrame(rows).T
    print(out.round(1).to_string())
    return out


def exercise_5(course, **changes) -> pd.DataFrame:
    """AlexNet, ResNet-18 and RegNet, all from ImageNet weights (the gpu tier, on a GPU
    with IEMOCAP), as FCN+GAP forms over the five folds, paired with AlexNet's."""
    store = course.features("logspec", progress=False)
    config = replace(serlib.tiers.TIERS["gpu"].config, **{"pretrained": True, **changes})
    folders = []
    for name in ("alexnet_gap", "resnet18_gap", "regnet_y_400mf_gap"):
        out = course.work / "cv-imagenet" / name
        serlib.run_cv(store, "5fold", replace(config, ser_model=name), out, progress=False,
                      log=lambda line: None)
        folders.append(out)
    paired = serlib.report.paired_table(serlib.report.load_runs(folders))
    print(paired[["run", "dUA", "dUA_low", "dUA_high", "UA verdict"]].round(1).to_string())
    return paired
