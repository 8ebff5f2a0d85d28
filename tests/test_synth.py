"""The synthetic corpus: real layouts, determinism, resume, and emotions that differ."""

from __future__ import annotations

import hashlib
import json

import librosa
import numpy as np
import pytest
import soundfile as sf

from serlib.corpora import index_emodb, index_iemocap, synthesize
from serlib.corpora.synth import MARKER
from serlib.corpora.voice import EMOTIONS, make_voice, render
from serlib.errors import SerlibError


def digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MARKER)
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest(), len(files)


@pytest.fixture(scope="module")
def iemocap_synth(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("s") / "iemocap", "iemocap", 120, seed=3,
                      jobs=1, progress=False)


def test_iemocap_layout_indexes(iemocap_synth):
    index = index_iemocap(iemocap_synth, "full-4", progress=False)
    assert index.problems == []
    assert sorted(index.table["speaker"].unique()) == [f"{s}{g}" for s in range(1, 6)
                                                       for g in "FM"]
    wavs = list(iemocap_synth.glob("Session*/sentences/wav/*/*.wav"))
    labelled = sum(len(index_iemocap(iemocap_synth, f"{c}=x", progress=False).table)
                   for c in ["neu", "hap", "exc", "sad", "ang", "fru", "fea", "sur", "dis",
                             "oth", "xxx"])
    assert len(wavs) == labelled == 120
    info = sf.info(str(wavs[0]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert list(iemocap_synth.glob("Session1/dialog/EmoEvaluation/Categorical/*.txt"))
    # Durations written in the label file match the audio.
    t = index.table
    assert np.allclose(t["end_s"] - t["start_s"], t["duration_s"], atol=1e-3)


def test_emodb_layout_indexes(tmp_path):
    root = synthesize(tmp_path / "emodb", "emodb", 60, seed=1, jobs=1, progress=False)
    index = index_emodb(root, progress=False)
    assert index.problems == [] and len(index.table) == 60
    assert set(index.table["native_speaker"]) <= {"03", "08", "09", "10", "11", "12", "13",
                                                   "14", "15", "16"}


@pytest.mark.slow  # over 5 s: the whole suite only, for a fast inner loop
def test_same_seed_same_corpus_and_parallel_equals_sequential(tmp_path, iemocap_synth):
    again = synthesize(tmp_path / "again", "iemocap", 120, seed=3, jobs=2, progress=False)
    assert digest(again) == digest(iemocap_synth)
    other = synthesize(tmp_path / "other", "iemocap", 120, seed=4, jobs=1, progress=False)
    assert digest(other)[0] != digest(iemocap_synth)[0]


@pytest.mark.slow  # over 5 s: the whole suite only, for a fast inner loop
def test_interrupted_synthesis_resumes(tmp_path, iemocap_synth):
    root = synthesize(tmp_path / "c", "iemocap", 120, seed=3, jobs=1, progress=False)
    wavs = sorted(root.rglob("*.wav"))
    for w in wavs[::3]:
        w.unlink()
    marker = json.loads((root / MARKER).read_text())
    (root / MARKER).write_text(json.dumps({**marker, "complete": False}))
    synthesize(root, "iemocap", 120, seed=3, jobs=1, progress=False)
    assert digest(root) == digest(iemocap_synth)
    assert json.loads((root / MARKER).read_text())["complete"] is True


def test_refuses_foreign_or_different_folders(tmp_path, iemocap_synth):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(SerlibError, match="not made by 'serlib synth'"):
        synthesize(tmp_path / "mine", "iemocap", 10, progress=False)
    with pytest.raises(SerlibError, match="holds a synthetic corpus made with"):
        synthesize(iemocap_synth, "iemocap", 10, seed=3, progress=False)
    with pytest.raises(SerlibError, match="unknown layout"):
        synthesize(tmp_path / "x", "timit", 10, progress=False)


def _measure(emotion: str, n: int = 6) -> dict[str, float]:
    """Median F0 (relative to the speaker's), syllable rate proxy, level and brightness."""
    f0s, levels, cents = [], [], []
    for k in range(n):
        rng = np.random.default_rng(k)
        voice = make_voice("1F" if k % 2 else "1M", "F" if k % 2 else "M", rng)
        x = render(voice, emotion, rng, duration_s=2.0)
        f0 = librosa.yin(x, fmin=60, fmax=700, sr=16000, frame_length=2048, hop_length=512)
        rms = librosa.feature.rms(y=x)[0]
        voiced = rms[: len(f0)] > 0.3 * rms.max()
        f0s.append(np.median(f0[voiced]) / voice.f0_hz)
        levels.append(20 * np.log10(np.sqrt(np.mean(x ** 2))))
        cents.append(np.median(librosa.feature.spectral_centroid(y=x, sr=16000)[0][voiced]))
    return {"f0": float(np.mean(f0s)), "level": float(np.mean(levels)),
            "centroid": float(np.mean(cents))}


def test_emotions_differ_as_studies_describe():
    """Anger: higher F0, louder, brighter than neutral; sadness: lower, softer than neutral."""
    ang, neu, sad = _measure("anger"), _measure("neutral"), _measure("sadness")
    assert ang["f0"] > neu["f0"] * 1.1 > sad["f0"] * 1.1
    assert ang["level"] > neu["level"] + 3 > sad["level"] + 6
    assert ang["centroid"] > neu["centroid"]


def test_tempo_and_fixed_sentences():
    rng = np.random.default_rng(0)
    voice = make_voice("1F", "F", rng)
    # emoDB's texts: one sentence, so sad speech (slower) lasts longer than angry speech.
    sad = [len(render(voice, "sadness", np.random.default_rng(k), num_syllables=12,
                      content_seed=7)) for k in range(5)]
    ang = [len(render(voice, "anger", np.random.default_rng(k), num_syllables=12,
                      content_seed=7)) for k in range(5)]
    assert np.mean(sad) > 1.2 * np.mean(ang)
    assert set(EMOTIONS) >= {"neutral", "anger", "happiness", "sadness", "excitement",
                             "frustration", "fear", "surprise", "disgust", "boredom", "other"}


def _floor_below_peak_db(path) -> float:
    """The background's level relative to the speech: the 5th percentile of frame RMS minus
    the loudest frame, in dB."""
    x, _ = sf.read(path)
    db = 20 * np.log10(librosa.feature.rms(y=x, frame_length=512, hop_length=256)[0] + 1e-10)
    return float(np.percentile(db, 5) - db.max())


def test_sessions_differ_in_noise_floor_more_than_emotions_do(iemocap_synth):
    """Recording channels: the floor relative to the speech peak is no clean cue to emotion."""
    table = index_iemocap(iemocap_synth, "full-4", progress=False).table
    table = table.assign(floor=[_floor_below_peak_db(p) for p in table["path"]])
    by_session = table.groupby("session")["floor"].mean()
    by_emotion = table.groupby("label")["floor"].mean()
    assert by_session.std() > by_emotion.std()
    # The emotions keep their loudness: anger still sits further above its floor than sadness.
    assert by_emotion["anger"] < by_emotion["sadness"]


def test_a_corpus_of_an_older_synthesizer_is_named_as_such(tmp_path):
    root = synthesize(tmp_path / "c", "iemocap", 5, seed=0, jobs=1, progress=False)
    marker = json.loads((root / MARKER).read_text())
    del marker["config"]["version"]
    (root / MARKER).write_text(json.dumps(marker))
    with pytest.raises(SerlibError, match="older serlib"):
        synthesize(root, "iemocap", 5, seed=0, progress=False)


def test_a_job_without_a_length_is_refused_instead_of_rendered_forever():
    """A new corpus's synthetic plan that forgets the utterance's length fails at once."""
    from serlib.corpora.synth import Job
    from serlib.errors import SerlibError

    with pytest.raises(SerlibError, match="needs its duration_s or its num_syllables"):
        Job("x.wav", "spk", "neutral", (0, 0))
    assert Job("x.wav", "spk", "neutral", (0, 0), num_syllables=4).num_syllables == 4
