"""Your own recordings: a folder of audio files and their labels, as the corpus ``folder``.

Two ways to say who speaks and what each file's label is:

1. A CSV file, ``labels.csv`` in the root (or any file given as ``labels=``,
   ``--labels`` on the command line), with a header and the columns ``path``
   (relative to the root, or absolute), ``speaker`` and ``label``, and
   optionally ``gender`` (M/F, male/female; anything else is unknown, ``U``) and
   ``session`` (an integer)::

       path,speaker,label,gender
       alice/001.wav,alice,happy,F
       bob/take2.wav,bob,angry,M

2. Without a CSV: one sub-folder per label (``root/<label>/...``, nested
   folders allowed), and the speaker is the first token of the file name before
   ``_`` or ``-`` (``angry/bob_take2.wav`` is speaker ``bob``); a file name
   without either is reported and left out. Genders are then unknown.

The classes are the labels of the usable files, sorted, or the classes of a preset string
``"raw=class,..."`` that maps raw labels (those it leaves out are excluded).
The formats of :data:`serlib.audio.AUDIO_SUFFIXES` are read (wav, flac, ogg, mp3, ...:
the same as ``serlib predict``); other audio such as m4a is reported in ``problems``,
and dot-files are ignored. A CSV that is not UTF-8, without a required column, or with
an empty path, speaker or label, or a gender or session that cannot be read, is an
error naming the file and the line; a listed file that is missing or unusable is
reported in ``problems`` and left out. A label with very few utterances beside the
others, or named like a frequent one (``nuetral`` beside ``neutral``), is probably a
typo: it is kept, with a warning in ``warnings`` that lists every label and its count.
Speaker ids are used as they are, so the speaker protocols apply (``kfold``,
``loso-speaker``).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ..audio import AUDIO_SUFFIXES, unreadable_audio_reason
from ..errors import CorpusLayoutError, SerlibError
from .labels import LabelPreset, parse_mapping
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, studio_channels, vary
from .table import (
    CorpusIndex,
    Problem,
    is_litter,
    list_dir,
    make_table,
    probe_rows,
    rare_label_warnings,
)

LABELS_CSV = "labels.csv"
REQUIRED = ("path", "speaker", "label")
OPTIONAL = ("session", "gender")
GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F", "u": "U", "unknown": "U", "": "U"}
SPEAKER_TOKEN = re.compile(r"^([^_-]+)[_-]")

EXPECTED = ("labels.csv (columns path, speaker, label; optional gender, session) with paths "
            "relative to the root, or one sub-folder per label of files named "
            "<speaker>_<anything>.wav")
EXTRA_COLUMNS = ["source"]


def index_folder(root: str | Path, preset: str | LabelPreset | None = None, *,
                 labels: str | Path | None = None, progress: bool = True) -> CorpusIndex:
    """Index a folder of your own recordings (see the module's description).

    ``labels`` is the CSV (default: ``root/labels.csv`` when it exists, else the
    folder-per-label layout); ``preset`` None keeps every label found, or a
    string ``"raw=class,..."`` maps raw labels onto classes.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusLayoutError("your folder", root, EXPECTED, list_dir(root))
    csv_path = Path(labels) if labels is not None else root / LABELS_CSV
    if labels is not None and not csv_path.is_file():
        raise SerlibError(f"{csv_path}: no such labels file")
    problems: list[Problem] = []
    if csv_path.is_file():
        entries = _read_csv(csv_path, root, problems)
    else:
        entries = _scan_folders(root, problems)
    listed = {e["raw"] for e in entries}
    # Probed first, so that the classes found are the labels of usable files.
    entries = list(probe_rows(entries, problems, desc="folder", progress=progress))
    raw_counts = Counter(e["raw"] for e in entries)
    warnings = rare_label_warnings(raw_counts, "class" if preset is None else "label")
    preset = _resolve(preset, set(raw_counts), listed)
    rows, excluded = [], 0
    for e in entries:
        label_id = preset.label_id(e["raw"])
        if label_id is None:
            excluded += 1
            continue
        rows.append({"utt_id": e["utt_id"], "path": e["path"], "speaker": e["speaker"],
                     "session": e["session"], "gender": e["gender"], "emotion": e["raw"],
                     "label": preset.classes[label_id], "label_id": label_id,
                     "duration_s": e["duration_s"], "sample_rate": e["sample_rate"],
                     "channels": e["channels"], "source": e["source"]})
    return CorpusIndex("folder", root, preset, make_table(rows, EXTRA_COLUMNS), problems,
                       excluded, warnings)


def _resolve(preset: str | LabelPreset | None, found: set[str],
             listed: set[str]) -> LabelPreset:
    """The classes: every label of a usable file (``found``, sorted), or a mapping of the
    raw labels, each of which must be ``listed`` (usable or not)."""
    if isinstance(preset, LabelPreset):
        return preset
    if preset is None:
        classes = tuple(sorted(found))
        return LabelPreset("folder", "folder", {c: c for c in classes}, classes)
    if "=" not in preset:
        raise SerlibError(f"preset {preset!r}: a folder has no named presets; give a mapping of "
                          f"its labels such as 'happy=happiness,angry=anger' (labels found: "
                          f"{', '.join(sorted(listed))})")
    return parse_mapping("folder", preset, {label: label for label in listed})


def _utt_id(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = path
    return rel.with_suffix("").as_posix()


def _read_csv(csv_path: Path, root: Path, problems: list[Problem]) -> list[dict]:
    """The CSV's rows as entries; errors name the file and the line."""
    with io.StringIO(_read_utf8(csv_path), newline="") as f:
        reader = csv.DictReader(f)
        header = [(c or "").strip().lower() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise SerlibError(f"{csv_path} line 1: missing column(s) {', '.join(missing)}; "
                              f"found {', '.join(header) or 'no header'} (expected: path, "
                              "speaker, label, and optionally gender, session)")
        entries, first_line, genders = [], {}, {}
        for record in reader:
            line = reader.line_num
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()
                   if k is not None}
            where = f"{csv_path} line {line}"
            for column in REQUIRED:
                if not row.get(column):
                    raise SerlibError(f"{where}: empty {column}")
            gender = GENDERS.get(row.get("gender", "").lower())
            if gender is None:
                raise SerlibError(f"{where}: gender {row['gender']!r} is not one of M, F "
                                  "(or male, female; empty or U for unknown)")
            speaker = row["speaker"]
            if gender != "U" and genders.setdefault(speaker, (gender, line))[0] != gender:
                raise SerlibError(f"{where}: speaker {speaker!r} is {gender} here but "
                                  f"{genders[speaker][0]} on line {genders[speaker][1]}")
            session = row.get("session", "")
            if session and not session.isdigit():
                raise SerlibError(f"{where}: session {session!r} is not a whole number")
            path = Path(row["path"])
            path = path if path.is_absolute() else root / path
            if str(path) in first_line:
                first = first_line[str(path)]
                problems.append(Problem(str(path), f"{csv_path.name} line {line}: listed "
                                                   f"again (first on line {first})"))
                continue
            first_line[str(path)] = line
            if not path.is_file():
                reason = "a folder, not an audio file" if path.is_dir() else "the file is missing"
                problems.append(Problem(str(path), f"{csv_path.name} line {line}: {reason}"))
                continue
            if unreadable_audio_reason(path):
                problems.append(Problem(str(path), f"{csv_path.name} line {line}: "
                                                   f"{unreadable_audio_reason(path)}"))
                continue
            entries.append({"utt_id": _utt_id(path, root), "path": str(path), "speaker": speaker,
                            "session": int(session) if session else None, "gender": gender,
                            "raw": row["label"], "source": f"{csv_path.name}:{line}"})
    if first_line and not entries:
        raise CorpusLayoutError("your folder", root, EXPECTED,
                                f"{csv_path.name} lists {len(first_line)} file(s), none of them "
                                "under this root (are its paths relative to the root?)")
    # A speaker's gender given on one line holds for its other lines.
    for e in entries:
        if e["gender"] == "U" and e["speaker"] in genders:
            e["gender"] = genders[e["speaker"]][0]
    return entries


def _read_utf8(csv_path: Path) -> str:
    """The CSV's text; bytes that are not UTF-8 are an error naming the line and byte."""
    raw = csv_path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SerlibError(f"{csv_path} line {line}: byte {e.start} (0x{raw[e.start]:02x}, "
                          f"character {column} of the line) is not UTF-8; save the file as "
                          "UTF-8 (a spreadsheet's 'CSV UTF-8', or iconv -f latin1 -t utf-8)") \
            from None


def _scan_folders(root: Path, problems: list[Problem]) -> list[dict]:
    """Entries of the folder-per-label layout."""
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not is_litter(p)):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part.startswith(".") for part in rel.parts) or path.is_dir():
                continue
            if unreadable_audio_reason(path):
                problems.append(Problem(str(path), unreadable_audio_reason(path)))
                continue
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                continue
            m = SPEAKER_TOKEN.match(path.stem)
            if m is None:
                problems.append(Problem(str(path), "no speaker in the file name: name files "
                                                   "<speaker>_<anything>.wav, or give a "
                                                   "labels.csv"))
                continue
            entries.append({"utt_id": _utt_id(path, root), "path": str(path), "speaker": m[1],
                            "session": None, "gender": "U", "raw": folder.name,
                            "source": f"{folder.name}/"})
    if not entries and not problems:
        raise CorpusLayoutError("your folder", root, EXPECTED, list_dir(root))
    return entries


# The synthetic layout: six speakers' recordings under audio/<speaker>/, and labels.csv.
SYNTH_SPEAKERS = [("spk01", "F"), ("spk02", "M"), ("spk03", "F"), ("spk04", "M"),
                  ("spk05", "F"), ("spk06", "M")]
SYNTH_LABELS = {"angry": ("anger", 3.0), "happy": ("happiness", 3.0), "neutral": ("neutral", 4.0),
                "sad": ("sadness", 3.0), "scared": ("fear", 1.0)}


def _plan(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    labels = list(SYNTH_LABELS)
    weights = np.array([w for _, w in SYNTH_LABELS.values()])
    channels = studio_channels([s for s, _ in SYNTH_SPEAKERS], config.seed,
                               floor_db=(-70, -45), room_p=0.5)
    lines, jobs = ["path,speaker,label,gender"], []
    for i in range(config.utterances):
        speaker, gender = SYNTH_SPEAKERS[i % len(SYNTH_SPEAKERS)]
        label = str(rng.choice(labels, p=weights / weights.sum()))
        duration = float(np.clip(rng.lognormal(np.log(2.5), 0.4), 0.8, 8.0))
        rel = f"audio/{speaker}/{speaker}_{i:05d}.wav"
        lines.append(f"{rel},{speaker},{label},{gender}")
        jobs.append(Job(str(out / rel), speaker, SYNTH_LABELS[label][0], (config.seed, i),
                        duration_s=duration, channel=vary(channels[speaker], config.seed, i)))
    out.joinpath(LABELS_CSV).write_text("\n".join(lines) + "\n")
    return jobs


SPEC = CorpusSpec(
    name="folder", title="your own folder", index=index_folder, codes=None, presets={},
    default_preset=None, env_var="SERLIB_FOLDER_DIR", speaker_scheme="speakers",
    synth=SynthLayout(lambda config: list(SYNTH_SPEAKERS), _plan), expected=EXPECTED,
    options=("labels",), notes="labels.csv (path, speaker, label) or one folder per label")
