"""RAVDESS (speech part): parse ``Actor_NN/03-01-EE-II-SS-RR-AA.wav`` file names.

The Ryerson Audio-Visual Database of Emotional Speech and Song has 24 actors
(odd numbers male, even female), each saying two fixed statements ("Kids are
talking by the door", "Dogs are sitting by the door") twice in 8 emotions, at
normal and strong intensity (neutral at normal only): 60 speech files per
actor, 1,440 in all, 48 kHz. A file name is seven two-digit fields::

    modality - vocal channel - emotion - intensity - statement - repetition - actor
    03 (audio-only) - 01 (speech) - 01..08 - 01 normal, 02 strong - 01, 02 - 01, 02 - 01..24

Emotions: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
07 disgust, 08 surprised. Song files (vocal channel 02, the separate song
release, with the same folder layout) are left out and counted in
``excluded``; video files (modality 01, 02) are reported.

The speaker id is the actor's number as in the folder name (``Actor_01`` is
speaker ``01``); there are no sessions, so the speaker protocols apply
(``kfold``, ``loso-speaker``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .labels import FOUR, LabelPreset, make_presets
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, emotion_profile, studio_channels, vary
from .table import CorpusIndex, make_table, named_folders, scan

FILE_NAME = re.compile(r"^(?P<modality>\d{2})-(?P<channel>\d{2})-(?P<emo>\d{2})"
                       r"-(?P<intensity>\d{2})-(?P<statement>\d{2})-(?P<repetition>\d{2})-(?P<actor>\d{2})\.wav$")
ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")

#: RAVDESS's emotion field -> class name (the other corpora's names for the same emotions).
CODES: dict[str, str] = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
                         "05": "anger", "06": "fear", "07": "disgust", "08": "surprise"}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}

PRESETS: dict[str, LabelPreset] = make_presets("ravdess", {
    "ravdess-8": CODES,
    "ravdess-7": {**CODES, "02": "neutral"},
    "ravdess-4": {"05": "anger", "04": "sadness", "03": "happiness", "01": "neutral"},
}, {"ravdess-4": FOUR})

EXPECTED = ("Actor_01/ .. Actor_24/ folders of files named like 03-01-05-02-01-01-01.wav "
            "(modality, vocal channel, emotion, intensity, statement, repetition, actor)")
EXTRA_COLUMNS = ["intensity", "statement", "repetition"]


def actor_folders(root: Path) -> list[Path]:
    """The ``Actor_NN`` folders of ``root``; :class:`CorpusLayoutError` when there are none."""
    return named_folders(root, ACTOR_DIR, "RAVDESS", EXPECTED)


def index_ravdess(root: str | Path, preset: str | LabelPreset | None = None, *,
                  progress: bool = True) -> CorpusIndex:
    """Index RAVDESS's speech files: one row per audio-only speech wav the preset keeps.

    ``preset``: ``ravdess-8`` (default, all eight emotions), ``ravdess-7`` (calm
    merged into neutral), ``ravdess-4`` (anger, sadness, happiness, neutral) or a
    mapping of emotion fields such as ``"05=anger,04=sadness"``. Stray names,
    video files, actors that differ from their folder and unusable audio are
    reported in ``problems``.
    """
    root = Path(root)
    preset = SPEC.resolve_preset(preset)

    def parse(path: Path) -> dict | str | None:
        actor = ACTOR_DIR.match(path.parent.name)[1]
        m = FILE_NAME.match(path.name)
        if m is None:
            return "name does not follow RAVDESS's pattern (03-01-05-02-01-01-01.wav)"
        if m["modality"] != "03":
            return f"modality {m['modality']}: not an audio-only file (03)"
        if m["channel"] == "02":  # the song release: not speech
            return None
        if m["channel"] != "01":
            return f"unknown vocal channel {m['channel']!r}"
        if m["emo"] not in CODES:
            return f"unknown emotion {m['emo']!r}"
        if m["intensity"] not in INTENSITIES:
            return f"unknown intensity {m['intensity']!r}"
        if m["actor"] != actor:
            return f"actor {m['actor']} in the name, but in {path.parent.name}/"
        return {"speaker": actor, "session": None, "gender": "M" if int(actor) % 2 else "F",
                "emotion": m["emo"], "intensity": INTENSITIES[m["intensity"]],
                "statement": m["statement"], "repetition": int(m["repetition"])}

    files = [path for folder in actor_folders(root) for path in sorted(folder.iterdir())]
    rows, problems, excluded = scan("RAVDESS", files, parse, preset, progress=progress)
    return CorpusIndex("ravdess", root, preset, make_table(rows, EXTRA_COLUMNS), problems,
                       excluded)


# The synthetic layout: the same design (60 files per actor), fewer actors for small corpora.
PER_ACTOR = [(emo, intensity, statement, rep) for emo in CODES
             for intensity in (["01"] if emo == "01" else ["01", "02"])
             for statement in STATEMENTS for rep in ("01", "02")]
SYNTH_VOICE = {"neutral": "neutral", "calm": "calm", "happiness": "happiness",
               "sadness": "sadness", "anger": "anger", "fear": "fear", "disgust": "disgust",
               "surprise": "surprise"}


def synth_actors(config: SynthConfig) -> list[tuple[str, str]]:
    """``min(24, max(4, utterances // 10))`` actors, ``01`` .. : about 10 files each
    up to 24 actors, then up to 60 each (the real corpus: 24 x 60)."""
    n = min(24, max(4, config.utterances // 10))
    return [(f"{a:02d}", "M" if a % 2 else "F") for a in range(1, n + 1)]


def _plan(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    """Deal the files over the actors in turn, each actor's drawn from its 60 without
    repeats; the two statements are fixed sentences (same syllables whoever says them)."""
    actors = [a for a, _ in synth_actors(config)]
    designs = {a: [PER_ACTOR[int(k)] for k in rng.permutation(len(PER_ACTOR))] for a in actors}
    channels = studio_channels(actors, config.seed)
    jobs = []
    for i in range(config.utterances):
        actor = actors[i % len(actors)]
        emo, intensity, statement, rep = designs[actor][i // len(actors)]
        name = f"03-01-{emo}-{intensity}-{statement}-{rep}-{actor}.wav"
        profile = emotion_profile(SYNTH_VOICE[CODES[emo]], 1.4 if intensity == "02" else 1.0)
        jobs.append(Job(str(out / f"Actor_{actor}" / name), actor, profile, (config.seed, i),
                        num_syllables=7, content_seed=config.seed * 1000 + int(statement),
                        channel=vary(channels[actor], config.seed, i)))
    return jobs


SPEC = CorpusSpec(
    name="ravdess", title="RAVDESS (speech)", index=index_ravdess, codes=CODES,
    presets=PRESETS, default_preset="ravdess-8", env_var="RAVDESS_DIR",
    speaker_scheme="speakers",
    synth=SynthLayout(synth_actors, _plan, sample_rate=48_000, max_utterances=24 * 60),
    expected=EXPECTED, notes="24 actors (odd male, even female), 48 kHz")
