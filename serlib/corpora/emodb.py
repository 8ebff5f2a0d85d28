"""emoDB (Berlin Database of Emotional Speech): parse ``wav/`` file names.

A name such as ``03a01Fa.wav`` is speaker ``03``, text ``a01``, emotion letter
``F`` (happiness) and version ``a``. The thesis maps emoDB's ten speakers onto
IEMOCAP-style ids (``1M`` .. ``5F``) so that the same fold protocols apply; the
native id is kept in ``native_speaker``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusLayoutError
from .labels import LabelPreset, get_preset
from .table import CorpusIndex, Problem, list_dir, make_table, probe_rows

FILE_NAME = re.compile(r"^(?P<spk>\d{2})(?P<text>[a-z]\d{2})(?P<emo>[A-Z])(?P<ver>[a-z])\.wav$")

#: The thesis's mapping of emoDB's speakers onto session + gender ids.
SPEAKER_IDS: dict[str, str] = {
    "03": "1M", "08": "1F", "09": "2F", "10": "2M", "11": "3M",
    "12": "4M", "13": "3F", "14": "4F", "15": "5M", "16": "5F",
}

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
                progress: bool = True) -> CorpusIndex:
    """Index emoDB: one row per wav file whose emotion the preset keeps.

    The number of files is counted, not assumed (the release has 535). Files
    with names outside emoDB's pattern, unknown speakers or unusable audio
    are reported in ``problems``.
    """
    root = Path(root)
    preset = get_preset("emodb", preset)
    folder = wav_folder(root)
    problems: list[Problem] = []
    rows, excluded = [], 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.name.lower().endswith(".wav"):
            continue
        m = FILE_NAME.match(path.name)
        if m is None:
            problems.append(Problem(str(path), "name does not follow emoDB's pattern "
                                               "(speaker, text, emotion, version: 03a01Fa.wav)"))
            continue
        speaker = SPEAKER_IDS.get(m["spk"])
        if speaker is None:
            problems.append(Problem(str(path), f"unknown emoDB speaker {m['spk']!r}"))
            continue
        if m["emo"] not in preset.mapping and m["emo"] not in "WLEAFTN":
            problems.append(Problem(str(path), f"unknown emotion letter {m['emo']!r}"))
            continue
        label_id = preset.label_id(m["emo"])
        if label_id is None:
            excluded += 1
            continue
        rows.append({"utt_id": path.stem, "path": str(path), "speaker": speaker,
                     "session": int(speaker[0]), "gender": speaker[1], "emotion": m["emo"],
                     "label": preset.classes[label_id], "label_id": label_id,
                     "native_speaker": m["spk"], "text": m["text"], "version": m["ver"]})
    rows = list(probe_rows(rows, problems, desc="emoDB", progress=progress))
    return CorpusIndex("emodb", root, preset, make_table(rows, EXTRA_COLUMNS), problems, excluded)
