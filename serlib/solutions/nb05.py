"""Notebook 5, mixup and oversampling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

import serlib

RUNS = {"FCN+GAP": {}, "FCN+GAP + mixup": {"mixup": True},
        "FCN+GAP + oversampling": {"oversampling": True}}


def _ua(course, config) -> float:
    store = course.features("logspec", progress=False)
    return course.train_fold(store, config, log=lambda line: None).test.ua


def exercise_1(course, seeds=(111, 112, 113), **changes) -> pd.DataFrame:
    """The three runs with three seeds: test UA (%) per run and seed, and each run's
    difference from FCN+GAP. A difference survives only if it keeps its sign at every
    seed; with one test speaker and three seeds that is a hint, not a finding."""
    config = course.settings(5, **changes)
    table = pd.DataFrame({name: {seed: 100 * _ua(course, replace(config, seed=seed, **extra))
                                 for seed in seeds} for name, extra in RUNS.items()})
    print(table.round(1).to_string())
    for name in list(RUNS)[1:]:
        diff = table[name] - table["FCN+GAP"]
        kept = "keeps its sign" if (diff > 0).all() or (diff < 0).all() else "changes sign"
        print(f"{name} - FCN+GAP: {', '.join(f'{d:+.1f}' for d in diff)}: {kept}")
    return table


def exercise_2(course, **changes) -> pd.Series:
    """Classic mixup (one lambda per batch) and a larger alpha (1.0: lambda uniform),
    beside the thesis's mixup; test UA (%) of one seed each."""
    config = course.settings(5, mixup=True, **changes)
    variants = {"thesis, alpha 0.4": {}, "classic": {"mixup_mode": "classic"},
                "thesis, alpha 1.0": {"mixup_alpha": 1.0}}
    scores = pd.Series({name: 100 * _ua(course, replace(config, **extra))
                        for name, extra in variants.items()}, name="test UA (%)")
    print(scores.round(1).to_string())
    return scores


def exercise_3(course, batch_size: int = 32) -> dict:
    """Mixing only images of the same class: the mixed targets are the original one-hot
    labels, so no soft label is left. It is still an interpolation of inputs, a kind of
    augmentation, but not mixup's regularisation, which comes from training on mixed
    targets between classes."""
    store = course.features("logspec", progress=False)
    speaker = course.fold[1]
    x = torch.tensor(np.asarray(store[speaker].segments[:batch_size]), dtype=torch.float32)
    y = torch.tensor(np.asarray(store[speaker].seg_labels[:batch_size]), dtype=torch.long)
    rng = np.random.default_rng(0)
    # A permutation within each class: every sample is mixed with one of its own class.
    perm = torch.arange(len(y))
    for k in y.unique():
        members = torch.nonzero(y == k).flatten()
        perm[members] = members[torch.from_numpy(rng.permutation(len(members)))]
    lam = torch.from_numpy(rng.beta(0.4, 0.4, len(y)).astype(np.float32))
    onehot = serlib.transforms.one_hot(y, len(store.classes))
    targets = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[perm]
    mixed_x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
    soft = int(((targets > 0) & (targets < 1)).any(dim=1).sum())
    changed = int((mixed_x != x).flatten(1).any(dim=1).sum())
    print(f"{changed} of {len(y)} inputs changed, {soft} soft targets: still one-hot labels")
    return {"soft_targets": soft, "changed_inputs": changed}
