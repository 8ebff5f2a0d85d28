"""Cross-corpus evaluation: a model trained on one store, tested on every speaker of another.

``serlib evaluate STORE --checkpoint LABEL.pth`` (or a ``serlib cv --keep-checkpoints``
folder of ``fold-*.pth``) scores each checkpoint on all of ``STORE``'s utterances with the
training store's scaler (or, for a model trained with ``--scaler speaker``, each speaker's
own), and writes the same fold files as ``serlib cv``, so that ``serlib report`` puts
them in its tables and figures. The two stores must share their class names (the order may
differ) and the feature parameters that shape a segment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .errors import SerlibError
from .metrics import Evaluation, evaluate_utterances
from .runs import DamagedFold, fold_path, prepare_out, read_fold, run_identity, write_fold
from .store import FeatureStore

#: Feature parameters that do not change a clean segment (the noisy copies, their seed, and
#: the precision the store keeps).
IRRELEVANT = ("mixnoise", "noise", "seed", "dtype")
FOLD_FILE = re.compile(r"^fold-r(?P<repeat>\d+)-(?P<fold>.+)$")


def checkpoint_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Checkpoint files from files and ``serlib cv --keep-checkpoints`` folders."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("fold-*.pth"))
            if not found:
                raise SerlibError(f"{p}: no fold-*.pth checkpoints (run 'serlib cv' with "
                                  "--keep-checkpoints)")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise SerlibError(f"{p}: checkpoint not found")
    return files


def class_order(model_classes: tuple[str, ...], store: FeatureStore, name: str) -> np.ndarray:
    """For each of the store's classes, its column in the model's output; a
    :class:`SerlibError` when the two sets of class names differ."""
    if set(model_classes) != set(store.classes):
        raise SerlibError(
            f"{name} was trained on the classes {list(model_classes)}, but {store.path} has "
            f"{list(store.classes)}; extract the store with a preset of the same classes "
            "(e.g. emodb-4 or ravdess-4 for IEMOCAP's four)")
    return np.array([model_classes.index(c) for c in store.classes])


def check_features(trained: dict, store: FeatureStore, name: str) -> None:
    """Raise :class:`SerlibError` naming each feature parameter in which ``store`` differs
    from the one the model was trained on."""
    ours = store.config.to_dict()
    differ = [f"{k} {trained.get(k)!r} vs {ours.get(k)!r}" for k in sorted(set(ours) | set(trained))
              if k not in IRRELEVANT and trained.get(k) != ours.get(k)]
    if differ:
        raise SerlibError(f"{name} was trained on other features than {store.path} holds: "
                          f"{'; '.join(differ)}; extract the store with the same parameters")


def evaluate_checkpoint(checkpoint, store: FeatureStore, name: str = "the model",
                        device: str = "cpu") -> Evaluation:
    """WA, UA and confusion (in the store's class order) of a checkpoint (a path, a loaded
    dict or a :class:`~serlib.checkpoints.FoldResult`) on every utterance of ``store``."""
    from .predict import Predictor

    predictor = Predictor(checkpoint, device)
    columns = class_order(predictor.classes, store, name)
    check_features(predictor.features.to_dict(), store, name)
    log_probs, num_segs, labels = [], [], []
    for speaker in sorted(store):
        data = store[speaker]
        scaler = predictor.scaler_for(data.segments)  # the training speakers', or their own
        log_probs.append(predictor._log_probs(data.segments, scaler)[:, columns])
        num_segs.append(data.num_segs)
        labels.append(data.utt_labels)
    seg = np.concatenate(log_probs)
    utt_labels = np.concatenate(labels)
    seg_labels = np.repeat(utt_labels, np.concatenate(num_segs))
    loss = float(-np.mean(seg[np.arange(len(seg)), seg_labels]))
    return evaluate_utterances(seg, np.concatenate(num_segs), utt_labels, len(store.classes),
                               loss)


def run_evaluate(checkpoints: list[str | os.PathLike], store: FeatureStore,
                 out: str | os.PathLike, *, label: str | None = None, device: str = "cpu",
                 log=print) -> list[Path]:
    """Evaluate each checkpoint on ``store`` and write ``serlib cv``-style fold files into
    ``out`` (one per checkpoint; a checkpoint ``fold-r0-1M.pth`` keeps its fold name and
    repeat); returns their paths. Finished ones are skipped, as in ``serlib cv``."""
    from .checkpoints import load_checkpoint
    from .config import TrainConfig
    from .cv import run_label

    out = Path(out)
    files = checkpoint_files(checkpoints)
    first = load_checkpoint(files[0])
    config = TrainConfig.from_dict(first["config"])
    identity = run_identity(store, "cross-corpus", config)
    keys = []
    for path in files:
        m = FOLD_FILE.match(path.stem)
        keys.append((m["fold"], int(m["repeat"])) if m else (path.stem, 0))
    prepare_out(out, identity, label or f"{run_label(config)} on {store.path.name}",
                list(store), planned=[f"r{repeat}-{fold}" for fold, repeat in keys])
    written = []
    for path, (fold, repeat) in zip(files, keys, strict=True):
        target = fold_path(out, f"r{repeat}-{fold}")
        if target.exists():
            try:
                read_fold(target)
                written.append(target)
                continue
            except DamagedFold as e:
                log(f"{e}; evaluating it again")
        ckpt = load_checkpoint(path)
        other = {k: v for k, v in ckpt["config"].items() if k != "seed"}
        if other != {k: v for k, v in first["config"].items() if k != "seed"}:
            raise SerlibError(f"{path} was trained with other settings than {files[0]}: "
                              "evaluate the checkpoints of one run at a time")
        ev = evaluate_checkpoint(ckpt, store, str(path), device)
        log(f"{path.name}: {store.path.name} ({len(store)} speakers) WA {ev.wa:.3f} "
            f"UA {ev.ua:.3f}")
        written.append(write_fold(out, f"r{repeat}-{fold}", {
            "fold": fold, "repeat": repeat, "seed": ckpt["config"]["seed"],
            "classes": list(store.classes), "model": config.ser_model,
            "config": ckpt["config"], "val_ids": [], "test_ids": sorted(store),
            "trained_test_ids": ckpt.get("test_ids", []), "best_epoch": ckpt.get("best_epoch"),
            "num_params": ckpt.get("num_params"), "history": {}, "val": None,
            "test": ev.to_dict()}))
    return written
