"""A small source-filter speech synthesizer whose emotions sound the way studies describe.

Each utterance is a train of syllables (an optional consonant onset, then a
voiced vowel) separated by phrase pauses. The voiced source is a Rosenberg
glottal pulse train following an F0 contour (declination, pitch accents, a
final rise or fall, jitter), shaped by a spectral-tilt filter and aspiration
noise, then by a cascade of four formant resonators. Emotions move the
parameters in the directions reported by Scherer (2003, "Vocal communication
of emotion") and Juslin & Laukka (2003, "Communication of emotions in vocal
expression and music performance"): anger and happiness raise F0 level and
range, tempo and loudness and flatten the spectral tilt; sadness and boredom
lower them and add breathiness; fear raises F0 and jitter with a narrow range.

Speakers differ in F0, vocal-tract length (formant scale), tempo and how
strongly they express emotion; every utterance adds random spread, so classes
overlap and the task is learnable but not trivial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class EmotionProfile:
    """How an emotion shifts a voice, relative to the speaker's neutral voice."""

    f0_shift: float = 0.0      # semitones added to the speaker's F0
    f0_range: float = 1.0      # factor on the size of pitch accents
    rate: float = 1.0          # factor on syllables per second
    loudness_db: float = 0.0   # level change in dB
    tilt: float = 0.0          # > 0 brighter (flatter spectrum, tense voice), < 0 darker
    breathiness: float = 0.10  # aspiration noise relative to the voiced source
    jitter: float = 0.006      # relative F0 perturbation
    final_st: float = -2.0     # final pitch movement in semitones (rise > 0, fall < 0)


# Canonical emotion names (as the corpora's codes map to them) -> profile.
EMOTIONS: dict[str, EmotionProfile] = {
    "neutral": EmotionProfile(),
    "anger": EmotionProfile(4.0, 1.5, 1.12, 8.0, 0.7, 0.04, 0.012, -3.0),
    "happiness": EmotionProfile(4.0, 1.6, 1.08, 4.0, 0.3, 0.08, 0.008, 0.5),
    "excitement": EmotionProfile(5.5, 1.8, 1.15, 6.0, 0.45, 0.06, 0.010, 1.0),
    "sadness": EmotionProfile(-2.0, 0.5, 0.78, -6.0, -0.6, 0.35, 0.010, -3.0),
    "frustration": EmotionProfile(2.0, 1.2, 1.04, 4.0, 0.35, 0.12, 0.010, -2.5),
    "fear": EmotionProfile(6.0, 0.8, 1.15, 0.0, 0.1, 0.25, 0.025, 1.0),
    "surprise": EmotionProfile(5.0, 1.9, 1.0, 3.0, 0.2, 0.10, 0.008, 5.0),
    "disgust": EmotionProfile(-1.0, 1.2, 0.85, 0.0, -0.1, 0.15, 0.010, -4.0),
    "boredom": EmotionProfile(-2.5, 0.4, 0.85, -3.0, -0.4, 0.15, 0.006, -2.0),
    "other": EmotionProfile(0.5, 1.1, 1.0, 0.0, 0.0, 0.10, 0.006, 0.0),
}

# Vowel formants F1..F3 in Hz for an adult male (Peterson & Barney, 1952); F4 fixed.
VOWELS = np.array([
    [270, 2290, 3010], [390, 1990, 2550], [530, 1840, 2480], [660, 1720, 2410],
    [730, 1090, 2440], [570, 840, 2410], [440, 1020, 2240], [300, 870, 2240],
    [640, 1190, 2390],
], dtype=float)
BANDWIDTHS = np.array([70.0, 100.0, 140.0, 180.0])
# Fricative noise bands (Hz): /s/, /sh/, /f/.
FRICATIVES = [(4000, 7500), (2000, 5500), (1200, 7000)]


@dataclass(frozen=True)
class Voice:
    """A speaker: neutral F0, vocal-tract length (as a formant scale) and habits."""

    speaker: str
    gender: str
    f0_hz: float
    formant_scale: float
    rate: float               # syllables per second when neutral
    pitch_range_st: float     # size of a typical pitch accent in semitones
    expressiveness: float     # factor on every emotional deviation from neutral
    breathiness: float


def make_voice(speaker: str, gender: str, rng: np.random.Generator) -> Voice:
    """Draw a speaker's voice: female voices have higher F0 and a shorter vocal tract."""
    female = gender == "F"
    return Voice(
        speaker=speaker, gender=gender,
        f0_hz=float(rng.normal(205, 18) if female else rng.normal(115, 11)),
        formant_scale=float(rng.uniform(1.12, 1.22) if female else rng.uniform(0.94, 1.03)),
        rate=float(rng.uniform(3.8, 5.0)),
        pitch_range_st=float(rng.uniform(1.5, 3.0)),
        expressiveness=float(rng.uniform(0.55, 1.15)),
        breathiness=float(rng.uniform(0.0, 0.08)),
    )


def perturb(profile: EmotionProfile, voice: Voice, rng: np.random.Generator) -> EmotionProfile:
    """The profile one utterance uses: scaled by the speaker's expressiveness, plus spread."""
    n, e = EMOTIONS["neutral"], voice.expressiveness

    def toward(value: float, neutral: float) -> float:
        return neutral + e * (value - neutral)

    return EmotionProfile(
        f0_shift=toward(profile.f0_shift, n.f0_shift) + rng.normal(0, 1.6),
        f0_range=max(0.2, toward(profile.f0_range, n.f0_range) * rng.lognormal(0, 0.3)),
        rate=toward(profile.rate, n.rate) * rng.lognormal(0, 0.09),
        loudness_db=toward(profile.loudness_db, n.loudness_db) + rng.normal(0, 3.0),
        tilt=toward(profile.tilt, n.tilt) + rng.normal(0, 0.3),
        breathiness=float(np.clip(toward(profile.breathiness, n.breathiness)
                                  + voice.breathiness + rng.normal(0, 0.06), 0, 0.8)),
        jitter=max(0.0, toward(profile.jitter, n.jitter) * rng.lognormal(0, 0.3)),
        final_st=toward(profile.final_st, n.final_st) + rng.normal(0, 1.5),
    )


@dataclass(frozen=True)
class Syllable:
    """One syllable of the plan: times in seconds, what is said, and its stress."""

    onset_s: float
    consonant_s: float
    vowel_s: float
    consonant: int      # 0 none, 1 fricative, 2 plosive, 3 nasal
    fricative: int
    vowel: int
    stress: float       # 0..1


def plan_syllables(rng: np.random.Generator, rate: float, *, duration_s: float | None = None,
                   num_syllables: int | None = None,
                   content: np.random.Generator | None = None) -> tuple[list[Syllable], float]:
    """Lay out syllables and phrase pauses; returns them and the total duration in s.

    Give ``duration_s`` to fill a duration (IEMOCAP's turns), or
    ``num_syllables`` to say a fixed sentence (emoDB's texts) whose duration
    then follows from the tempo. ``content`` draws what is said, so that one
    sentence can be spoken with different timing.
    """
    content = content or rng
    t = float(rng.uniform(0.08, 0.3))
    end = (duration_s or np.inf) - float(rng.uniform(0.08, 0.25))
    syllables: list[Syllable] = []
    until_pause = int(rng.integers(3, 8))
    while t < end and (num_syllables is None or len(syllables) < num_syllables):
        length = float(np.clip(rng.lognormal(np.log(1 / rate), 0.28), 0.08, 0.6))
        consonant = int(content.choice(4, p=[0.25, 0.3, 0.3, 0.15]))
        c_len = 0.0 if consonant == 0 else min(0.4 * length, float(rng.uniform(0.04, 0.1)))
        stress = float(content.uniform(0.6, 1.0) if content.random() < 0.3 else
                       content.uniform(0.0, 0.35))
        syllables.append(Syllable(t, c_len, length - c_len, consonant,
                                  int(content.integers(len(FRICATIVES))),
                                  int(content.integers(len(VOWELS))), stress))
        t += length
        until_pause -= 1
        if until_pause == 0:
            t += float(rng.uniform(0.08, 0.35)) / np.sqrt(rate / 4.5)
            until_pause = int(rng.integers(3, 8))
    total = duration_s if duration_s is not None else t + float(rng.uniform(0.1, 0.3))
    return syllables, float(total)


def _f0_contour(syllables: list[Syllable], n: int, voice: Voice, p: EmotionProfile,
                rng: np.random.Generator, sr: int) -> np.ndarray:
    """F0 in Hz per sample: declination, accents on stressed syllables, final movement."""
    total = n / sr
    times = np.array([s.onset_s + s.consonant_s + s.vowel_s / 2 for s in syllables])
    semitones = (p.f0_shift - 2.0 * times / max(total, 1.0)
                 + np.array([s.stress for s in syllables]) * voice.pitch_range_st * p.f0_range
                 * rng.uniform(0.6, 1.4, len(syllables)))
    semitones[-1] += p.final_st
    st = np.interp(np.arange(n) / sr, times, semitones)
    # Slow wander plus cycle-scale jitter, both smoothed so F0 stays a contour.
    wander = signal.lfilter([0.002], [1, -0.998], rng.normal(0, 1, n))
    jitter = signal.lfilter([0.2], [1, -0.8], rng.normal(0, 1, n)) * p.jitter * 12 * 2.5
    return voice.f0_hz * 2 ** ((st + 3 * wander + jitter) / 12)


def _glottal_source(f0: np.ndarray, p: EmotionProfile, sr: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses at F0, tilted, with aspiration noise."""
    phase = np.cumsum(f0 / sr) % 1.0
    open_q = float(np.clip(0.6 - 0.12 * p.tilt, 0.35, 0.85))  # tense voices close faster
    rise, fall = 0.7 * open_q, 0.3 * open_q
    flow = np.where(phase < rise, 0.5 * (1 - np.cos(np.pi * phase / rise)),
                    np.where(phase < open_q, np.cos(0.5 * np.pi * (phase - rise) / fall), 0.0))
    source = np.diff(flow, prepend=0.0) * sr / 200.0
    a = float(np.clip(0.55 - 0.35 * p.tilt, 0.0, 0.93))  # one-pole low-pass: darker when larger
    source = signal.lfilter([1 - a], [1, -a], source)
    noise = signal.lfilter([1, -0.9], [1], rng.normal(0, 1, len(f0)))
    pulse_gate = 0.4 + 0.6 * flow  # aspiration is louder while the glottis is open
    return source + p.breathiness * 0.6 * noise * pulse_gate


def _resonators(formants: np.ndarray, sr: int) -> np.ndarray:
    """Second-order sections of a cascade of formant resonators, unity gain at 0 Hz."""
    sos = []
    for f, bw in zip(formants, BANDWIDTHS[: len(formants)], strict=True):
        r, theta = np.exp(-np.pi * bw / sr), 2 * np.pi * min(f, 0.45 * sr) / sr
        a1, a2 = -2 * r * np.cos(theta), r * r
        sos.append([1 + a1 + a2, 0, 0, 1, a1, a2])
    return np.array(sos)


def _envelope(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n)
    attack, release = min(attack, n // 2), min(release, n // 2)
    if attack:
        env[:attack] = np.sin(0.5 * np.pi * np.arange(attack) / attack) ** 2
    if release:
        env[n - release:] = np.cos(0.5 * np.pi * np.arange(release) / release) ** 2
    return env


@dataclass(frozen=True)
class Channel:
    """How an utterance was recorded: level, noise floor and room.

    Real corpora are recorded in sessions with different microphones, rooms and
    gains, so the level of the background relative to the speech differs by
    session as much as by emotion. ``noise_db`` is the noise floor's RMS in dB
    before the gain; ``noise_colour`` is the coefficient of a one-pole low-pass
    (0 white, 0.95 and above close to brown); ``rt60_s`` 0 means no room.
    """

    gain_db: float = 0.0
    noise_db: float = -55.0
    noise_colour: float = 0.95
    rt60_s: float = 0.0


def room_response(rt60_s: float, rng: np.random.Generator, sr: int = SAMPLE_RATE,
                  drr_db: float = 6.0) -> np.ndarray:
    """A mild room's impulse response ``(L,)``: the direct sound, then exponentially
    decaying noise (60 dB down after ``rt60_s``) ``drr_db`` below it in energy."""
    n = max(1, int(rt60_s * sr))
    tail = rng.normal(0, 1, n) * np.exp(-6.9 * np.arange(n) / n)
    tail[: int(0.002 * sr)] = 0.0  # the first reflections arrive after about 2 ms
    tail *= 10 ** (-drr_db / 20) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    tail[0] = 1.0
    return tail


def record(speech: np.ndarray, channel: Channel, rng: np.random.Generator,
           sr: int = SAMPLE_RATE) -> np.ndarray:
    """What a microphone makes of dry ``speech`` ``(S,)``: the room, the noise floor, the gain,
    and a soft limit instead of hard clipping; float32 ``(S,)`` in [-1, 1]."""
    out = np.asarray(speech, dtype=np.float64)
    if channel.rt60_s > 0:
        out = signal.fftconvolve(out, room_response(channel.rt60_s, rng, sr))[: len(out)]
    a = channel.noise_colour
    noise = signal.lfilter([np.sqrt(1 - a * a)], [1, -a], rng.normal(0, 1, len(out)))
    out = (out + 10 ** (channel.noise_db / 20) * noise) * 10 ** (channel.gain_db / 20)
    return np.tanh(out).astype(np.float32)


def render(voice: Voice, emotion: str | EmotionProfile, rng: np.random.Generator, *,
           duration_s: float | None = None, num_syllables: int | None = None,
           content_seed: int | None = None, channel: Channel = Channel(),
           sr: int = SAMPLE_RATE) -> np.ndarray:
    """Synthesize one utterance; returns float32 samples ``(S,)`` in [-1, 1] at ``sr``.

    ``emotion`` is a name of :data:`EMOTIONS` or a profile. Give ``duration_s``
    or ``num_syllables`` (with ``content_seed`` to say the same sentence again).
    ``channel`` is how it was recorded (:func:`record`).
    """
    profile = EMOTIONS[emotion] if isinstance(emotion, str) else emotion
    p = perturb(profile, voice, rng)
    content = np.random.default_rng(content_seed) if content_seed is not None else None
    syllables, total = plan_syllables(rng, voice.rate * p.rate, duration_s=duration_s,
                                      num_syllables=num_syllables, content=content)
    n = int(round(total * sr))
    out = np.zeros(n)
    if syllables:
        f0 = _f0_contour(syllables, n, voice, p, rng, sr)
        source = _glottal_source(f0, p, sr, rng)
        for s in syllables:
            _add_syllable(out, source, s, voice, p, rng, sr)
    out *= 10 ** (p.loudness_db / 20) * 0.025
    return record(out, channel, rng, sr)


def _add_syllable(out: np.ndarray, source: np.ndarray, s: Syllable, voice: Voice,
                  p: EmotionProfile, rng: np.random.Generator, sr: int) -> None:
    start = int(s.onset_s * sr)
    c_end = min(len(out), start + int(s.consonant_s * sr))
    v_end = min(len(out), c_end + int(s.vowel_s * sr))
    if c_end > start and s.consonant in (1, 2):
        noise = rng.normal(0, 1, c_end - start)
        if s.consonant == 1:
            lo, hi = FRICATIVES[s.fricative]
            noise = signal.sosfilt(signal.butter(2, [lo, min(hi, 0.45 * sr)], "bandpass",
                                                 fs=sr, output="sos"), noise) * 0.5
        else:  # a plosive: closure silence, then a short burst
            burst = min(len(noise), int(0.015 * sr))
            noise[:-burst] = 0.0
        out[start:c_end] += 0.15 * noise * _envelope(len(noise), len(noise) // 5, len(noise) // 4)
    formants = np.append(VOWELS[s.vowel] * rng.uniform(0.95, 1.05, 3), 3500.0)
    if s.consonant == 3 and c_end > start:  # a nasal murmur leads into the vowel
        formants_n = np.array([250.0, 1100.0, 2300.0]) * voice.formant_scale
        seg = source[start:c_end]
        out[start:c_end] += 0.4 * signal.sosfilt(_resonators(formants_n, sr), seg) * \
            _envelope(len(seg), len(seg) // 3, 0)
    seg = source[c_end:v_end]
    if len(seg) < 8:
        return
    voiced = signal.sosfilt(_resonators(formants * voice.formant_scale, sr), seg)
    gain = 0.6 + 0.6 * s.stress
    out[c_end:v_end] += gain * voiced * _envelope(len(seg), int(0.02 * sr), int(0.04 * sr))
