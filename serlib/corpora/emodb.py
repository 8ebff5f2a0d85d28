"""emoDB (Berlin Database of Emotional Speech): parse ``wav/`` file names.

A name such as ``03a01Fa.wav`` is speaker ``03``, text ``a01``, emotion letter
``F`` (happiness) and version ``a``. By default (``speaker_ids="thesis"``) the
ten speakers are mapped onto IEMOCAP-style ids (``1M`` .. ``5F``) as the thesis
did, so that its fold protocols (``5fold``, ``10fold``, ``loso``) and folds
apply; the native id is kept in ``native_speaker``. With
``speaker_ids="native"`` the speaker is emoDB's own id (``03`` .. ``16``, gender
from :data:`GENDERS`, no session), for the speaker protocols ``kfold`` and
``loso-speaker``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import CorpusLayoutError, SerlibError
from .labels import FOUR, LabelPreset
from .spec import CorpusSpec
from .synth import Job, SynthConfig, SynthLayout, vary
from .table import CorpusIndex, list_dir, make_table, scan
from .voice import Channel

#: emoDB's emotion letter (6th character of the file name), from the German names.
CODES: dict[str, str] = {
    "W": "anger",      # Wut
    "L": "boredom",    # Langeweile
    "E": "disgust",    # Ekel
    "A": "fear",       # Angst
    "F": "happiness",  # Freude
    "T": "sadness",    # Trauer
    "N": "neutral",
}

#: emoDB's presets: its seven emotions, and the thesis's four classes.
PRESETS: dict[str, LabelPreset] = {p.name: p for p in [
    LabelPreset("emodb-7", "emodb", dict(CODES), tuple(CODES.values())),
    LabelPreset("emodb-4", "emodb",
                {"W": "anger", "T": "sadness", "F": "happiness", "N": "neutral"}, FOUR),
]}

FILE_NAME = re.compile(r"^(?P<spk>\d{2})(?P<text>[a-z]\d{2})(?P<emo>[A-Z])(?P<ver>[a-z])\.wav$")

#: The thesis's mapping of emoDB's speakers onto session + gender ids.
SPEAKER_IDS: dict[str, str] = {
    "03": "1M", "08": "1F", "09": "2F", "10": "2M", "11": "3M",
    "12": "4M", "13": "3F", "14": "4F", "15": "5M", "16": "5F",
}

#: emoDB's speakers' genders, as its documentation gives them.
GENDERS: dict[str, str] = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M",
                           "12": "M", "13": "F", "14": "F", "15": "M", "16": "F"}
SPEAKER_ID_SCHEMES = ("thesis", "native")

EXPECTED = "a wav/ folder of files named like 03a01Fa.wav (speaker, text, emotion, version)"
EXTRA_COLUMNS = ["native_speaker", "text", "version"]


def wav_folder(root: Path) -> Path:
    """The folder holding emoDB's wav files: ``root/wav`` or ``root`` itself.

    Raises :class:`CorpusLayoutError` when neither holds emoDB-named files.
    """
    root = Path(root)
    for folder in (root / "wav", root):
        if folder.is_dir() and any(FILE_NAME.match(p.name) for p in folder.iterdir()):
            return folder
    found = list_dir(root)
    if root.is_dir() and any(p.name.startswith("Session") for p in root.iterdir()):
        found += " (this looks like IEMOCAP: use --corpus iemocap)"
    raise CorpusLayoutError("emoDB", root, EXPECTED, found)


def index_emodb(root: str | Path, preset: str | LabelPreset | None = None, *,
                speaker_ids: str = "thesis", progress: bool = True) -> CorpusIndex:
    """Index emoDB: one row per wav file whose emotion the preset keeps.

    The number of files is counted, not assumed (the release has 535). Files
    with names outside emoDB's pattern, unknown speakers or unusable audio
    are reported in ``problems``. ``speaker_ids`` is ``thesis`` (the default:
    ``1M`` .. ``5F``, sessions 1-5) or ``native`` (``03`` .. ``16``, no session).
    """
    root = Path(root)
    if speaker_ids not in SPEAKER_ID_SCHEMES:
        raise SerlibError(f"speaker_ids {speaker_ids!r}: choose one of {list(SPEAKER_ID_SCHEMES)}")
    native_ids = speaker_ids == "native"
    preset = SPEC.resolve_preset(preset)
    folder = wav_folder(root)

    def parse(path: Path) -> dict | str:
        m = FILE_NAME.match(path.name)
        if m is None:
            return "name does not follow emoDB's pattern (speaker, text, emotion, version: " \
                   "03a01Fa.wav)"
        speaker = SPEAKER_IDS.get(m["spk"])
        if speaker is None:
            return f"unknown emoDB speaker {m['spk']!r}"
        if m["emo"] not in preset.mapping and m["emo"] not in "WLEAFTN":
            return f"unknown emotion letter {m['emo']!r}"
        if native_ids:
            speaker, session, gender = m["spk"], None, GENDERS[m["spk"]]
        else:
            session, gender = int(speaker[0]), speaker[1]
        return {"speaker": speaker, "session": session, "gender": gender, "emotion": m["emo"],
                "native_speaker": m["spk"], "text": m["text"], "version": m["ver"]}

    rows, problems, excluded = scan("emoDB", sorted(folder.iterdir()), parse, preset,
                                    progress=progress)
    return CorpusIndex("emodb", root, preset, make_table(rows, EXTRA_COLUMNS), problems, excluded)

# The synthetic layout: the release's file names, texts and emotion frequencies.
EMODB_COUNTS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
EMODB_TEXTS = ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]


def _plan_emodb(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    """Choose speaker, text, emotion and version per file; emoDB has no label files."""
    letters = list(EMODB_COUNTS)
    weights = np.array(list(EMODB_COUNTS.values()), dtype=float)
    natives = list(SPEAKER_IDS)
    # Each text is one fixed sentence: the same syllables whoever says it, however.
    text_syllables = {t: int(rng.integers(6, 15)) for t in EMODB_TEXTS}
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    # emoDB was recorded in one anechoic studio: a quiet floor and no room; only the level
    # and the floor differ a little between speakers.
    studio_rng = np.random.default_rng([config.seed, 2024])
    studio = {spk: Channel(gain_db=float(studio_rng.uniform(-4, 2)),
                           noise_db=float(studio_rng.uniform(-75, -62)),
                           noise_colour=float(studio_rng.uniform(0.3, 0.95)))
              for spk in SPEAKER_IDS.values()}
    jobs = []
    for i in range(config.utterances):
        native = str(rng.choice(natives))
        text = str(rng.choice(EMODB_TEXTS))
        letter = str(rng.choice(letters, p=weights / weights.sum()))
        version = "abcdefghijklmnopqrstuvwxyz"[seen[native, text, letter] % 26]
        seen[native, text, letter] += 1
        name = f"{native}{text}{letter}{version}.wav"
        jobs.append(Job(str(out / "wav" / name), SPEAKER_IDS[native], CODES[letter],
                        (config.seed, i), num_syllables=text_syllables[text],
                        content_seed=config.seed * 1000 + EMODB_TEXTS.index(text),
                        channel=vary(studio[SPEAKER_IDS[native]], config.seed, i)))
    # More than 26 versions of one (speaker, text, emotion) would repeat a name: keep the first.
    unique = {j.path: j for j in reversed(jobs)}
    return [j for j in jobs if unique[j.path] is j]


#: emoDB's layout: its 10 speakers under the thesis's ids, in the order of SPEAKER_IDS.
EMODB_LAYOUT = SynthLayout(lambda config: [(spk, spk[-1]) for spk in SPEAKER_IDS.values()],
                           _plan_emodb)


SPEC = CorpusSpec(
    name="emodb", title="emoDB (Berlin Database of Emotional Speech)", index=index_emodb,
    codes=CODES, presets=PRESETS,
    default_preset="emodb-7", env_var="EMODB_DIR", speaker_scheme="sessions",
    synth=EMODB_LAYOUT, expected=EXPECTED, options=("speaker_ids",),
    notes="10 speakers; ids mapped onto 1M..5F as in the thesis (speaker_ids='native': 03..16)")
