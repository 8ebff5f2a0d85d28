"""The embedded synthetic corpus, written in the real layout of a corpus of the registry.

The real corpora cannot ship (IEMOCAP needs a licence request), so the course
makes its own. In IEMOCAP's and emoDB's layouts: 10 speakers (5 female, 5
male), the corpus's own emotion codes, label files and file names, and 16 kHz
mono 16-bit PCM audio from :mod:`serlib.corpora.voice`. The other layouts
(RAVDESS, CREMA-D, TESS, a folder with a CSV) are written by their corpus
modules with :class:`SynthLayout`, each at its corpus's sample rate, with the
helpers here (:class:`Job`, :func:`vary`, :func:`studio_channels`,
:func:`emotion_profile`). Emotion frequencies follow the real corpora
(IEMOCAP's 10,039 turns give 5,531 utterances under ``full-4``), so a
synthetic corpus of the same size has the same class imbalance.

Each speaker of each session is recorded through a channel of its own
(:class:`~serlib.corpora.voice.Channel`): a recording level, a noise floor of
its own level and colour, and in about half of the cases a mild room, with a
little spread per utterance. As in real corpora, the background's level
relative to the speech then differs between sessions more than between
emotions, so it is no clean cue to the emotion.

The same seed and size give the same corpus, file for file. Writing is
resumable: every wav is written atomically, and a marker file records the
configuration and whether the corpus is complete.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ..errors import SerlibError
from .labels import EMODB_CODES, IEMOCAP_CODES
from .voice import EMOTIONS, SAMPLE_RATE, Channel, EmotionProfile, make_voice, render

MARKER = "serlib-synth.json"
#: 2: recording channels (level, noise floor and colour, room) per session and speaker.
VERSION = 2

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
IEMOCAP_VOICE = {**IEMOCAP_CODES, "xxx": "other"}
# Mean valence, arousal, dominance (1..5) per code, as the annotations roughly give them.
VAD = {"neu": (3.0, 2.5, 2.8), "hap": (4.0, 3.2, 3.0), "exc": (4.0, 3.8, 3.4),
       "sad": (2.0, 2.1, 2.3), "ang": (1.8, 3.9, 3.8), "fru": (2.0, 3.3, 3.3),
       "fea": (2.0, 3.5, 2.2), "sur": (3.5, 3.8, 3.0), "dis": (1.8, 3.2, 3.3),
       "oth": (3.0, 3.0, 3.0), "xxx": (2.8, 3.0, 3.0)}

EMODB_COUNTS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
EMODB_TEXTS = ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]


@dataclass(frozen=True)
class SynthConfig:
    """What a synthetic corpus is made of; recorded in its marker file."""

    layout: str = "iemocap"
    utterances: int = 1000
    seed: int = 0
    sample_rate: int = SAMPLE_RATE
    version: int = VERSION


@dataclass(frozen=True)
class Job:
    """One wav to render: where, whose voice (a key of the layout's speakers), which emotion
    (a name of :data:`~serlib.corpora.voice.EMOTIONS` or a profile), its random seed, and
    its length (``duration_s``, or ``num_syllables`` with ``content_seed`` for a fixed
    sentence) and recording channel."""

    path: str
    speaker: str
    emotion: str | EmotionProfile
    seed: tuple[int, ...]
    duration_s: float | None = None
    num_syllables: int | None = None
    content_seed: int | None = None
    channel: Channel = Channel()


@dataclass(frozen=True)
class SynthLayout:
    """How a synthetic corpus of one layout is written (a corpus's ``SPEC.synth``).

    ``speakers(config)`` lists ``(speaker, gender)`` in the order their voices are
    drawn from the corpus's generator; ``plan(out, config, rng)`` then writes the
    label files and returns the :class:`Job` of every wav. ``sample_rate`` is the
    rate the wavs are written at; ``max_utterances`` what the corpus's design
    holds (None: no limit).
    """

    speakers: Callable[[SynthConfig], list[tuple[str, str]]]
    plan: Callable[[Path, SynthConfig, np.random.Generator], list[Job]]
    sample_rate: int = SAMPLE_RATE
    max_utterances: int | None = None


def layouts() -> dict[str, SynthLayout]:
    """Every corpus of the registry that has a synthetic layout: ``{name: layout}``."""
    from .registry import CORPORA

    return {name: spec.synth for name, spec in CORPORA.items() if spec.synth is not None}


def __getattr__(name: str):
    if name == "LAYOUTS":  # the layouts' names, read from the registry when asked
        return tuple(layouts())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def synthesize(out: str | os.PathLike, layout: str = "iemocap", utterances: int = 1000,
               seed: int = 0, *, jobs: int | None = None, progress: bool = True) -> Path:
    """Write a synthetic corpus in the layout of a registered corpus (``iemocap``,
    ``emodb``, ``ravdess``, ``cremad``, ``tess``, ``folder``) to ``out``.

    Skips the work when ``out`` already holds the same corpus, finishes an
    interrupted one, and refuses to write into a folder that holds anything
    else. Returns ``out``.
    """
    known = layouts()
    if layout not in known:
        raise SerlibError(f"unknown layout {layout!r}; choose one of {list(known)}")
    if utterances < 1:
        raise SerlibError(f"--utterances must be at least 1, not {utterances}")
    spec = known[layout]
    if spec.max_utterances is not None and utterances > spec.max_utterances:
        raise SerlibError(f"--utterances {utterances}: the {layout} layout holds at most "
                          f"{spec.max_utterances} utterances (the real corpus's design)")
    config = SynthConfig(layout, int(utterances), int(seed), spec.sample_rate)
    out = Path(out)
    if _check_marker(out, config):
        return out
    out.mkdir(parents=True, exist_ok=True)
    _write_marker(out, config, complete=False)
    rng = np.random.default_rng(seed)
    voices = {spk: make_voice(spk, gender, rng) for spk, gender in spec.speakers(config)}
    planned = spec.plan(out, config, rng)
    todo = [j for j in planned if not Path(j.path).exists()]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) // 20 or 1))
    bar = tqdm(total=len(planned), initial=len(planned) - len(todo), unit="utt",
               desc=f"synth {layout}", disable=not progress)
    if workers == 1:
        for job in todo:
            _render_job(job, voices[job.speaker], config.sample_rate)
            bar.update()
    else:
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_render_job, j, voices[j.speaker], config.sample_rate)
                       for j in todo]
            for f in futures:
                f.result()
                bar.update()
    bar.close()
    _write_marker(out, config, complete=True)
    return out


def _speakers(layout: str) -> list[str]:
    from .emodb import SPEAKER_IDS

    if layout == "iemocap":
        return [f"{s}{g}" for s in range(1, 6) for g in "FM"]
    return list(SPEAKER_IDS.values())


def _check_marker(out: Path, config: SynthConfig) -> bool:
    """True when ``out`` already holds this corpus complete; raise if it holds another."""
    marker = out / MARKER
    if marker.exists():
        try:
            recorded = json.loads(marker.read_text())
        except (OSError, ValueError):
            recorded = {}
        old = recorded.get("config") or {}
        if old.get("version", 1) != VERSION and {**old, "version": VERSION} == asdict(config):
            raise SerlibError(f"{out} holds a synthetic corpus made by an older serlib "
                              f"(version {old.get('version', 1)}, now {VERSION}), whose audio "
                              "differs: delete the folder and it is made again.")
        if recorded.get("config") != asdict(config):
            raise SerlibError(f"{out} holds a synthetic corpus made with {recorded.get('config')}; "
                              f"asked for {asdict(config)}. Choose another --out or delete it.")
        return bool(recorded.get("complete"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SerlibError(f"{out} exists and was not made by 'serlib synth': "
                          "refusing to write into it. Choose an empty or new folder.")
    return False


def _write_marker(out: Path, config: SynthConfig, *, complete: bool) -> None:
    tmp = out / f".{MARKER}.tmp"
    tmp.write_text(json.dumps({"config": asdict(config), "complete": complete}, indent=2))
    os.replace(tmp, out / MARKER)


def _render_job(job: Job, voice, sample_rate: int) -> None:
    audio = render(voice, job.emotion, np.random.default_rng(job.seed),
                   duration_s=job.duration_s, num_syllables=job.num_syllables,
                   content_seed=job.content_seed, channel=job.channel, sr=sample_rate)
    path = Path(job.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a dot-name (which the indexers skip), then renamed: never half a file.
    tmp = path.with_name(f".{path.stem}.tmp.wav")
    sf.write(tmp, audio, sample_rate, subtype="PCM_16")
    os.replace(tmp, path)


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


def vary(channel: Channel, seed: int, i: int) -> Channel:
    """The channel of utterance ``i``: the speaker's, with a little spread in level and floor
    (people move, doors close)."""
    rng = np.random.default_rng([seed, 2025, i])
    return replace(channel, gain_db=channel.gain_db + float(rng.normal(0, 1.0)),
                   noise_db=channel.noise_db + float(rng.normal(0, 2.0)))


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
        name = IEMOCAP_CODES[it["code"]].capitalize()
        lines += [f"[{start:.4f} - {end:.4f}]\t{it['utt']}\t{it['code']}\t[{v:.4f}, {a:.4f}, "
                  f"{d:.4f}]", f"C-E1:\t{name};\t()", f"C-E2:\t{name};\t()",
                  f"A-E1:\tval {round(v)}; act {round(a)}; dom  {round(d)};\t()", ""]
        cat_lines.append(f"{it['utt']} :{name}; ()")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
    (folder / "Categorical").mkdir(exist_ok=True)
    (folder / "Categorical" / f"{dialog}_e1_cat.txt").write_text("\n".join(cat_lines) + "\n")


def _plan_emodb(out: Path, config: SynthConfig, rng: np.random.Generator) -> list[Job]:
    """Choose speaker, text, emotion and version per file; emoDB has no label files."""
    from .emodb import SPEAKER_IDS

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
        jobs.append(Job(str(out / "wav" / name), SPEAKER_IDS[native], EMODB_CODES[letter],
                        (config.seed, i), num_syllables=text_syllables[text],
                        content_seed=config.seed * 1000 + EMODB_TEXTS.index(text),
                        channel=vary(studio[SPEAKER_IDS[native]], config.seed, i)))
    # More than 26 versions of one (speaker, text, emotion) would repeat a name: keep the first.
    unique = {j.path: j for j in reversed(jobs)}
    return [j for j in jobs if unique[j.path] is j]


#: IEMOCAP's layout: 10 speakers ``1F`` .. ``5M``, the voices drawn in that order.
IEMOCAP_LAYOUT = SynthLayout(lambda config: [(spk, spk[-1]) for spk in _speakers("iemocap")],
                             _plan_iemocap)
#: emoDB's layout: its 10 speakers under the thesis's ids, in the order of SPEAKER_IDS.
EMODB_LAYOUT = SynthLayout(lambda config: [(spk, spk[-1]) for spk in _speakers("emodb")],
                           _plan_emodb)

#: Emotions that the voice model lacks, as profiles. Calm (RAVDESS) is neutral speech a little
#: lower, slower, softer, darker and flatter.
EXTRA_EMOTIONS: dict[str, EmotionProfile] = {
    "calm": EmotionProfile(-1.0, 0.7, 0.9, -2.5, -0.25, 0.14, 0.005, -2.5),
}


def emotion_profile(name: str, intensity: float = 1.0) -> EmotionProfile:
    """The voice profile of emotion ``name`` (:data:`~serlib.corpora.voice.EMOTIONS` or
    :data:`EXTRA_EMOTIONS`) with its deviations from neutral scaled by ``intensity``
    (RAVDESS's strong intensity: 1.4)."""
    profile = EXTRA_EMOTIONS.get(name) or EMOTIONS[name]
    if intensity == 1.0:
        return profile
    neutral = EMOTIONS["neutral"]
    return EmotionProfile(**{f.name: getattr(neutral, f.name) + intensity *
                             (getattr(profile, f.name) - getattr(neutral, f.name))
                             for f in fields(EmotionProfile)})


def studio_channels(speakers: list[str], seed: int, *, floor_db: tuple[float, float] = (-75, -62),
                    room_p: float = 0.0) -> dict[str, Channel]:
    """A recording channel per speaker of a studio corpus: a level, a quiet noise floor in
    ``floor_db`` of its own colour, and a mild room with chance ``room_p``; drawn from a
    generator of its own so the plan's draws do not depend on it."""
    rng = np.random.default_rng([seed, 2024])
    channels = {}
    for spk in speakers:
        channels[spk] = Channel(gain_db=float(rng.uniform(-4, 2)),
                                noise_db=float(rng.uniform(*floor_db)),
                                noise_colour=float(rng.uniform(0.3, 0.95)),
                                rt60_s=float(rng.uniform(0.15, 0.35))
                                if rng.random() < room_p else 0.0)
    return channels

