"""Checkpoints: what training one fold gives (:class:`FoldResult`), saved and read back.

A checkpoint (``LABEL.pth``) holds the best epoch's state dict, as the thesis's code wrote
it, and everything prediction, export and evaluation need: the training and feature
configs, the classes, the scaler, the fold's speakers and scores. Only tensors and plain
data, so it loads with ``torch.load(..., weights_only=True)``; anything else is refused.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .errors import SerlibError
from .files import atomic_path
from .metrics import Evaluation
from .scaling import Scaler


@dataclass
class FoldResult:
    """What training one fold gives: the best weights, history and scores."""

    state_dict: dict[str, torch.Tensor]
    config: TrainConfig
    feature_config: dict
    classes: tuple[str, ...]
    scaler: Scaler
    val_ids: list[str]
    test_ids: list[str]
    best_epoch: int
    val: Evaluation | None
    test: Evaluation | None  # None in the checkpoints written while training goes on
    num_params: int
    history: dict[str, list[float]] = field(default_factory=dict)
    training_set_bytes: int = 0
    epochs_done: int = 0     # of config.num_epochs: fewer when training was interrupted


CHECKPOINT_FORMAT = "serlib-checkpoint"


def save_checkpoint(result: FoldResult, path: str | os.PathLike) -> Path:
    """``LABEL.pth`` as the thesis's code wrote it (the best model's state dict), plus everything
    :mod:`serlib.predict` needs; only tensors and plain data, for ``weights_only=True``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(checkpoint_payload(result), tmp)
    return path


def checkpoint_payload(result: FoldResult) -> dict:
    """What a checkpoint holds, as a dict (what :func:`load_checkpoint` returns); ``complete``
    is False for one saved while training went on (its best epoch so far, no test
    scores)."""
    return {"format": CHECKPOINT_FORMAT, "version": 1,
            "state_dict": result.state_dict, "config": asdict(result.config),
            "feature_config": result.feature_config, "classes": list(result.classes),
            "scaler": result.scaler.to_dict(), "complete": result.test is not None,
            "epochs_done": result.epochs_done or result.config.num_epochs, **summary(result)}


#: Keys every checkpoint has (what prediction, export and evaluation read).
CHECKPOINT_KEYS = ("state_dict", "config", "feature_config", "classes", "scaler")


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint with ``weights_only=True``; a pickle payload, another kind of file
    and a checkpoint that lacks what serlib needs are refused with one line."""
    path = Path(path)
    if path.is_dir():
        raise SerlibError(f"{path} is a folder, not a checkpoint (LABEL.pth)")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SerlibError(f"{path}: checkpoint not found") from None
    if size == 0:
        raise SerlibError(f"{path}: empty file (0 bytes), not a checkpoint; train again, or "
                          "give another file")
    try:
        with warnings.catch_warnings():  # torch warns about a pickle's protocol: refused anyway
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a foreign file
        # torch's own message advises loading with weights_only=False: never quoted.
        why = ("it holds Python objects that could run code when loaded" if
               "Unsupported global" in str(e) else "damaged, another kind of file, or a pickle")
        raise SerlibError(f"{path}: refused, not a plain serlib checkpoint ({why}); serlib "
                          "loads only tensors and plain data, never code") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise SerlibError(f"{path}: not a serlib checkpoint (a torch file without serlib's "
                          "format field: make checkpoints with 'serlib train')")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise SerlibError(f"{path}: a damaged serlib checkpoint (it lacks "
                          f"{', '.join(missing)}); train again")
    return ckpt


def result_from_checkpoint(ckpt: dict) -> FoldResult:
    """The :class:`FoldResult` that a complete checkpoint was saved from (what
    :func:`load_checkpoint` returns; the inverse of :func:`checkpoint_payload`)."""
    if not ckpt.get("complete"):
        raise SerlibError("the checkpoint was saved while training went on (no test scores)")

    def evaluation(data: dict | None) -> Evaluation | None:
        return None if data is None else Evaluation(
            data["wa"], data["ua"], np.asarray(data["confusion"]), data.get("loss", np.nan))

    return FoldResult(
        state_dict=ckpt["state_dict"], config=TrainConfig.from_dict(ckpt["config"]),
        feature_config=ckpt["feature_config"], classes=tuple(ckpt["classes"]),
        scaler=Scaler.from_dict(ckpt["scaler"]), val_ids=list(ckpt["val_ids"]),
        test_ids=list(ckpt["test_ids"]), best_epoch=ckpt["best_epoch"],
        val=evaluation(ckpt["val"]), test=evaluation(ckpt["test"]),
        num_params=ckpt["num_params"], history=dict(ckpt.get("history") or {}),
        epochs_done=ckpt.get("epochs_done", 0))


def is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a serlib checkpoint (for the output checks)."""
    try:
        load_checkpoint(path)
        return True
    except SerlibError:
        return False


def summary(result: FoldResult) -> dict:
    """A fold's results as plain JSON-ready data: speakers, scores, confusions, history."""

    return {"val_ids": result.val_ids, "test_ids": result.test_ids,
            "best_epoch": result.best_epoch, "num_params": result.num_params,
            "history": result.history, "val": result.val.to_dict() if result.val else None,
            "test": result.test.to_dict() if result.test else None}


def describe(result: FoldResult) -> str:
    """A one-line JSON summary of a fold (for logs and the command line)."""
    return json.dumps({"val_ids": result.val_ids, "test_ids": result.test_ids,
                       "best_epoch": result.best_epoch, "test_wa": round(result.test.wa, 4),
                       "test_ua": round(result.test.ua, 4), "num_params": result.num_params})
