"""TESS (Toronto emotional speech set): parse ``OAF_angry/OAF_back_angry.wav`` file names.

Two actresses, aged 64 (``OAF``, older adult female) and 26 (``YAF``), say
"Say the word ..." with 200 target words in 7 emotions: 2,800 files at
24,414 Hz. The release's folders are named inconsistently (``OAF_Fear`` and
``YAF_fear``, ``OAF_Pleasant_surprise`` and ``YAF_pleasant_surprised``), so
the speaker and the emotion are read from the file name
(``<speaker>_<word>_<emotion>.wav``), case-insensitively; the folder only has
to start with ``OAF_`` or ``YAF_``. Emotion tokens: angry, disgust, fear,
happy, neutral, ps (pleasant surprise), sad.

Both speakers are female and there are only two: speaker-independent
evaluation is limited to training on one speaker and testing on the other
(``--protocol kfold`` or ``loso-speaker`` give those two folds, without a
validation speaker; the cross-validation warns about it). The speaker ids
are ``OAF`` and ``YAF``, with no session.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .labels import FOUR, LabelPreset, make_presets
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, emotion_profile, studio_channels, vary
from .table import CorpusIndex, make_table, named_folders, scan

SPEAKERS = {"OAF": "older adult female (64)", "YAF": "younger adult female (26)"}
FOLDER = re.compile(r"^(OAF|YAF)_", re.IGNORECASE)
FILE_NAME = re.compile(r"^(?P<spk>[A-Za-z]+)_(?P<word>[A-Za-z]+)_(?P<emo>[A-Za-z_]+)\.wav$")

#: The emotion token at the end of a file name (lower case) -> class name.
CODES: dict[str, str] = {"angry": "anger", "disgust": "disgust", "fear": "fear",
                         "happy": "happiness", "neutral": "neutral", "ps": "surprise",
                         "sad": "sadness"}
#: Other spellings of a token, as some copies of the corpus have them.
ALIASES = {"pleasant_surprise": "ps", "pleasant_surprised": "ps", "surprise": "ps",
           "surprised": "ps", "anger": "angry", "happiness": "happy", "sadness": "sad"}

PRESETS: dict[str, LabelPreset] = make_presets("tess", {
    "tess-7": CODES,
    "tess-4": {"angry": "anger", "sad": "sadness", "happy": "happiness", "neutral": "neutral"},
}, {"tess-4": FOUR})

EXPECTED = ("folders such as OAF_angry/, YAF_pleasant_surprised/ of files named like "
            "OAF_back_angry.wav (speaker, word, emotion)")
EXTRA_COLUMNS = ["word"]
SAMPLE_RATE = 24_414


def speaker_folders(root: Path) -> list[Path]:
    """The ``OAF_*``/``YAF_*`` folders; :class:`CorpusLayoutError` when there are none."""
    return named_folders(root, FOLDER, "TESS", EXPECTED)


def index_tess(root: str | Path, preset: str | LabelPreset | None = None, *,
               progress: bool = True) -> CorpusIndex:
    """Index TESS: one row per wav whose emotion the preset keeps.

    ``preset``: ``tess-7`` (default) or ``tess-4`` (anger, sadness, happiness,
    neutral), or a mapping of tokens such as ``"angry=anger,sad=sadness"``. Names
    that do not parse, unknown speakers or emotions and unusable audio are
    reported in ``problems``.
    """
    root = Path(root)
    preset = SPEC.resolve_preset(preset)

    def parse(path: Path) -> dict | str:
        m = FILE_NAME.match(path.name)
        if m is None:
            return "name does not follow TESS's pattern (speaker, word, emotion: " \
                   "OAF_back_angry.wav)"
        speaker, token = m["spk"].upper(), m["emo"].lower()
        token = ALIASES.get(token, token)
        if speaker not in SPEAKERS:
            return f"unknown TESS speaker {m['spk']!r}"
        if token not in CODES:
            return f"unknown emotion {m['emo']!r}"
        return {"speaker": speaker, "session": None, "gender": "F", "emotion": token,
                "word": m["word"].lower()}

    files = [path for folder in speaker_folders(root) for path in sorted(folder.iterdir())]
    rows, problems, excluded = scan("TESS", files, parse, preset, progress=progress)
    return CorpusIndex("tess", root, preset, make_table(rows, EXTRA_COLUMNS), problems, excluded)


# The synthetic layout: the release's folder names (quirks included) and 200 words.
SYNTH_FOLDERS = {
    "OAF": {"angry": "OAF_angry", "disgust": "OAF_disgust", "fear": "OAF_Fear",
            "happy": "OAF_happy", "neutral": "OAF_neutral", "ps": "OAF_Pleasant_surprise",
            "sad": "OAF_Sad"},
    "YAF": {"angry": "YAF_angry", "disgust": "YAF_disgust", "fear": "YAF_fear",
            "happy": "YAF_happy", "neutral": "YAF_neutral", "ps": "YAF_pleasant_surprised",
            "sad": "YAF_sad"},
}
WORDS = ["back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book", "bought",
         "burn", "cab", "calm", "came", "cause", "chain", "chair", "chalk", "chat", "check",
         "cheek", "chief", "choice", "cool", "dab", "date", "dead", "death", "deep", "dime",
         "dip", "ditch", "dodge", "dog", "doll", "door", "fail", "fall", "far", "fat", "fit",
         "five", "food", "gap", "gas", "gaze", "germ", "get", "gin", "goal", "good", "goose",
         "gun", "half", "hall", "hash", "hate", "have", "haze", "hire", "hit", "hole", "home",
         "hurl", "hush", "jail", "jar", "join", "judge", "jug", "juice", "keen", "keep", "keg",
         "kick", "kill", "king", "kite", "knock", "late", "laud", "lean", "learn", "lease", "lid",
         "life", "limb", "live", "loaf", "long", "lore", "lose", "lot", "love", "luck", "make",
         "match", "merge", "mess", "met", "mill", "mob", "mode", "mood", "moon", "mop", "mouse",
         "nag", "name", "near", "neat", "nice", "note", "numb", "pad", "page", "pain", "pass",
         "pearl", "peg", "perch", "phone", "pick", "pike", "pole", "pool", "puff", "rag", "raid",
         "rain", "raise", "rat", "reach", "read", "red", "ring", "ripe", "road", "room", "rose",
         "rot", "rough", "rush", "said", "sub", "sail", "search", "seize", "sell", "shack",
         "shall", "shape", "sheep", "sheet", "shirt", "shout", "shawl", "size", "soap", "sour",
         "south", "such", "sure", "take", "talk", "tape", "team", "tell", "thin", "third",
         "thought", "thumb", "time", "tip", "tire", "ton", "tool", "tough", "turn", "vine",
         "voice", "void", "vote", "wag", "walk", "wash", "week", "wheat", "when", "which", "whip",
         "white", "wife", "wire", "witch", "yearn", "yes", "young", "youth"]
SYNTH_VOICE = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
               "neutral": "neutral", "ps": "surprise", "sad": "sadness"}


def synth_speakers(config: SynthConfig) -> list[tuple[str, str]]:
    return [("OAF", "F"), ("YAF", "F")]


def _plan(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    """Alternate the two speakers; each says each (word, emotion) at most once, as the
    carrier phrase "Say the word ..." (four syllables, fixed per word)."""
    design = [(w, e) for w in WORDS for e in CODES]
    orders = {spk: rng.permutation(len(design)) for spk in SPEAKERS}
    channels = studio_channels(list(SPEAKERS), config.seed)
    jobs = []
    for i in range(config.utterances):
        spk = "OAF" if i % 2 == 0 else "YAF"
        word, emo = design[int(orders[spk][i // 2])]
        path = out / SYNTH_FOLDERS[spk][emo] / f"{spk}_{word}_{emo}.wav"
        jobs.append(Job(str(path), spk, emotion_profile(SYNTH_VOICE[emo]), (config.seed, i),
                        num_syllables=4, content_seed=config.seed * 1000 + WORDS.index(word),
                        channel=vary(channels[spk], config.seed, i)))
    return jobs


SPEC = CorpusSpec(
    name="tess", title="TESS (Toronto emotional speech set)", index=index_tess, codes=CODES,
    presets=PRESETS, default_preset="tess-7", env_var="TESS_DIR", speaker_scheme="speakers",
    synth=SynthLayout(synth_speakers, _plan, sample_rate=SAMPLE_RATE,
                      max_utterances=2 * len(WORDS) * len(CODES)),
    expected=EXPECTED, notes="2 female speakers: train on one, test on the other")
