"""Features: values against direct librosa, segmentation, padding, noisy twins, the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from conftest import write_wav

from serlib.augment import NoiseConfig, add_noise, add_reverb, room_impulse_responses
from serlib.corpora import index_emodb, synthesize
from serlib.errors import SerlibError
from serlib.extract import extract_features
from serlib.features import FEATURE_TYPES, FeatureConfig, load_features, num_segments, segment

SEG = 60  # frames: short segments so that utterances have several, and some are padded


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = synthesize(tmp_path_factory.mktemp("c") / "emodb", "emodb", 12, seed=5, jobs=1,
                      progress=False)
    sf.write(root / "wav" / "16b10Tz.wav",  # 0.3 s: shorter than one segment, padded
             sf.read(root / "wav" / sorted(p.name for p in (root / "wav").iterdir())[1])[0][
                 :4800], 16000)
    return root


def direct(path, features: str) -> np.ndarray:
    """The thesis's way, written out with librosa alone: ``(C, F, T)``."""
    y, _ = librosa.load(path, sr=16000)
    y = librosa.effects.preemphasis(y, coef=0.97)
    power = np.abs(librosa.stft(y, n_fft=800, hop_length=160, win_length=640,
                                window="hamming")) ** 2
    if "mel" in features:
        base = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=16000, n_fft=800,
                                                                  n_mels=128),
                                   ref=np.max, top_db=80)
    else:
        base = librosa.power_to_db(power[:200], ref=np.max, top_db=80)
    if "delta" in features:
        return np.stack([base, librosa.feature.delta(base, width=5, mode="nearest"),
                         librosa.feature.delta(base, width=5, order=2, mode="nearest")])
    return base[None]


def unsegment(segments: np.ndarray, frames: int) -> np.ndarray:
    """Undo :func:`segment` on the non-padded frames: ``(N, C, F, S)`` -> ``(C, F, frames)``."""
    size = segments.shape[-1]
    if frames <= size:
        return segments[0, :, :, :frames]
    parts = [segments[i] for i in range(len(segments) - 1)]
    tail = frames - size * (len(segments) - 1)
    return np.concatenate(parts + [segments[-1][:, :, size - tail:]], axis=-1)


def segments_of(store, speaker: str, utt: str) -> np.ndarray:
    """One utterance's segments ``(n, C, F, T)``: found by its segment offset."""
    u = list(store.utt_ids[speaker]).index(utt)
    start = int(store[speaker].num_segs[:u].sum())
    return np.asarray(store[speaker].segments[start:start + store[speaker].num_segs[u]])


@pytest.fixture(scope="module")
def stores(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores")
    index = index_emodb(corpus, progress=False)
    return {f: load_features(extract_features(
        index, FeatureConfig(features=f, segment_size=SEG, dtype="float32"), out / f, jobs=1,
        progress=False)) for f in FEATURE_TYPES}


@pytest.mark.parametrize("features", ["logspec", "logmelspec", "logmeldeltaspec",
                                      "logdeltaspec", "lognrevspec"])
def test_values_equal_direct_librosa(stores, corpus, features):
    store = stores[features]
    for spk in store:
        for utt in store.utt_ids[spk]:
            expected = direct(corpus / "wav" / f"{utt}.wav", features)
            got = unsegment(segments_of(store, spk, utt), expected.shape[-1])
            channels = 1 if features == "lognrevspec" else len(expected)
            assert np.abs(got[:channels] - expected[:channels]).max() < 1e-3, (utt, features)


@pytest.mark.parametrize("features", list(FEATURE_TYPES))
def test_every_feature_type_gives_the_shape_it_declares(stores, features):
    """A feature type registered in serlib.spectrograms is extracted, segmented and padded
    as its entry says: (C, F, T) with C its channels and F its bins, the padding of each
    channel (the dB floor, 0 for a derivative), and seeded (the same waveform, the same
    values)."""
    from serlib.features import compute_features

    config = FeatureConfig(features=features, segment_size=SEG, dtype="float32")
    kind = FEATURE_TYPES[features]
    store = stores[features]
    assert store[next(iter(store))].segments.shape[1:] == (kind.channels, config.freq_bins,
                                                          SEG)
    assert len(config.pad_values()) == kind.channels
    assert (config.pad_values() == 0).sum() == (2 if kind.deltas else 0)
    y = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    x = compute_features(y, config)
    assert x.dtype == np.float32 and x.shape[:2] == (kind.channels, config.freq_bins)
    assert np.isfinite(x).all() and np.array_equal(x, compute_features(y, config))


def test_lognrevspec_noise_and_reverb_channels(corpus):
    path = corpus / "wav" / "16b10Tz.wav"
    y, _ = librosa.load(path, sr=16000)
    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(features="lognrevspec", dtype="float32")
    x = extract_features(index, config, corpus.parent / "nrev", jobs=1, progress=False)
    store = load_features(x)
    row = list(index.table.sort_values(["speaker", "utt_id"])["utt_id"]).index("16b10Tz")
    rng = np.random.default_rng([0, row])
    noisy = add_noise(y, 16000, "white", 10.0, rng)
    irs = room_impulse_responses(8, 16000, 0)
    reverb = add_reverb(y, irs[int(rng.integers(8))])
    # The white noise really is at 10 dB SNR.
    snr = 10 * np.log10(np.mean(y.astype(float) ** 2) / np.mean((noisy - y).astype(float) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)  # audiomentations shapes noise spectrally
    frames = direct(path, "logspec").shape[-1]
    seg = segments_of(store, "5F", "16b10Tz")[0]
    for channel, wave in [(1, noisy), (2, reverb)]:
        power = np.abs(librosa.stft(librosa.effects.preemphasis(wave, coef=0.97), n_fft=800,
                                    hop_length=160, win_length=640, window="hamming")) ** 2
        want = librosa.power_to_db(power[:200], ref=np.max, top_db=80)
        assert np.abs(seg[channel, :, :frames] - want).max() < 1e-3
    assert np.abs(seg[1, :, :frames] - seg[0, :, :frames]).mean() > 1.0  # noise is visible


def test_segment_counts_and_overlap():
    x = np.arange(2 * 3 * 250, dtype=np.float32).reshape(2, 3, 250)
    segs = segment(x, 100, np.array([-80.0, 0.0]))
    assert segs.shape == (3, 2, 3, 100) == (num_segments(250, 100), 2, 3, 100)
    assert np.array_equal(segs[2], x[:, :, 150:])  # the last ends at the end
    assert np.array_equal(segs[1], x[:, :, 100:200])
    assert [num_segments(t, 100) for t in (1, 99, 100, 101, 200, 201)] == [1, 1, 1, 2, 2, 3]


def test_store_segment_counts(stores, corpus):
    store = stores["logspec"]
    for spk in store:
        for utt, n in zip(store.utt_ids[spk], store[spk].num_segs, strict=True):
            y, _ = librosa.load(corpus / "wav" / f"{utt}.wav", sr=16000)
            frames = 1 + len(y) // 160
            assert n == max(1, -(-frames // SEG))


@pytest.mark.parametrize("pad, values", [("floor", [-80.0, 0.0, 0.0]), ("zero", [0, 0, 0])])
def test_padding(pad, values):
    config = FeatureConfig(features="logmeldeltaspec", pad=pad)
    x = np.full((3, 4, 10), 5.0, dtype=np.float32)
    out = segment(x, 16, config.pad_values())
    assert out.shape == (1, 3, 4, 16)
    assert np.array_equal(out[0, :, :, :10], x)
    for c, v in enumerate(values):
        assert np.all(out[0, c, :, 10:] == v)
    assert np.all(FeatureConfig(pad=pad).pad_values() == values[0])


def test_short_utterance_is_padded_with_the_floor(stores):
    store = stores["logspec"]
    (seg,) = segments_of(store, "5F", "16b10Tz")
    frames = 1 + 4800 // 160
    assert np.all(seg[:, :, frames:] == -80.0) and seg[:, :, :frames].max() == 0.0


def test_the_fingerprint_tells_stores_apart(stores, corpus, tmp_path):
    """Other features, or another selection of utterances, give another fingerprint; the
    same store, memory-mapped or read whole, the same one."""
    prints = {f: s.fingerprint for f, s in stores.items()}
    assert len(set(prints.values())) == len(prints)
    store = stores["logspec"]
    assert load_features(store.path, mmap=False).fingerprint == prints["logspec"]
    fewer = tmp_path / "fewer"
    shutil.copytree(corpus, fewer)
    next((fewer / "wav").iterdir()).unlink()
    smaller = load_features(extract_features(
        index_emodb(fewer, progress=False), store.config, tmp_path / "s", jobs=1,
        progress=False))
    assert smaller.fingerprint != prints["logspec"]


def test_store_round_trips_without_pickle(stores):
    store = stores["logmeldeltaspec"]
    for f in store.path.glob("*.npy"):
        np.load(f, allow_pickle=False)  # raises on any object array
    segments, utt_labels, seg_labels, num_segs = store["1M"]  # the thesis's tuple
    assert segments.shape[1:] == (3, 128, SEG) and isinstance(segments, np.memmap)
    assert len(seg_labels) == len(segments) == num_segs.sum()
    assert np.array_equal(np.repeat(utt_labels, num_segs), seg_labels)
    assert store.classes[0] == "anger" and store.config.segment_size == SEG
    assert sum(len(store[s].utt_labels) for s in store) == 13
    in_memory = load_features(store.path, mmap=False)
    assert not isinstance(in_memory["1M"].segments, np.memmap)
    assert np.array_equal(in_memory["1M"].segments, segments)


def test_noisy_copies_align_and_repeat(corpus, tmp_path):
    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(segment_size=SEG, mixnoise=2, seed=3)
    store = load_features(extract_features(index, config, tmp_path / "a", jobs=2,
                                           progress=False))
    again = load_features(extract_features(index, config, tmp_path / "b", jobs=1,
                                           progress=False))
    for spk in store:
        clean, noisy = np.asarray(store[spk].segments, float), np.asarray(store.noisy[spk], float)
        assert noisy.shape == (2, *clean.shape)
        assert np.array_equal(noisy, again.noisy[spk])  # seeded; parallel == sequential
        assert np.array_equal(clean, again[spk].segments)
        assert not np.array_equal(noisy[0], clean)
    assert store.fingerprint == again.fingerprint  # what a resumed run checks
    # With mild noise, the loudness contour (max over frequency per frame) of each copy
    # correlates best with its own clean segment: the twins are aligned one to one.
    mild = FeatureConfig(segment_size=SEG, mixnoise=2,
                         noise=NoiseConfig("white", (30, 30), "none"))
    store = load_features(extract_features(index, mild, tmp_path / "m", jobs=1, progress=False))
    # The noisy copies are not part of the fingerprint: the clean segments are the same.
    assert store.fingerprint == again.fingerprint
    for spk in store:
        clean = np.asarray(store[spk].segments, float).max(axis=2)[:, 0]  # (N, T)
        for k in range(2):
            noisy = np.asarray(store.noisy[spk][k], float).max(axis=2)[:, 0]
            corr = np.corrcoef(np.concatenate([noisy, clean]))[: len(noisy), len(noisy):]
            assert np.array_equal(corr.argmax(axis=1), np.arange(len(clean)))


def test_bad_files_are_reported_and_skipped(corpus, tmp_path):
    root = tmp_path / "bad"
    (root / "wav").mkdir(parents=True)
    for p in (corpus / "wav").iterdir():
        (root / "wav" / p.name).write_bytes(p.read_bytes())
    sf.write(root / "wav" / "03a01Na.wav", np.full(8000, np.nan, dtype=np.float32), 16000,
             subtype="FLOAT")
    sf.write(root / "wav" / "03a01Nb.wav", np.zeros(8000), 16000)
    write_wav(root / "wav" / "03a01Nc.wav", seconds=0.01)  # 10 ms, shorter than a frame
    write_wav(root / "wav" / "03a01Nd.wav", seconds=0.5, sr=48000, channels=2)
    write_wav(root / "wav" / "03a01Ne.wav", seconds=0.5, subtype="PCM_24")
    write_wav(root / "wav" / "03a01Nf.wav", seconds=0.5, subtype="PCM_U8")
    index = index_emodb(root, progress=False)
    store = load_features(extract_features(index, FeatureConfig(segment_size=SEG),
                                           tmp_path / "s", jobs=2, progress=False))
    reasons = {p["path"].rsplit("/", 1)[-1]: p["reason"] for p in store.meta["problems"]}
    assert reasons == {"03a01Na.wav": "contains NaN or infinite samples",
                       "03a01Nb.wav": "is silent (every sample is zero)",
                       "03a01Nc.wav": "too short: 10 ms, less than one 40 ms frame"}
    kept = set(store.utt_ids["1M"])
    assert {"03a01Nd", "03a01Ne", "03a01Nf"} <= kept
    assert sum(len(store.utt_ids[s]) for s in store) == 13 + 3


def interrupt_the_write(index, config: FeatureConfig, out: Path, monkeypatch) -> None:
    """Run an extraction that Ctrl-C stops while it writes the store's label files."""
    calls = {"n": 0}
    real_save = np.save

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while writing the store
        return real_save(*args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        extract_features(index, config, out, jobs=1, batch_size=4, progress=False)
    monkeypatch.setattr(np, "save", real_save)


def test_interrupted_write_leaves_nothing_that_loads(corpus, tmp_path, monkeypatch):
    index = index_emodb(corpus, progress=False)
    interrupt_the_write(index, FeatureConfig(segment_size=SEG), tmp_path / "s", monkeypatch)
    with pytest.raises(SerlibError, match="no meta.json .*interrupted"):
        load_features(tmp_path / "s")
    # The arrays had already moved into the store being written: the rerun must find them.
    resumed = load_features(extract_features(index, FeatureConfig(segment_size=SEG),
                                             tmp_path / "s", jobs=1, batch_size=4,
                                             progress=False))
    fresh = load_features(extract_features(index, FeatureConfig(segment_size=SEG),
                                           tmp_path / "f", jobs=1, progress=False))
    assert all(np.array_equal(resumed[s].segments, fresh[s].segments) for s in fresh)
    assert not (tmp_path / "s.partial").exists()
    # A user who deletes the half-done work gets a fresh extraction, not a stale array.
    shutil.rmtree(tmp_path / "s")
    interrupt_the_write(index, FeatureConfig(segment_size=SEG), tmp_path / "s", monkeypatch)
    shutil.rmtree(tmp_path / "s.partial")
    again = load_features(extract_features(index, FeatureConfig(segment_size=SEG),
                                           tmp_path / "s", jobs=1, progress=False))
    assert all(np.array_equal(again[s].segments, fresh[s].segments) for s in fresh)


def test_interrupted_extraction_resumes(corpus, tmp_path, monkeypatch):
    import serlib.extract as ex

    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(segment_size=SEG)
    real = ex._extract_batch
    done = []

    def crash_on_third(task):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(task[0])
        return real(task)

    monkeypatch.setattr(ex, "_extract_batch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
    resumed = []
    monkeypatch.setattr(ex, "_extract_batch", lambda t: (resumed.append(t[0]), real(t))[1])
    extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
    assert done == [0, 1] and resumed == [2, 3]  # finished batches are not redone
    fresh = extract_features(index, config, tmp_path / "f", jobs=1, batch_size=4,
                             progress=False)
    a, b = load_features(tmp_path / "s"), load_features(fresh)
    assert all(np.array_equal(a[s].segments, b[s].segments) for s in a)
    assert not (tmp_path / "s.partial").exists()


def test_a_current_store_keeps_only_another_jobs_partial(corpus, tmp_path, monkeypatch):
    import serlib.extract as ex

    index = index_emodb(corpus, progress=False)
    config, other = FeatureConfig(segment_size=SEG), FeatureConfig(segment_size=SEG + 4)
    real = ex._extract_batch

    def crash_on_second(task):
        if task[0] == 1:
            raise KeyboardInterrupt
        return real(task)

    extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
    monkeypatch.setattr(ex, "_extract_batch", crash_on_second)
    for job in (config, other):  # a partial of each job, next to the current store
        with pytest.raises(KeyboardInterrupt):
            extract_features(index, job, tmp_path / "x", jobs=1, batch_size=4,
                             progress=False)
        shutil.copytree(tmp_path / "x.partial", tmp_path / f"partial-{job.segment_size}")
        shutil.rmtree(tmp_path / "x.partial")
    monkeypatch.setattr(ex, "_extract_batch", real)
    for job, kept in ((other, True), (config, False)):
        (tmp_path / f"partial-{job.segment_size}").rename(tmp_path / "s.partial")
        extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
        # the other job's work is kept; this job's (a kill after the rename) is cleaned up
        assert (tmp_path / "s.partial").exists() == kept, f"segment_size {job.segment_size}"
        shutil.rmtree(tmp_path / "s.partial", ignore_errors=True)


def test_pickled_store_is_refused(stores, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(stores["logspec"].path, bad)
    np.save(bad / "utt_ids.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SerlibError, match="refused, not a plain numpy array"):
        load_features(bad)
    meta = json.loads((bad / "meta.json").read_text())
    (bad / "meta.json").write_text(json.dumps({**meta, "complete": False}))
    with pytest.raises(SerlibError, match="not a complete"):
        load_features(bad)


def test_bad_configs_are_explained():
    with pytest.raises(SerlibError, match="unknown features"):
        FeatureConfig(features="mfcc")
    with pytest.raises(SerlibError, match="nfreq"):
        FeatureConfig(nfreq=500)
    with pytest.raises(SerlibError, match="pad must be"):
        FeatureConfig(pad="edge")


def test_resume_with_another_batch_size_starts_afresh(corpus, tmp_path, monkeypatch):
    import serlib.extract as ex

    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(segment_size=SEG)
    real = ex._extract_batch

    def crash_after_one(task):
        if task[0] == 1:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(ex, "_extract_batch", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
    monkeypatch.setattr(ex, "_extract_batch", real)
    extract_features(index, config, tmp_path / "s", jobs=1, batch_size=3, progress=False)
    fresh = extract_features(index, config, tmp_path / "f", jobs=1, progress=False)
    a, b = load_features(tmp_path / "s"), load_features(fresh)
    assert all(np.array_equal(a[s].segments, b[s].segments) for s in a)
    assert sum(len(a[s].utt_labels) for s in a) == len(index.table)


def test_noise_recordings_and_impulse_responses_from_folders(corpus, tmp_path):
    """DEMAND/MUSAN-style noise and measured impulse responses given as folders."""
    rng = np.random.default_rng(0)
    (tmp_path / "noise").mkdir()
    (tmp_path / "irs").mkdir()
    for k in range(3):
        sf.write(tmp_path / "noise" / f"scene{k}.wav", rng.normal(0, 0.1, 48000), 48000)
        ir = np.zeros(4000)
        ir[0], ir[800 + 500 * k] = 1.0, 0.6
        sf.write(tmp_path / "irs" / f"room{k}.wav", ir, 16000)
    noise = NoiseConfig(str(tmp_path / "noise"), (5, 5), str(tmp_path / "irs"), reverb_p=1.0)
    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(segment_size=SEG, mixnoise=1, noise=noise)
    a = load_features(extract_features(index, config, tmp_path / "a", jobs=2, progress=False))
    b = load_features(extract_features(index, config, tmp_path / "b", jobs=1, progress=False))
    for spk in a:
        assert np.array_equal(a.noisy[spk], b.noisy[spk])
        assert np.abs(np.asarray(a.noisy[spk], float) - np.asarray(a[spk].segments, float)
                      ).mean() > 1.0
    with pytest.raises(SerlibError, match="not a folder of audio files"):
        NoiseConfig(str(tmp_path / "missing")).check()


def test_a_current_store_is_not_extracted_again(corpus, tmp_path, monkeypatch):
    import serlib.extract as ex

    index = index_emodb(corpus, progress=False)
    config = FeatureConfig(segment_size=SEG)
    out = extract_features(index, config, tmp_path / "s", jobs=1, batch_size=4, progress=False)
    before = (out / "segments.npy").stat().st_mtime_ns
    calls = []
    real = ex._extract_batch
    monkeypatch.setattr(ex, "_extract_batch", lambda t: (calls.append(t[0]), real(t))[1])
    extract_features(index, config, out, jobs=1, batch_size=4, progress=False)
    assert calls == [] and (out / "segments.npy").stat().st_mtime_ns == before
    # Other parameters (or other utterances) are a different job: refused, unless the
    # store is to be replaced; then extracted afresh.
    with pytest.raises(SerlibError, match="another extraction \\(differs in: nfreq\\)"):
        extract_features(index, FeatureConfig(segment_size=SEG, nfreq=100), out, jobs=1,
                         batch_size=4, progress=False)
    assert calls == [] and (out / "segments.npy").stat().st_mtime_ns == before
    extract_features(index, FeatureConfig(segment_size=SEG, nfreq=100), out, jobs=1,
                     batch_size=4, progress=False, overwrite=True)
    assert calls == [0, 1, 2, 3] and load_features(out).config.nfreq == 100
    smaller = type(index)(index.corpus, index.root, index.preset, index.table.iloc[:5])
    with pytest.raises(SerlibError, match="differs in: the corpus's utterances"):
        extract_features(smaller, FeatureConfig(segment_size=SEG, nfreq=100), out, jobs=1,
                         batch_size=4, progress=False)
    extract_features(smaller, FeatureConfig(segment_size=SEG, nfreq=100), out, jobs=1,
                     batch_size=4, progress=False, overwrite=True)
    assert load_features(out).meta["num_utterances"] == 5


def test_a_recording_is_split_at_its_pauses():
    from serlib.audio import split_at_pauses

    sr = 16_000
    t = np.arange(sr) / sr
    word = 0.5 * np.sin(2 * np.pi * 220 * t[: sr // 2])          # 0.5 s
    gap_short, gap_long = np.zeros(sr // 10), np.zeros(sr)          # 0.1 s, 1 s
    quiet = 0.05 * np.sin(2 * np.pi * 180 * t)                      # 1 s, 20 dB down
    y = np.concatenate([gap_long, word, gap_short, word, gap_long, quiet, gap_long,
                        word[: sr // 10]])                         # a 0.1-s click at the end
    parts = split_at_pauses(y, sr)
    assert len(parts) == 2  # the two words joined across the short gap; the click dropped
    (a0, a1), (b0, b1) = parts / sr  # librosa frames: boundaries within about 0.13 s
    assert a0 == pytest.approx(1.0, abs=0.15) and a1 == pytest.approx(2.1, abs=0.15)
    assert b0 == pytest.approx(3.1, abs=0.15) and b1 == pytest.approx(4.1, abs=0.15)
    assert split_at_pauses(np.zeros(sr), sr).shape == (0, 2)
