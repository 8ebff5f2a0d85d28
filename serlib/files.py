"""Writing files so that a reader never sees half of one, and nothing of the user's is lost.

Every output serlib writes goes through these guards before any long work starts:

- :func:`check_writable`: the location exists or can be made, can be written, and has the
  space that is known to be needed;
- :func:`claim_folder` and :func:`claim_file`: an existing output is replaced only when it
  is serlib's own of the same kind (recognised by its marker: a store's ``meta.json``, a
  run's ``cv.json``, a report's ``report.json``, a checkpoint's or an ONNX model's own
  format field), and only when the user asked for it (``overwrite``); anything else at an
  output path is refused with one line that names it.

:class:`FileLock` lets processes that share a folder (two ``serlib cv`` on one run, a job
array) take turns; the operating system releases a lock when its holder dies, even by
SIGKILL, so a crash never leaves a fold locked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import SerlibError

try:  # POSIX; elsewhere processes are not coordinated (each lock is always granted)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


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
    except (OSError, RuntimeError) as e:
        # A full disk surfaces as ENOSPC from Python, but as a RuntimeError from torch.save
        # ("unexpected pos ..."): both become one line that says what to do.
        tmp.unlink(missing_ok=True)
        if getattr(e, "errno", None) == errno.ENOSPC or _nearly_full(path.parent):
            raise SerlibError(f"{path}: could not be written, the disk is full "
                              f"({size_text(shutil.disk_usage(path.parent).free)} free); "
                              "free some space and run the same step again") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


#: Below this much free space a failed write is put down to a full disk.
NEARLY_FULL_BYTES = 64 * 2**20


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def size_text(nbytes: float) -> str:
    """``1.5 GB``, ``820 MB``, ``12 kB``: a size for messages."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(path: str | os.PathLike, option: str, need_bytes: int = 0) -> None:
    """Raise :class:`SerlibError` (naming ``option`` and ``path``) unless ``path``, an output
    file or folder, can be written: its folder exists or can be made, a file can be
    created there, and the disk has ``need_bytes`` free. Called before long work, so that a
    read-only or full disk is found before the hours of training, not after."""
    path = Path(path)
    base = path if path.is_dir() else _nearest_existing(path.parent)
    if not base.is_dir():
        raise SerlibError(f"{option} {path}: {base} is a file, not a folder; choose another "
                          f"{option}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".serlib-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = "the disk is read-only" if e.errno == 30 else e.strerror
        raise SerlibError(f"{option} {path}: cannot write in {base} ({reason}); choose a "
                          "writable location") from None
    if need_bytes:
        free = shutil.disk_usage(base).free
        if free < need_bytes:
            raise SerlibError(f"{option} {path}: needs about {size_text(need_bytes)}, and its "
                              f"disk has {size_text(free)} free; free some space or choose "
                              "another disk")


def _sample(folder: Path, limit: int = 3) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:limit]) + (f", ... ({len(names)} entries)" if len(names) > limit
                                       else "")


def claim_folder(path: str | os.PathLike, *, ours: Callable[[Path], bool], what: str,
                 option: str = "--out") -> bool:
    """Whether ``path`` holds serlib's own ``what`` (True), or is new or empty (False, and
    safe to write); anything else there (a file, a folder of the user's) is refused with a
    :class:`SerlibError` that names it. ``ours(folder)`` recognises the kind by its
    marker."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_dir():
        raise SerlibError(f"{option} {path} is a file, not a folder for {what}; serlib never "
                          f"replaces what it did not make: choose another {option}")
    if ours(path):
        return True
    if not any(path.iterdir()):
        return False
    raise SerlibError(f"{option} {path} holds files that serlib did not make "
                      f"({_sample(path)}), not {what}; serlib never writes over them: choose "
                      f"a new or empty folder")


def claim_file(path: str | os.PathLike, *, ours: Callable[[Path], bool], what: str,
               option: str, overwrite: bool = False) -> bool:
    """Whether ``path`` exists and may be replaced: False when it is new; True when it is
    serlib's own ``what`` and ``overwrite`` is asked; otherwise a :class:`SerlibError`
    naming it (another kind of file is never replaced, even with ``--overwrite``)."""
    path = Path(path)
    if not path.exists():
        return False
    if path.is_dir():
        raise SerlibError(f"{option} {path} is a folder; give a file name for {what}")
    if not ours(path):
        raise SerlibError(f"{option} {path} exists and is not {what} made by serlib; serlib "
                          f"never replaces what it did not make: choose another {option}")
    if not overwrite:
        raise SerlibError(f"{option} {path} holds {what} already: add --overwrite to replace "
                          f"it, or choose another {option}")
    return True


def remove_own(path: str | os.PathLike, marker: str) -> None:
    """Remove a temporary folder of serlib's (``.NAME.writing``, ``.NAME.old``) when it is
    empty or carries ``marker``; leave anything else alone and refuse."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir() and (not any(path.iterdir()) or (path / marker).exists()):
        shutil.rmtree(path)
        return
    raise SerlibError(f"{path} is in the way of serlib's temporary files and is not one of "
                      "them: move it elsewhere")


class FileLock:
    """An advisory lock on ``path`` (created empty, never removed: a lock file that
    disappeared under a holder would let two processes hold "the same" lock).

    ``acquire(blocking=False)`` returns whether the lock was taken; the operating system
    releases it when the holder exits or dies. Where the file system cannot lock (some
    network file systems), every lock is granted and processes are not coordinated.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; without ``blocking``, False at once when another process holds
        it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError:  # no locking on this file system: go on uncoordinated
                pass
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next process take it."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock now (without taking it)."""
        if not self.path.exists() or fcntl is None:
            return False
        if self.acquire(blocking=False):
            self.release()
            return False
        return True

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc) -> None:
        self.release()
