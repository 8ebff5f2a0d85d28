"""The embedded synthetic corpus, written in the real layout of a corpus of the registry.

The real corpora cannot ship (IEMOCAP needs a licence request), so the course
makes its own: each corpus module writes its layout (``iemocap.IEMOCAP_LAYOUT``,
``emodb.EMODB_LAYOUT``, RAVDESS's, CREMA-D's, TESS's, a folder with a CSV) as a
:class:`SynthLayout`, with the corpus's own emotion codes, label files and file
names, at its sample rate, and with the helpers here (:class:`Job`, :func:`vary`,
:func:`studio_channels`, :func:`emotion_profile`); the audio comes from
:mod:`serlib.corpora.voice`. Emotion frequencies follow the real corpora
(IEMOCAP's 10,039 turns give 5,531 utterances under ``full-4``), so a synthetic
corpus of the same size has the same class imbalance.

Each speaker of each session is recorded through a channel of its own
(:class:`~serlib.corpora.voice.Channel`): a recording level, a noise floor of
its own level and colour, and in about half of the cases a mild room, with a
little spread per utterance, so that the background's level relative to the
speech differs between sessions by design.

The same seed and size give the same corpus, file for file. Writing is
resumable: every wav is written atomically, and a marker file records the
configuration and whether the corpus is complete
(:func:`write_corpus`; :func:`serlib.corpora.synthesize` finds the layout by name).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ..errors import SerlibError
from .voice import EMOTIONS, SAMPLE_RATE, Channel, EmotionProfile, make_voice, render

MARKER = "serlib-synth.json"
#: 2: recording channels (level, noise floor and colour, room) per session and speaker.
VERSION = 2


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

    def __post_init__(self) -> None:
        if self.duration_s is None and self.num_syllables is None:  # it would never end
            raise SerlibError(f"{self.path}: a synthetic utterance needs its duration_s or "
                              "its num_syllables")


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


def write_corpus(out: str | os.PathLike, layout: str, spec: SynthLayout, utterances: int,
                 seed: int, *, jobs: int | None = None, progress: bool = True) -> Path:
    """Write the synthetic corpus of ``spec`` (the layout named ``layout``) to ``out``
    (what :func:`serlib.corpora.synthesize` does once it has found the layout).

    Skips the work when ``out`` already holds the same corpus, finishes an
    interrupted one, and refuses to write into a folder that holds anything
    else. Returns ``out``.
    """
    if utterances < 1:
        raise SerlibError(f"--utterances must be at least 1, not {utterances}")
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


def vary(channel: Channel, seed: int, i: int) -> Channel:
    """The channel of utterance ``i``: the speaker's, with a little spread in level and floor
    (people move, doors close)."""
    rng = np.random.default_rng([seed, 2025, i])
    return replace(channel, gain_db=channel.gain_db + float(rng.normal(0, 1.0)),
                   noise_db=channel.noise_db + float(rng.normal(0, 2.0)))


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

