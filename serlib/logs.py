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


class EpochLog:
    """Per-epoch scalars of one fold into ``log_dir`` (nothing when it is None). A folder
    left by an interrupted run of the same fold is emptied first, so that a resumed run
    does not show the interrupted epochs twice."""

    def __init__(self, log_dir: str | os.PathLike | None) -> None:
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

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
