"""What a model can be asked: the speech check on speech and on noise, tones and chords;
long recordings answered per part; truncated files; the exit status of a partial
``serlib predict``; the ONNX predictor giving the same warnings and parts as torch."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import small_emodb_store

import serlib.inference
from serlib.audio import (
    AUDIO_SUFFIXES,
    MIN_SPEECH_FRACTION,
    load_audio,
    probe_audio,
    read_recording,
    speech_check,
)
from serlib.checkpoints import save_checkpoint
from serlib.cli import main
from serlib.config import FeatureConfig, TrainConfig
from serlib.corpora import index_corpus, synthesize
from serlib.errors import BadAudioError
from serlib.extract import extract_features
from serlib.features import load_features
from serlib.inference import split_recording
from serlib.predict import Predictor
from serlib.train import train_fold

SR = 16_000
ALSA = Path("/usr/share/sounds/alsa")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serlib", *args], capture_output=True,
                          text=True)


# --- non-speech, made here -------------------------------------------------------------------

def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (dbfs / 20)).astype(np.float32)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    return np.fft.irfft(np.fft.rfft(rng.normal(0, 1, n)) / np.sqrt(f), n)


def _chord(seconds: float, every_s: float, root: float = 196.0) -> np.ndarray:
    """A major triad with five harmonics per note, plucked (3-ms attack, harmonics decaying
    faster), struck again every ``every_s``."""
    n = int(seconds * SR)
    y = np.zeros(n)
    for start in np.arange(0, seconds, every_s):
        t = np.arange(n - int(start * SR)) / SR
        note = sum(np.sin(2 * np.pi * root * r * h * t) / h * np.exp(-t * h / 0.8)
                   for r in (1, 5 / 4, 3 / 2) for h in range(1, 6))
        y[int(start * SR):] += note * np.minimum(1, t / 0.003)
    return y


NON_SPEECH = {
    "white noise": lambda rng: _level(rng.normal(0, 1, 3 * SR), -20),
    "pink noise": lambda rng: _level(_pink(rng, 4 * SR), -15),
    "pure tone": lambda rng: _level(np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR), -12),
    "plucked chord": lambda rng: _level(_chord(2.5, 10.0), -12),
    "strummed chord": lambda rng: _level(_chord(5.0, 0.8), -12),
    "silence with hiss": lambda rng: _level(rng.normal(0, 1, 3 * SR), -65),
}


@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> dict[str, Path]:
    """Non-speech wav files: noise, a tone, chords, hiss (and ALSA's Noise.wav if here)."""
    folder = tmp_path_factory.mktemp("sounds")
    out = {}
    for k, (name, make) in enumerate(NON_SPEECH.items()):
        out[name] = folder / f"{name.replace(' ', '_')}.wav"
        sf.write(out[name], make(np.random.default_rng(k)), SR)
    if (ALSA / "Noise.wav").is_file():
        out["ALSA Noise.wav"] = ALSA / "Noise.wav"
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny FCN+GAP trained one epoch on synthetic emoDB: (checkpoint, predictor, index)."""
    tmp = tmp_path_factory.mktemp("model")
    store, index = small_emodb_store(tmp, seed=5)
    result = train_fold(store, TrainConfig(ser_model="alexnet_gap", num_epochs=1, batch_size=16,
                                           image_size=64), "1F", "1M", progress=False,
                        log=lambda line: None)
    return save_checkpoint(result, tmp / "m.pth"), Predictor(result), index


@pytest.fixture(scope="module")
def long_wav(model, tmp_path_factory) -> Path:
    """About 150 s: synthetic utterances one after the other, 0.6 s of quiet between them."""
    _, _, index = model
    pause = np.zeros(int(0.6 * SR), np.float32)
    pieces, total, paths = [], 0.0, list(index.table["path"])
    while total < 150:
        y = load_audio(paths[len(pieces) // 2 % len(paths)], SR)
        pieces += [y, pause]
        total += (len(y) + len(pause)) / SR
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, np.concatenate(pieces), SR)
    return path


def _truncate(src: Path, dst: Path, keep_s: float) -> Path:
    """A copy of the 16-bit wav ``src`` cut after ``keep_s`` of samples (header intact)."""
    dst.write_bytes(src.read_bytes()[:44 + int(keep_s * SR) * 2])
    return dst


@pytest.fixture(scope="module")
def truncated_wav(model, tmp_path_factory) -> Path:
    """A wav whose header promises 4 s and that holds 0.15 s."""
    _, _, index = model
    y = np.concatenate([load_audio(p, SR) for p in index.table["path"][:3]])[:4 * SR]
    folder = tmp_path_factory.mktemp("trunc")
    sf.write(folder / "full.wav", y, SR, subtype="PCM_16")
    return _truncate(folder / "full.wav", folder / "truncated.wav", 0.15)


# --- the speech check --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["iemocap", "emodb", "ravdess", "cremad", "tess", "folder"])
def test_synthetic_speech_of_every_layout_passes_the_speech_check(tmp_path, layout):
    root = synthesize(tmp_path / layout, layout, 16, seed=31, jobs=1, progress=False)
    files = sorted(glob.glob(f"{root}/**/*.wav", recursive=True))
    assert len(files) == 16
    for path in files:
        y, sr = sf.read(path, dtype="float32")
        check = speech_check(y, sr)
        assert check.ok and check.warning() is None, (path, check)
        assert check.fraction >= 0.5, (path, check)  # measured: 0.6 and more
        at_16k = speech_check(load_audio(path, SR), SR)  # what prediction checks
        assert at_16k.ok, (path, at_16k)


def test_real_voices_pass_the_speech_check(tmp_path):
    """espeak-ng's voices and ALSA's spoken channel names, where installed."""
    files = sorted(p for p in ALSA.glob("*.wav") if p.name != "Noise.wav")
    if shutil.which("espeak-ng"):
        for k, (voice, text) in enumerate([
                ("en", "The quick brown fox jumps over the lazy dog."),
                ("en+f3", "I cannot believe you did that again!"),
                ("de", "Das ist doch nicht zu fassen, wirklich nicht."),
                ("fr", "Peut-être demain après-midi, si cela vous convient.")]):
            path = tmp_path / f"espeak{k}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True,
                           capture_output=True)
            files.append(path)
    if not files:
        pytest.skip("neither espeak-ng (apt-get install espeak-ng) nor ALSA's sounds "
                    "(alsa-utils) is installed")
    for path in files:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        check = speech_check(y.mean(axis=1), sr)
        assert check.ok and check.fraction >= 0.5, (path, check)


@pytest.mark.parametrize("name", [*NON_SPEECH, "ALSA Noise.wav"])
def test_noise_tones_chords_and_hiss_fail_the_speech_check(sounds, name):
    if name not in sounds:
        pytest.skip("ALSA's Noise.wav is not installed (alsa-utils)")
    y, sr = sf.read(sounds[name], dtype="float32", always_2d=True)
    check = speech_check(y.mean(axis=1), sr)
    assert check.fraction < MIN_SPEECH_FRACTION and not check.ok
    assert check.fraction == 0.0  # measured: no window of any of these sounds like speech
    assert check.warning().startswith("little or no speech (0 % of it sounds like speech; "
                                      "it sounds like ")
    expected = "steady tones or chords" if "tone" in name or "chord" in name else \
        ("near silence" if "hiss" in name else "steady noise")
    assert check.sounds_like == expected


def test_the_speech_check_of_ten_minutes_takes_seconds(model):
    import time

    _, _, index = model
    y = np.concatenate([load_audio(p, SR) for p in index.table["path"]])
    y = np.tile(y, -(-600 * SR // len(y)))[:600 * SR]
    start = time.perf_counter()
    check = speech_check(y, SR)
    assert time.perf_counter() - start < 10  # measured: about 2 s on 2 cores
    assert check.windows > 2000 and check.ok
    assert np.isnan(speech_check(np.ones(SR // 10, np.float32), SR).fraction)  # too short


# --- prediction ----------------------------------------------------------------------------------

def test_prediction_warns_on_noise_tones_and_chords(model, sounds):
    _, predictor, _ = model
    for name, path in sounds.items():
        p = predictor.predict(path)
        assert len(p.warnings) == 1 and p.warnings[0].startswith("little or no speech"), name
        assert p.speech == 0.0 and p.probs.sum() == pytest.approx(1.0)


def test_prediction_of_speech_has_no_warning(model):
    _, predictor, index = model
    for path in index.table["path"][:8]:
        p = predictor.predict(path)
        assert p.warnings == [] and p.parts == [] and p.speech >= 0.5, (path, p.warnings)
        assert p.start_s == 0.0 and p.end_s == pytest.approx(sf.info(path).duration, abs=1e-3)


@pytest.mark.slow
def test_a_long_recording_is_answered_per_part(model, long_wav, monkeypatch, capsys):
    checkpoint, predictor, _ = model
    assert serlib.inference.MAX_DURATION_S == 60.0
    assert len(predictor.predict(long_wav).parts) >= 3  # 150 s, beyond the default limit
    monkeypatch.setattr(serlib.inference, "MAX_DURATION_S", 20.0)
    p = predictor.predict(long_wav)
    duration = sf.info(long_wav).duration
    assert len(p.parts) > duration / 20
    assert all(0 < part.end_s - part.start_s <= 20.0 + 1e-6 for part in p.parts)
    assert all(a.end_s <= b.start_s for a, b in zip(p.parts, p.parts[1:], strict=False))
    assert all(part.warnings == [] for part in p.parts)  # each part is speech
    assert p.warnings[0].startswith(f"{duration / 60:.1f} min is longer than 20 s: answered "
                                    f"per part, {len(p.parts)} part(s) cut at its pauses")
    assert "split the recording into utterances" in p.warnings[0] and len(p.warnings) == 1
    assert p.end_s == pytest.approx(duration)
    # The file's segments are its parts', at their times in the file.
    assert len(p.segment_probs) == sum(len(part.segment_probs) for part in p.parts)
    assert np.all(np.diff(p.segment_starts_s) > 0)
    assert p.parts[3].segment_starts_s[0] == pytest.approx(p.parts[3].start_s)
    assert main(["predict", "--checkpoint", str(checkpoint), str(long_wav)]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip().startswith("part")]
    assert len(lines) == len(p.parts)
    first = p.parts[0]
    assert lines[0].endswith(f"{first.start_s:.1f}-{first.end_s:.1f} s: {first.emotion}")
    assert f"{long_wav}: {p.emotion} (the whole file; {len(p.parts)} parts below)" in out
    assert err.startswith(f"warning: {long_wav}: {duration / 60:.1f} min is longer than 20 s")


def test_parts_longer_than_the_limit_are_cut_into_windows():
    y = 0.3 * np.sin(2 * np.pi * 200 * np.arange(50 * SR) / SR)  # 50 s without a pause
    parts = split_recording(y, SR, 20.0)
    assert len(parts) == 3 and parts[0, 0] < 0.2 * SR and parts[-1, 1] > 49.8 * SR
    assert np.all(np.diff(parts, axis=1) <= 20 * SR)
    assert np.all(parts[1:, 0] == parts[:-1, 1])


def test_a_truncated_wav_is_predicted_with_a_warning_and_refused_for_training(
        model, truncated_wav):
    _, predictor, _ = model
    info = probe_audio(truncated_wav)
    assert info.truncated and info.promised_frames == 4 * SR and info.frames == 0.15 * SR
    p = predictor.predict(truncated_wav)
    assert p.warnings[0] == ("the header promises 4.00 s, the file holds 0.15 s: the file is "
                             "truncated; only what it holds is used")
    assert read_recording(truncated_wav, SR).truncated
    with pytest.raises(BadAudioError, match="header promises 4.00 s, the file holds 0.15 s"):
        load_audio(truncated_wav, SR)  # strict, as extraction reads
    assert len(load_audio(truncated_wav, SR, strict=False)) == 0.15 * SR


def test_truncated_files_are_problems_of_the_index_and_of_extraction(model, tmp_path):
    """Cut short before indexing: a problem of the index. Cut short after (or an mp3 whose
    header promises more than it decodes): a problem of the extraction, not a crash."""
    _, _, index = model
    root = tmp_path / "mine"
    root.mkdir()
    lines = ["path,speaker,label"]
    for k, path in enumerate(index.table["path"][:6]):
        shutil.copy(path, root / f"s{k % 2}_{k}.wav")
        lines.append(f"s{k % 2}_{k}.wav,s{k % 2},{'ab'[k % 3 == 0]}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    _truncate(root / "s1_1.wav", root / "s1_1.wav", 0.2)
    before = index_corpus("folder", root, progress=False)
    assert [(Path(p.path).name, p.reason.split(":")[0]) for p in before.problems] == \
        [("s1_1.wav", "truncated")]
    _truncate(root / "s0_2.wav", root / "s0_2.wav", 0.3)  # after indexing
    out = extract_features(before, FeatureConfig(segment_size=100), tmp_path / "store", jobs=1,
                           progress=False)
    problems = {Path(p["path"]).name: p["reason"] for p in load_features(out).meta["problems"]}
    assert list(problems) == ["s0_2.wav"] and "the file holds 0.30 s" in problems["s0_2.wav"]
    if ".mp3" in AUDIO_SUFFIXES:
        y, sr = sf.read(root / "s0_0.wav")
        sf.write(tmp_path / "full.mp3", np.tile(y, 3), sr, format="MP3")
        data = (tmp_path / "full.mp3").read_bytes()
        (tmp_path / "cut.mp3").write_bytes(data[:len(data) // 2])
        with pytest.raises(BadAudioError, match="the file is truncated"):
            load_audio(tmp_path / "cut.mp3", SR)


# --- the command line ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_and_bad(model, sounds, tmp_path_factory):
    _, _, index = model
    folder = tmp_path_factory.mktemp("cli")
    (folder / "bad.wav").write_bytes(b"RIFF\x00junk")
    return Path(index.table["path"].iloc[0]), folder / "bad.wav", sounds["white noise"]


@pytest.mark.slow
def test_predict_stops_at_an_unreadable_file_with_one_error_line(model, good_and_bad):
    checkpoint, _, _ = model
    good, bad, _ = good_and_bad
    r = run("predict", "--checkpoint", str(checkpoint), str(bad), str(good))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"serlib: error: {bad}: not a readable audio file (")
    assert line.endswith(") (--keep-going predicts the other files)")
    assert r.stdout == ""


@pytest.mark.slow
def test_predict_keeps_going_but_still_fails_when_a_file_was_skipped(model, good_and_bad):
    checkpoint, _, _ = model
    good, bad, noise = good_and_bad
    r = run("predict", "--checkpoint", str(checkpoint), "--keep-going", str(bad), str(good),
            str(noise))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{good}: " in r.stdout and f"{noise}: " in r.stdout  # both others answered
    err = r.stderr.strip().splitlines()
    assert err[0].startswith(f"skipped: {bad}: not a readable audio file")
    assert err[1].startswith(f"warning: {noise}: little or no speech (0 % of it sounds like "
                             "speech; it sounds like steady noise)")
    assert err[-1] == (f"serlib: error: 1 of 3 file(s) could not be read and were skipped "
                       f"({bad}; the reasons are above)")


def test_predict_warns_and_succeeds_when_every_file_was_read(model, good_and_bad, capsys):
    checkpoint, _, _ = model
    good, _, noise = good_and_bad
    assert main(["predict", "--checkpoint", str(checkpoint), str(good), str(noise)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}: ") and f"\n{noise}: " in out
    assert err.splitlines() == [f"warning: {noise}: little or no speech (0 % of it sounds like "
                                "speech; it sounds like steady noise): the model answers one "
                                "of its classes for anything, so this answer means nothing"]


# --- ONNX --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_onnx_gives_the_same_warnings_and_parts(model, sounds, long_wav, truncated_wav,
                                                tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from serlib.deploy import OnnxPredictor, export_onnx

    checkpoint, predictor, _ = model
    onnx_predictor = OnnxPredictor(export_onnx(checkpoint, tmp_path / "m.onnx"))
    monkeypatch.setattr(serlib.inference, "MAX_DURATION_S", 30.0)
    for path in [sounds["plucked chord"], sounds["white noise"], long_wav, truncated_wav]:
        a, b = onnx_predictor.predict(path), predictor.predict(path)
        assert a.warnings == b.warnings and a.warnings, path
        assert a.emotion == b.emotion and np.abs(a.probs - b.probs).max() < 1e-4
        assert [(p.start_s, p.end_s, p.emotion, p.warnings) for p in a.parts] == \
            [(p.start_s, p.end_s, p.emotion, p.warnings) for p in b.parts]
    assert len(a.parts) == 0 and len(onnx_predictor.predict(long_wav).parts) >= 5
