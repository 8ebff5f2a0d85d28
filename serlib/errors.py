"""The errors serlib raises on bad input.

Every error the user can cause derives from :class:`SerlibError`; the command
line prints its message (which names the file and the problem) without a
traceback and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class SerlibError(Exception):
    """Base class of the errors a user can fix: bad paths, arguments or files."""


class CorpusLayoutError(SerlibError):
    """A corpus root that does not look like the corpus it was said to be."""

    def __init__(self, corpus: str, root: Path | str, expected: str, found: str) -> None:
        self.corpus, self.root, self.expected, self.found = corpus, Path(root), expected, found
        super().__init__(
            f"{root} does not look like the root folder of {corpus}.\n"
            f"  expected: {expected}\n  found:    {found}"
        )


class BadAudioError(SerlibError):
    """An audio file that cannot be used: unreadable, empty, corrupt, too short."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


class UnsafeArchiveError(SerlibError):
    """An archive with a member that would be written outside the target folder."""
