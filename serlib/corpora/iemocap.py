"""IEMOCAP: parse ``IEMOCAP_full_release`` into the utterance table.

Labels come from the summary lines of ``SessionN/dialog/EmoEvaluation/<dialog>.txt``::

    [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]

and each utterance's audio is ``SessionN/sentences/wav/<dialog>/<utt_id>.wav``.
The speaker is the session digit and the gender letter of the utterance suffix
(``Ses01F_impro01_M000`` is speaker ``1M``): the letter in the dialog name only
says who wore the motion-capture markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusLayoutError
from .labels import IEMOCAP_CODES, PRESETS, LabelPreset, get_preset
from .spec import CorpusSpec
from .synth import IEMOCAP_LAYOUT
from .table import CorpusIndex, Problem, is_litter, list_dir, make_table, probe_rows

SUMMARY_LINE = re.compile(
    r"^\[\s*(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\s*\]\s+(?P<utt>\S+)\s+(?P<emo>[a-z]{3})\s+"
    r"\[\s*(?P<val>[-\d.]+)\s*,\s*(?P<act>[-\d.]+)\s*,\s*(?P<dom>[-\d.]+)\s*\]"
)
# Session number, dialog (any suffixes: impro05b, script01_1) and the speaker's gender letter.
UTTERANCE_ID = re.compile(r"^Ses(?P<session>\d+)[FM]_(?P<dialog_rest>.+)_(?P<gender>[FM])\d+$")
SESSION_DIR = re.compile(r"^Session(\d+)$")

EXPECTED = ("SessionN/dialog/EmoEvaluation/<dialog>.txt label files and "
            "SessionN/sentences/wav/<dialog>/<utt_id>.wav audio (the IEMOCAP_full_release folder)")

EXTRA_COLUMNS = ["dialog", "improvised", "start_s", "end_s", "valence", "arousal", "dominance"]


def read_label_file(path: Path) -> list[dict]:
    """Parse the summary lines of one EmoEvaluation file; every other line is ignored.

    Returns one dict per utterance with utt_id, emotion, start_s, end_s,
    valence, arousal and dominance.
    """
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = SUMMARY_LINE.match(line)
        if m:
            rows.append({"utt_id": m["utt"], "emotion": m["emo"],
                         "start_s": float(m["start"]), "end_s": float(m["end"]),
                         "valence": float(m["val"]), "arousal": float(m["act"]),
                         "dominance": float(m["dom"])})
    return rows


def find_label_files(root: Path) -> list[Path]:
    """The dialog label files of every session, skipping sub-folders and dot-files.

    Raises :class:`CorpusLayoutError` when ``root`` is not IEMOCAP's root.
    """
    root = Path(root)
    sessions = sorted(p for p in root.iterdir() if p.is_dir() and SESSION_DIR.match(p.name)) \
        if root.is_dir() else []
    if not sessions:
        found = list_dir(root)
        if (root / "IEMOCAP_full_release").is_dir():
            found += " (did you mean its IEMOCAP_full_release/ sub-folder?)"
        elif (root / "wav").is_dir():
            found += " (this looks like emoDB: use --corpus emodb)"
        raise CorpusLayoutError("IEMOCAP", root, EXPECTED, found)
    files = [f for s in sessions
             for f in sorted((s / "dialog" / "EmoEvaluation").glob("*.txt"))
             if f.is_file() and not is_litter(f)]
    if not files:
        raise CorpusLayoutError("IEMOCAP", root, EXPECTED,
                                f"{', '.join(s.name for s in sessions)} without label files in "
                                "dialog/EmoEvaluation/")
    return files


def index_iemocap(root: str | Path, preset: str | LabelPreset | None = None, *,
                  progress: bool = True) -> CorpusIndex:
    """Index IEMOCAP: the utterance table of the utterances the preset keeps.

    ``preset`` defaults to ``improvised-4`` (the thesis's four classes, improvised
    dialogs only). Utterances whose wav is missing or unusable are reported in
    ``problems`` and left out.
    """
    root = Path(root)
    preset = get_preset("iemocap", preset)
    problems: list[Problem] = []
    rows, excluded = [], 0
    for label_file in find_label_files(root):
        session_dir = label_file.parents[2]
        dialog = label_file.stem
        for row in read_label_file(label_file):
            m = UTTERANCE_ID.match(row["utt_id"])
            if m is None:
                problems.append(Problem(str(label_file),
                                        f"utterance id {row['utt_id']!r} is not in IEMOCAP's form"))
                continue
            improvised = "impro" in dialog
            label_id = preset.label_id(row["emotion"])
            if label_id is None or (preset.improvised_only and not improvised):
                excluded += 1
                continue
            session = int(m["session"])
            rows.append({**row, "path": str(session_dir / "sentences" / "wav" / dialog /
                                            f"{row['utt_id']}.wav"),
                         "speaker": f"{session}{m['gender']}", "session": session,
                         "gender": m["gender"], "label": preset.classes[label_id],
                         "label_id": label_id, "dialog": dialog, "improvised": improvised})
    rows = list(probe_rows(rows, problems, desc="IEMOCAP", progress=progress))
    return CorpusIndex("iemocap", root, preset, make_table(rows, EXTRA_COLUMNS), problems,
                       excluded)


SPEC = CorpusSpec(
    name="iemocap", title="IEMOCAP", index=index_iemocap, codes=IEMOCAP_CODES,
    presets={n: p for n, p in PRESETS.items() if p.corpus == "iemocap"},
    default_preset="improvised-4", env_var="IEMOCAP_DIR", speaker_scheme="sessions",
    synth=IEMOCAP_LAYOUT, expected=EXPECTED, notes="5 sessions of 2 speakers (1F .. 5M)")
