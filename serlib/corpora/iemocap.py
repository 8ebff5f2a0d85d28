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
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import CorpusLayoutError
from .labels import FOUR, LabelPreset
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, vary
from .table import CorpusIndex, Problem, is_litter, list_dir, make_table, probe_rows
from .voice import Channel

#: IEMOCAP's categorical codes, as in its EmoEvaluation files.
CODES: dict[str, str] = {
    "neu": "neutral", "hap": "happiness", "exc": "excitement", "sad": "sadness",
    "ang": "anger", "fru": "frustration", "fea": "fear", "sur": "surprise",
    "dis": "disgust", "oth": "other", "xxx": "no agreement",
}

#: IEMOCAP's presets: the thesis's improvised-4, and full-4 (excitement merged into happiness).
PRESETS: dict[str, LabelPreset] = {p.name: p for p in [
    LabelPreset("improvised-4", "iemocap",
                {"ang": "anger", "sad": "sadness", "hap": "happiness", "neu": "neutral"},
                FOUR, improvised_only=True),
    LabelPreset("full-4", "iemocap",
                {"ang": "anger", "sad": "sadness", "hap": "happiness", "exc": "happiness",
                 "neu": "neutral"}, FOUR),
]}

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
    preset = SPEC.resolve_preset(preset)
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

# The synthetic layout: IEMOCAP's sessions, dialogs, label files and emotion frequencies.
# Turns per emotion code in the real IEMOCAP, improvised and scripted dialogs.
IEMOCAP_IMPRO = {"neu": 1099, "fru": 971, "sad": 608, "exc": 663, "ang": 289, "hap": 284,
                 "sur": 46, "fea": 30, "oth": 1, "xxx": 1075}
IEMOCAP_SCRIPT = {"neu": 609, "fru": 878, "sad": 476, "exc": 378, "ang": 814, "hap": 311,
                  "sur": 61, "fea": 10, "dis": 2, "oth": 2, "xxx": 1432}
IMPRO_DIALOGS = ["impro01", "impro02", "impro03", "impro04", "impro05", "impro06", "impro07"]
# Session 3 has split improvisations in the real corpus (Ses03M_impro05b): keep the quirk.
IMPRO_DIALOGS_S3 = ["impro01", "impro02", "impro03", "impro04", "impro05a", "impro05b",
                    "impro06", "impro07", "impro08a", "impro08b"]
SCRIPT_DIALOGS = ["script01_1", "script01_2", "script01_3", "script02_1", "script02_2",
                  "script03_1", "script03_2"]
# IEMOCAP codes -> the synthesizer's emotion; xxx (no agreement) sounds like a blend.
IEMOCAP_VOICE = {**CODES, "xxx": "other"}
# Mean valence, arousal, dominance (1..5) per code, as the annotations roughly give them.
VAD = {"neu": (3.0, 2.5, 2.8), "hap": (4.0, 3.2, 3.0), "exc": (4.0, 3.8, 3.4),
       "sad": (2.0, 2.1, 2.3), "ang": (1.8, 3.9, 3.8), "fru": (2.0, 3.3, 3.3),
       "fea": (2.0, 3.5, 2.2), "sur": (3.5, 3.8, 3.0), "dis": (1.8, 3.2, 3.3),
       "oth": (3.0, 3.0, 3.0), "xxx": (2.8, 3.0, 3.0)}


def _plan_iemocap(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    """Assign turns to dialogs and speakers, write the label files, return the audio jobs."""
    n_impro = round(config.utterances * sum(IEMOCAP_IMPRO.values()) /
                    (sum(IEMOCAP_IMPRO.values()) + sum(IEMOCAP_SCRIPT.values())))
    kinds = np.array([True] * n_impro + [False] * (config.utterances - n_impro))
    rng.shuffle(kinds)
    turns: dict[tuple[int, str], list[dict]] = defaultdict(list)
    counters: dict[tuple[str, str], int] = defaultdict(int)
    # One draw per session from the plan's generator (so the labels stay those of earlier
    # versions), the rest of each speaker's recording channel from a generator of its own.
    jitter = {s: 6.0 * float(rng.random()) - 3.0 for s in range(1, 6)}
    channels = _session_channels(jitter, np.random.default_rng([config.seed, 2024]))
    jobs = []
    for i, improvised in enumerate(kinds):
        session = i % 5 + 1
        table = IEMOCAP_IMPRO if improvised else IEMOCAP_SCRIPT
        codes, weights = list(table), np.array(list(table.values()), dtype=float)
        code = str(rng.choice(codes, p=weights / weights.sum()))
        names = (IMPRO_DIALOGS_S3 if session == 3 else IMPRO_DIALOGS) if improvised \
            else SCRIPT_DIALOGS
        dialog = f"Ses{session:02d}{rng.choice(['F', 'M'])}_{rng.choice(names)}"
        gender = str(rng.choice(["F", "M"]))
        utt_id = f"{dialog}_{gender}{counters[dialog, gender]:03d}"
        counters[dialog, gender] += 1
        duration = float(np.clip(rng.lognormal(np.log(3.6), 0.6), 0.6, 30.0))
        vad = np.clip(np.array(VAD[code]) + rng.normal(0, 0.5, 3), 1, 5)
        turns[session, dialog].append({"utt": utt_id, "code": code, "dur": duration,
                                       "vad": np.round(vad * 3) / 3})
        path = out / f"Session{session}" / "sentences" / "wav" / dialog / f"{utt_id}.wav"
        speaker = f"{session}{gender}"
        jobs.append(Job(str(path), speaker, IEMOCAP_VOICE[code], (config.seed, i),
                        duration_s=duration, channel=vary(channels[speaker], config.seed, i)))
    for (session, dialog), items in turns.items():
        _write_iemocap_labels(out / f"Session{session}" / "dialog" / "EmoEvaluation", dialog,
                              items, rng)
    return jobs


def _session_channels(jitter: dict[int, float],
                      rng: np.random.Generator) -> dict[str, Channel]:
    """Each IEMOCAP-layout speaker's recording channel: its session's noise floor, give or
    take a few dB, a recording level, a noise colour, and a mild room in about half of the
    cases.

    The sessions' floors are spread evenly over -80 to -48 dB (shuffled, plus ``jitter``),
    so that with any seed they differ by more than the emotions' loudness does.
    """
    levels = rng.permutation(np.linspace(-80.0, -48.0, len(jitter)))
    floor = {s: float(level) + jitter[s] for s, level in zip(sorted(jitter), levels, strict=True)}
    channels = {}
    for session in sorted(floor):
        for gender in "FM":
            room = float(rng.uniform(0.15, 0.45)) if rng.random() < 0.5 else 0.0
            channels[f"{session}{gender}"] = Channel(
                gain_db=float(rng.uniform(-10, 2)),
                noise_db=floor[session] + float(rng.normal(0, 3)),
                noise_colour=float(rng.uniform(0.0, 0.97)), rt60_s=room)
    return channels


def _write_iemocap_labels(folder: Path, dialog: str, items: list[dict],
                          rng: np.random.Generator) -> None:
    """A label file as IEMOCAP writes it, with evaluator lines and a Categorical/ twin."""
    lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    cat_lines = []
    t = float(rng.uniform(1, 10))
    for it in items:
        start, end = t, t + it["dur"]
        t = end + float(rng.uniform(0.2, 3.0))
        v, a, d = it["vad"]
        name = CODES[it["code"]].capitalize()
        lines += [f"[{start:.4f} - {end:.4f}]\t{it['utt']}\t{it['code']}\t[{v:.4f}, {a:.4f}, "
                  f"{d:.4f}]", f"C-E1:\t{name};\t()", f"C-E2:\t{name};\t()",
                  f"A-E1:\tval {round(v)}; act {round(a)}; dom  {round(d)};\t()", ""]
        cat_lines.append(f"{it['utt']} :{name}; ()")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
    (folder / "Categorical").mkdir(exist_ok=True)
    (folder / "Categorical" / f"{dialog}_e1_cat.txt").write_text("\n".join(cat_lines) + "\n")


#: IEMOCAP's layout: 10 speakers ``1F`` .. ``5M``, the voices drawn in that order.
IEMOCAP_LAYOUT = SynthLayout(lambda config: [(f"{s}{g}", g) for s in range(1, 6) for g in "FM"],
                             _plan_iemocap)


SPEC = CorpusSpec(
    name="iemocap", title="IEMOCAP", index=index_iemocap, codes=CODES,
    presets=PRESETS,
    default_preset="improvised-4", env_var="IEMOCAP_DIR", speaker_scheme="sessions",
    synth=IEMOCAP_LAYOUT, expected=EXPECTED, notes="5 sessions of 2 speakers (1F .. 5M)")
