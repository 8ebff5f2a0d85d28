"""CREMA-D: parse ``AudioWAV/AAAA_SSS_EEE_LL.wav`` file names.

The Crowd-sourced Emotional Multimodal Actors Dataset has 91 actors (ids
1001 .. 1091) saying 12 sentences in 6 emotions, 7,442 clips at 16 kHz. A name
such as ``1001_DFA_ANG_XX.wav`` is actor ``1001``, sentence ``DFA`` ("Don't
forget a jacket"), emotion ``ANG`` and level ``XX``. Emotions: ANG anger, DIS
disgust, FEA fear, HAP happiness, NEU neutral, SAD sadness; levels LO, MD, HI
(only sentence IEO was recorded at three levels) and XX (unspecified).

The speaker id is the actor id. Genders come from ``VideoDemographics.csv``
(columns ActorID, Age, Sex, Race, Ethnicity) when it lies in the root (or
beside the ``AudioWAV`` folder given as root); without it every gender is
``U`` (unknown) and the speaker protocols deal speakers without regard to it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import CorpusLayoutError, SerlibError
from .labels import FOUR, LabelPreset, make_presets
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, emotion_profile, studio_channels, vary
from .table import CorpusIndex, list_dir, make_table, scan

FILE_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emo>[A-Z]{3})"
                       r"_(?P<level>[A-Z]{2})\.wav$")
DEMOGRAPHICS = "VideoDemographics.csv"

CODES: dict[str, str] = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
                         "NEU": "neutral", "SAD": "sadness"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {"IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
             "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
             "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
             "IWL": "I would like a new alarm clock",
             "ITH": "I think I have a doctor's appointment",
             "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
             "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes"}

PRESETS: dict[str, LabelPreset] = make_presets("cremad", {
    "cremad-6": CODES,
    "cremad-4": {"ANG": "anger", "SAD": "sadness", "HAP": "happiness", "NEU": "neutral"},
}, {"cremad-4": FOUR})

EXPECTED = ("an AudioWAV/ folder of files named like 1001_DFA_ANG_XX.wav (actor, sentence, "
            "emotion, level), and VideoDemographics.csv for the actors' genders")
EXTRA_COLUMNS = ["sentence", "level"]


def wav_folder(root: Path) -> Path:
    """``root/AudioWAV`` or ``root`` itself, whichever holds CREMA-D-named files."""
    root = Path(root)
    for folder in (root / "AudioWAV", root):
        if folder.is_dir() and any(FILE_NAME.match(p.name) for p in folder.iterdir()):
            return folder
    raise CorpusLayoutError("CREMA-D", root, EXPECTED, list_dir(root))


def read_demographics(path: Path) -> dict[str, str]:
    """``{actor: "M" | "F" | "U"}`` from ``VideoDemographics.csv``; a file without the
    ActorID and Sex columns is an error naming it."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "ActorID" not in columns or "Sex" not in columns:
            raise SerlibError(f"{path}: expected the columns ActorID and Sex, found "
                              f"{', '.join(columns) or 'none'}")
        genders = {}
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            genders[row["ActorID"]] = {"male": "M", "female": "F"}.get(row["Sex"].lower(), "U")
    return genders


def index_cremad(root: str | Path, preset: str | LabelPreset | None = None, *,
                 progress: bool = True) -> CorpusIndex:
    """Index CREMA-D: one row per wav whose emotion the preset keeps.

    ``preset``: ``cremad-6`` (default) or ``cremad-4`` (anger, sadness, happiness,
    neutral), or a mapping such as ``"ANG=anger,NEU=neutral"``. Stray names,
    unknown emotions or levels and unusable audio (the release has an empty
    file) are reported in ``problems``.
    """
    root = Path(root)
    preset = SPEC.resolve_preset(preset)
    folder = wav_folder(root)
    demographics = next((p for p in (root / DEMOGRAPHICS, folder.parent / DEMOGRAPHICS)
                         if p.is_file()), None)
    genders = read_demographics(demographics) if demographics else {}

    def parse(path: Path) -> dict | str:
        m = FILE_NAME.match(path.name)
        if m is None:
            return "name does not follow CREMA-D's pattern (actor, sentence, emotion, level: " \
                   "1001_DFA_ANG_XX.wav)"
        if m["emo"] not in CODES:
            return f"unknown emotion {m['emo']!r}"
        if m["level"] not in LEVELS:
            return f"unknown level {m['level']!r}"
        return {"speaker": m["actor"], "session": None, "gender": genders.get(m["actor"], "U"),
                "emotion": m["emo"], "sentence": m["sentence"], "level": m["level"]}

    rows, problems, excluded = scan("CREMA-D", sorted(folder.iterdir()), parse, preset,
                                    progress=progress)
    return CorpusIndex("cremad", root, preset, make_table(rows, EXTRA_COLUMNS), problems,
                       excluded)


# The synthetic layout: each actor's 82 clips (12 sentences x 6 emotions at level XX, and IEO
# at LO, MD, HI for the five non-neutral emotions), fewer actors for small corpora.
PER_ACTOR = [(s, e, "XX") for s in SENTENCES for e in CODES if s != "IEO" or e == "NEU"] + \
    [("IEO", e, level) for e in CODES if e != "NEU" for level in ("LO", "MD", "HI")]
LEVEL_INTENSITY = {"LO": 0.6, "MD": 1.0, "HI": 1.4, "XX": 1.0}


def synth_actors(config: SynthConfig) -> list[tuple[str, str]]:
    """``min(91, max(4, utterances // 10))`` actors from 1001, alternately male and female."""
    n = min(91, max(4, config.utterances // 10))
    return [(str(1001 + a), "MF"[a % 2]) for a in range(n)]


def _plan(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    actors = synth_actors(config)
    lines = ["ActorID,Age,Sex,Race,Ethnicity"]
    for actor, gender in actors:
        age = int(rng.integers(20, 75))
        lines.append(f"{actor},{age},{'Male' if gender == 'M' else 'Female'},"
                     f"{rng.choice(['Caucasian', 'African American', 'Asian', 'Unknown'])},"
                     f"{rng.choice(['Not Hispanic', 'Hispanic'])}")
    out.joinpath(DEMOGRAPHICS).write_text("\n".join(lines) + "\n")
    ids = [a for a, _ in actors]
    designs = {a: [PER_ACTOR[int(k)] for k in rng.permutation(len(PER_ACTOR))] for a in ids}
    syllables = {s: int(rng.integers(5, 11)) for s in SENTENCES}
    channels = studio_channels(ids, config.seed, floor_db=(-70, -50), room_p=0.5)
    jobs = []
    for i in range(config.utterances):
        actor = ids[i % len(ids)]
        sentence, emo, level = designs[actor][i // len(ids)]
        profile = emotion_profile(CODES[emo], LEVEL_INTENSITY[level])
        jobs.append(Job(str(out / "AudioWAV" / f"{actor}_{sentence}_{emo}_{level}.wav"), actor,
                        profile, (config.seed, i), num_syllables=syllables[sentence],
                        content_seed=config.seed * 1000 + list(SENTENCES).index(sentence),
                        channel=vary(channels[actor], config.seed, i)))
    return jobs


SPEC = CorpusSpec(
    name="cremad", title="CREMA-D", index=index_cremad, codes=CODES, presets=PRESETS,
    default_preset="cremad-6", env_var="CREMAD_DIR", speaker_scheme="speakers",
    synth=SynthLayout(synth_actors, _plan, max_utterances=91 * len(PER_ACTOR)),
    expected=EXPECTED, notes="91 actors 1001..1091, genders from VideoDemographics.csv")
