"""The utterance table: one row per utterance, shared by every corpus."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..audio import AUDIO_SUFFIXES, OTHER_AUDIO_SUFFIXES, probe_audio
from ..errors import BadAudioError, CorpusLayoutError
from ..files import atomic_path
from .labels import LabelPreset

#: Columns every corpus's table starts with, in this order.
BASE_COLUMNS = ["utt_id", "path", "speaker", "session", "gender", "emotion", "label",
                "label_id", "duration_s", "sample_rate", "channels"]


@dataclass(frozen=True)
class Problem:
    """A file that was left out, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class CorpusIndex:
    """The result of indexing a corpus.

    ``table`` has one row per usable utterance (columns :data:`BASE_COLUMNS`
    and the corpus's own), ``classes`` the class names in ``label_id`` order,
    ``problems`` the files left out with their reasons, and ``excluded`` the
    number of labelled utterances the preset leaves out (other emotions, or
    scripted dialogs under an improvised-only preset). ``warnings`` are things that
    look wrong but are kept, such as a label that is probably a typo.
    """

    corpus: str
    root: Path
    preset: LabelPreset
    table: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    excluded: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.preset.classes

    def counts(self) -> pd.DataFrame:
        """Utterances per speaker (rows) and class (columns), with totals."""
        counts = pd.crosstab(self.table["speaker"],
                             pd.Categorical(self.table["label"], categories=list(self.classes)),
                             margins=True, margins_name="total", dropna=False)
        counts.columns.name, counts.index.name = "class", "speaker"
        return counts

    def summary(self) -> str:
        """A printable summary: counts per speaker and class, hours, problems and
        warnings."""
        hours = self.table["duration_s"].sum() / 3600 if len(self.table) else 0.0
        lines = [f"{self.corpus} at {self.root}, preset {self.preset.name}: "
                 f"{len(self.table)} utterances, {hours:.2f} h "
                 f"({self.excluded} labelled utterances outside the preset)",
                 self.counts().to_string()]
        if self.problems:
            lines.append(f"{len(self.problems)} file(s) left out:")
            lines += [f"  {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the table as CSV (atomically) and return its path."""
        path = Path(path)
        with atomic_path(path) as tmp:
            self.table.to_csv(tmp, index=False)
        return path


def probe_rows(rows: Iterable[dict], problems: list[Problem], *, desc: str,
               progress: bool = True) -> Iterator[dict]:
    """Add duration, sample rate and channels to each row read from its ``path``.

    Rows whose audio is missing, empty or unreadable are left out and recorded
    in ``problems`` with the reason.
    """
    rows = list(rows)
    for row in tqdm(rows, desc=desc, unit="file", disable=not progress or len(rows) < 200):
        path = Path(row["path"])
        if not path.exists():
            problems.append(Problem(str(path), "labelled, but the wav file is missing"))
            continue
        try:
            info = probe_audio(path)
        except BadAudioError as e:
            problems.append(Problem(str(path), e.reason))
            continue
        if info.truncated:
            problems.append(Problem(str(path), f"truncated: the header promises "
                                               f"{info.promised_frames / info.sample_rate:.2f} "
                                               f"s, the file holds {info.duration_s:.2f} s"))
            continue
        yield {**row, "duration_s": round(info.duration_s, 4),
               "sample_rate": info.sample_rate, "channels": info.channels}


def other_audio_problem(path: Path, corpus: str) -> Problem | None:
    """A problem for an audio file that a corpus of ``.wav`` files leaves out (another
    format: converted, or copied from elsewhere), so that it is reported, not silently
    skipped; ``None`` for a ``.wav`` file and for anything that is not audio."""
    suffix = path.suffix.lower()
    if suffix == ".wav" or suffix not in (*AUDIO_SUFFIXES, *OTHER_AUDIO_SUFFIXES):
        return None
    return Problem(str(path), f"{corpus}'s files are .wav; this {suffix} file is left out "
                              f"(convert it to wav, e.g. ffmpeg -i {path.name} "
                              f"{path.with_suffix('.wav').name})")


def scan(corpus: str, files: Iterable[Path], parse: Callable[[Path], dict | str | None],
         preset, *, progress: bool = True) -> tuple[list[dict], list[Problem], int]:
    """The indexer of a corpus whose labels are in its file names: ``(rows, problems,
    excluded)`` for ``files``.

    Dot-files are skipped, audio in another format than wav is reported
    (:func:`other_audio_problem`), and each wav is read by the corpus's ``parse(path)``,
    which returns the row's fields (``speaker``, ``session``, ``gender``, ``emotion``: the
    corpus's own code, and any extra columns), a string saying why the file is not an
    utterance of the corpus (reported), or ``None`` for a file the corpus keeps apart
    (RAVDESS's songs: counted as excluded). A row whose emotion ``preset`` leaves out is
    excluded too; the others get their ``label`` and are probed (:func:`probe_rows`).
    """
    rows, problems, excluded = [], [], 0
    for path in files:
        if is_litter(path):
            continue
        if not path.name.lower().endswith(".wav"):
            problem = other_audio_problem(path, corpus)
            if problem:
                problems.append(problem)
            continue
        fields = parse(path)
        if isinstance(fields, str):
            problems.append(Problem(str(path), fields))
            continue
        label_id = None if fields is None else preset.label_id(fields["emotion"])
        if label_id is None:
            excluded += 1
            continue
        rows.append({"utt_id": path.stem, "path": str(path), **fields,
                     "label": preset.classes[label_id], "label_id": label_id})
    return list(probe_rows(rows, problems, desc=corpus, progress=progress)), problems, excluded


def rare_label_warnings(counts: Mapping[str, int], kind: str = "class") -> list[str]:
    """Warnings for labels that are probably typos: a label with very few utterances
    beside the others (at most 2, or under 2 % of the largest, while the largest has at
    least 5 times as many), or whose name is close to that of a label with at least 3 times
    as many (difflib, case-insensitive). Each lists every label with its count:
    ``class 'nuetral' has 1 utterance; did you mean 'neutral'? classes: anger 10, ...``."""
    if len(counts) < 2:
        return []
    largest = max(counts.values())
    listing = ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))
    out = []
    for label, n in sorted(counts.items()):
        bigger = {other.lower(): other for other, m in counts.items() if m >= 3 * n}
        close = difflib.get_close_matches(label.lower(), list(bigger), n=1, cutoff=0.75)
        rare = (n <= 2 or n < 0.02 * largest) and largest >= 5 * n
        if not (rare or close):
            continue
        text = f"{kind} {label!r} has {n} utterance{'' if n == 1 else 's'}"
        text += f"; did you mean {bigger[close[0]]!r}?" if close else \
            ", far fewer than the others (a typo in its label?);"
        out.append(f"{text} {'classes' if kind == 'class' else kind + 's'}: {listing}")
    return out


def make_table(rows: list[dict], extra_columns: list[str]) -> pd.DataFrame:
    """Build the table with :data:`BASE_COLUMNS` first, sorted by utterance id.

    ``session`` is an integer column; a corpus without sessions (RAVDESS, CREMA-D,
    TESS) leaves it empty (``<NA>``, pandas' nullable ``Int64``).
    """
    columns = BASE_COLUMNS + extra_columns
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values("utt_id", kind="stable").reset_index(drop=True)
    session = int if table["session"].notna().all() else "Int64"
    return table.astype({"session": session, "label_id": int, "sample_rate": int,
                         "channels": int})


def is_litter(path: Path) -> bool:
    """Dot-files (macOS ``._*`` forks, ``.DS_Store``, our own ``.tmp`` files): never data."""
    return path.name.startswith(".")


def named_folders(root: Path, pattern: re.Pattern, corpus: str, expected: str) -> list[Path]:
    """The sub-folders of ``root`` whose names match ``pattern`` (RAVDESS's ``Actor_01``,
    TESS's ``OAF_angry``), sorted; a :class:`CorpusLayoutError` when there are none, which
    points to a sub-folder that holds them (an archive unpacked one level down)."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and pattern.match(p.name)) \
        if root.is_dir() else []
    if folders:
        return folders
    found = list_dir(root)
    nested = [p.name for p in root.iterdir() if p.is_dir() and not is_litter(p) and any(
        pattern.match(q.name) for q in p.iterdir() if q.is_dir())] if root.is_dir() else []
    if nested:
        found += f" (did you mean its {nested[0]}/ sub-folder?)"
    raise CorpusLayoutError(corpus, root, expected, found)


def list_dir(path: Path, limit: int = 8) -> str:
    """A short description of what a folder holds, for layout errors."""
    if not path.exists():
        return "the folder does not exist"
    if not path.is_dir():
        return "a file, not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    if not names:
        return "an empty folder"
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
