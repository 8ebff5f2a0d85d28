"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary name beside ``path`` to write to; on success it is renamed to
    ``path`` in one step (an interrupted write leaves only a dot-file, which every reader
    ignores), on failure removed. ``suffix`` keeps the extension that a writer such as
    ``numpy.save`` insists on."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
