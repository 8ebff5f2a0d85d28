"""Training logs for TensorBoard: one run folder per fold, per-epoch scalars.

``serlib cv`` writes each fold's scalars under ``OUT/tensorboard/r<repeat>-<fold>/`` and
``serlib train`` under ``LABEL-tensorboard/``; ``tensorboard --logdir OUT/tensorboard``
(or ``%tensorboard --logdir ...`` in JupyterLab and Colab) shows them side by side. Each
epoch logs ``loss/train``, ``loss/validation``, ``accuracy/validation WA``,
``accuracy/validation UA`` and ``lr``. TensorBoard is imported only when a log is
written, so the command line starts as fast as before.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import SerlibError


def is_log_dir(path: Path) -> bool:
    """Whether ``path`` holds only TensorBoard event files (a log serlib may replace)."""
    return path.is_dir() and all(p.is_file() and p.name.startswith("events.out.tfevents.")
                                 for p in path.iterdir())


def check_log_dir(log_dir: str | os.PathLike) -> None:
    """Refuse a ``log_dir`` that holds anything but TensorBoard event files (or is a file):
    serlib empties a fold's log folder before writing it, and must never empty a folder
    of the user's."""
    path = Path(log_dir)
    if path.exists() and not is_log_dir(path):
        raise SerlibError(f"{path} exists and is not a TensorBoard log of serlib's; serlib "
                          "never replaces what it did not make: move it, choose another "
                          "label, or add --no-tensorboard")


class EpochLog:
    """Per-epoch scalars of one fold into ``log_dir`` (nothing when it is None). A folder
    left by an interrupted run of the same fold is emptied first, so that a resumed run
    does not show the interrupted epochs twice; a folder that holds anything else is
    refused (:func:`check_log_dir`)."""

    def __init__(self, log_dir: str | os.PathLike | None) -> None:
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            check_log_dir(log_dir)
            shutil.rmtree(log_dir, ignore_errors=True)
            Path(log_dir).mkdir(parents=True)
            self.writer = SummaryWriter(log_dir=str(log_dir))

    def epoch(self, epoch: int, scalars: dict[str, float]) -> None:
        """Log ``scalars`` (tag -> value) at step ``epoch``."""
        if self.writer is not None:
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, epoch)

    def close(self) -> None:
        """Write everything to disk."""
        if self.writer is not None:
            self.writer.close()
