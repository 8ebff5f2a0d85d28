"""Baselines on the same folds as the CNNs: the majority class, and eGeMAPS with a linear model.

A CNN's accuracy means little alone. Two references, run by ``serlib cv``
(``--ser_model majority`` or ``acoustic``) and written to the same fold files,
so that ``serlib report`` puts them in the same table and figures:

- ``majority``: always the most frequent class of the training speakers'
  utterances. Its WA is that class's share of the test set, its UA is chance
  (1/K): a CNN that answers one class for everything does no better.
- ``acoustic``: the field's standard hand-crafted baseline, the 88 eGeMAPSv02
  functionals per utterance (Eyben et al., 2016, "The Geneva Minimalistic
  Acoustic Parameter Set") from openSMILE, standardised on the training
  speakers and classified by a class-balanced logistic regression
  (scikit-learn). It needs the ``opensmile`` package (``pip install
  "serlib[acoustic]"``) and the corpus's audio, which the store records.

The functionals are computed once per store and cached beside it
(``egemaps.npy``, ``(U, 88)`` float32 in the store's utterance order).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .config import BASELINES, TrainConfig
from .errors import SerlibError
from .files import atomic_path
from .metrics import Evaluation, evaluate_utterances
from .store import FeatureStore

if TYPE_CHECKING:
    import pandas as pd

    from .cv import Fold

__all__ = ["BASELINES", "BASELINE_MODELS", "Baseline", "egemaps", "fit_baseline",
           "split_scores"]

FEATURE_SET = "eGeMAPSv02"
CACHE = "egemaps.npy"
#: Inverse regularisation strength of the logistic regression: scikit-learn's default.
ACOUSTIC_C = 1.0


def _smile(jobs: int | None = None):
    try:
        import opensmile
    except ImportError:
        raise SerlibError("the acoustic baseline needs openSMILE: pip install "
                          "\"serlib[acoustic]\" (or pip install opensmile)") from None
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals,
                           num_workers=jobs or os.cpu_count() or 1)


def egemaps(store: FeatureStore, *, jobs: int | None = None) -> np.ndarray:
    """The eGeMAPSv02 functionals of every utterance of ``store``, ``(U, 88)`` float32 in the
    store's order (speaker by speaker), from the cache beside the store when it is there."""
    cache = store.path / CACHE
    if cache.is_file():
        values = np.load(cache, allow_pickle=False)
        if values.shape[0] == store.meta["num_utterances"]:
            return values
    paths = store.audio_paths()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SerlibError(f"the acoustic baseline reads the corpus's audio, and {missing[0]} "
                          f"is not there ({len(missing)} of {len(paths)} files missing): the "
                          f"corpus of {store.path} has moved or is gone")
    table = _smile(jobs).process_files([str(p) for p in paths])
    values = table.to_numpy(np.float32)
    try:  # the store may be read-only: the cache is a convenience, not a need
        with atomic_path(cache, ".tmp.npy") as tmp:
            np.save(tmp, values)
        (store.path / "egemaps.json").write_text(json.dumps(
            {"feature_set": FEATURE_SET, "columns": list(table.columns)}, indent=1))
    except OSError:
        pass
    return values


def _speaker_rows(store: FeatureStore, speakers: list[str]) -> np.ndarray:
    """Row numbers of ``speakers``' utterances in the store's utterance order."""
    return np.concatenate([np.arange(*store.meta["speakers"][s]) for s in speakers])


def _labels(store: FeatureStore, speakers: list[str]) -> np.ndarray:
    return np.concatenate([store[s].utt_labels for s in speakers])


def _evaluate(log_probs: np.ndarray, labels: np.ndarray, num_classes: int) -> Evaluation:
    """Utterance-level WA, UA, confusion and mean negative log-likelihood."""
    loss = float(-np.mean(log_probs[np.arange(len(labels)), labels]))
    return evaluate_utterances(log_probs, np.ones(len(labels), dtype=np.int64), labels,
                               num_classes, loss)


@dataclass(frozen=True)
class Baseline:
    """A baseline as a scikit-learn estimator beside the CNNs: ``make()`` gives a fresh
    estimator with ``fit(x, y)`` and ``predict_proba(x)``, ``inputs(store)`` its input per
    utterance ``(U, D)`` in the store's order."""

    make: Callable[[], object]
    inputs: Callable[[FeatureStore], np.ndarray]


def _no_inputs(store: FeatureStore) -> np.ndarray:
    """The majority class needs no input: one empty column per utterance ``(U, 1)``."""
    return np.zeros((store.meta["num_utterances"], 1), dtype=np.float32)


def _acoustic_model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(
        C=ACOUSTIC_C, class_weight="balanced", max_iter=5000))


def _majority_model():
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior")  # the training prior; argmax: the majority


#: The baselines by name (``--ser_model majority``); :data:`serlib.config.BASELINES` lists
#: the same names for the configuration, which must not import scikit-learn.
BASELINE_MODELS: dict[str, Baseline] = {
    "majority": Baseline(_majority_model, _no_inputs),
    "acoustic": Baseline(_acoustic_model, egemaps),
}


def _num_params(model) -> int:
    """The fitted parameters of a linear model (coefficients and intercepts); 0 for a prior."""
    last = model[-1] if hasattr(model, "steps") else model
    return int(last.coef_.size + last.intercept_.size) if hasattr(last, "coef_") else 0


def fit_baseline(store: FeatureStore, config: TrainConfig, train_ids: list[str],
                 val_ids: list[str], test_ids: list[str]) -> tuple[Evaluation | None, Evaluation,
                                                                   int]:
    """Fit ``config.ser_model`` (a name of :data:`BASELINE_MODELS`) on the training speakers'
    utterances; returns the validation and test evaluations and the number of fitted
    parameters."""
    spec, k = _baseline(config.ser_model), len(store.classes)
    x, y, train = spec.inputs(store), _all_labels(store), _speaker_rows(store, train_ids)
    model = spec.make().fit(x[train], y[train])

    def evaluate(speakers: list[str]) -> Evaluation:
        return _evaluate_rows(model, x, y, _speaker_rows(store, speakers), k)

    val = evaluate(val_ids) if val_ids else None
    return val, evaluate(test_ids), _num_params(model)


def _baseline(name: str) -> Baseline:
    """The baseline registered as ``name``; a :class:`SerlibError` listing them otherwise."""
    if name not in BASELINE_MODELS:
        raise SerlibError(f"{name!r} is not a baseline; baselines: {list(BASELINE_MODELS)}")
    return BASELINE_MODELS[name]


def _all_labels(store: FeatureStore) -> np.ndarray:
    """Every utterance's label ``(U,)`` in the store's order (the rows of ``inputs``)."""
    return _labels(store, sorted(store, key=lambda s: store.meta["speakers"][s][0]))


def _evaluate_rows(model, x: np.ndarray, y: np.ndarray, rows: np.ndarray, k: int) -> Evaluation:
    """A fitted baseline on the utterances ``rows``; classes unseen in training get 0."""
    proba = np.zeros((len(rows), k))
    proba[:, model.classes_] = model.predict_proba(x[rows])
    return _evaluate(np.log(np.maximum(proba, 1e-12)), y[rows], k)


def split_scores(store: FeatureStore, folds: Sequence[Fold], *, draws: int = 20,
                 seed: int = 0, model: str = "acoustic") -> pd.DataFrame:
    """The baseline ``model`` on each speaker fold of ``folds``, and on ``draws`` random
    utterance splits of the same sizes: what a split that ignores the speakers reports.

    Each random split of a fold draws, class by class, a test set of as many utterances as
    the fold's test speakers have of that class, from all the utterances, and a training set
    of as many as its training speakers have (every speaker but the test and validation
    ones), from the rest; so the speakers of the test utterances also speak in the training
    set. Only the split differs: the model, its inputs, and the number of utterances of each
    class in each set (and so what WA and UA weigh) are the same. One row per split and fold:
    ``split`` (``speaker`` or ``random``), ``draw`` (0 for the speaker split, 1 ..
    ``draws`` for the random ones), ``fold``, ``WA`` and ``UA`` in %.
    """
    import pandas as pd

    from .train import check_speakers

    spec, k = _baseline(model), len(store.classes)
    x, y = spec.inputs(store), _all_labels(store)
    rng = np.random.default_rng(seed)
    rows = []

    def score(split: str, draw: int, fold: Fold, train: np.ndarray, test: np.ndarray) -> None:
        result = _evaluate_rows(spec.make().fit(x[train], y[train]), x, y, test, k)
        rows.append({"split": split, "draw": draw, "fold": fold.name,
                     "WA": 100 * result.wa, "UA": 100 * result.ua})

    counts = {}
    for fold in folds:
        train_ids = check_speakers(store, list(fold.val_ids), list(fold.test_ids))
        train, test = _speaker_rows(store, train_ids), _speaker_rows(store, list(fold.test_ids))
        counts[fold] = np.bincount(y[train], minlength=k), np.bincount(y[test], minlength=k)
        score("speaker", 0, fold, train, test)
    for draw in range(1, draws + 1):
        for fold in folds:
            train, test = [], []
            for c, (num_train, num_test) in enumerate(zip(*counts[fold], strict=True)):
                order = rng.permutation(np.flatnonzero(y == c))
                test.append(order[:num_test])
                train.append(order[num_test:num_test + num_train])
            score("random", draw, fold, np.concatenate(train), np.concatenate(test))
    return pd.DataFrame(rows)
