"""Training: metrics, losses, oversampling, the scaler, determinism, the thesis's CLI, predict."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import write_wav
from torchvision.models import alexnet as tv_alexnet

from serlib.corpora import index_emodb, synthesize
from serlib.errors import SerlibError
from serlib.extract import extract_features
from serlib.features import FeatureConfig, load_features
from serlib.images import to_images
from serlib.losses import (
    class_weights,
    mixup,
    oversample,
    soft_cross_entropy,
    stability_kl,
)
from serlib.metrics import evaluate_utterances, unweighted_accuracy, utterance_scores
from serlib.scaling import fit_scaler
from serlib.train import TrainConfig, check_speakers, make_splits, train_fold

TINY = dict(num_epochs=1, batch_size=16, image_size=64)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = synthesize(tmp_path_factory.mktemp("c") / "emodb", "emodb", 60, seed=2, jobs=2,
                      progress=False)
    index = index_emodb(root, "emodb-4", progress=False)
    path = extract_features(index, FeatureConfig(segment_size=100, mixnoise=1),
                            root.parent / "store", jobs=2, progress=False)
    return load_features(path)


def test_utterance_aggregation_wa_ua_and_confusion():
    # Three utterances of 2, 1 and 3 segments; classes 0..3; class 3 absent from the set.
    seg = np.log(np.array([[.7, .1, .1, .1], [.2, .6, .1, .1],     # mean favours class 0
                           [.1, .8, .05, .05],                      # class 1
                           [.1, .2, .6, .1], [.1, .6, .2, .1], [.1, .2, .6, .1]]))
    scores = utterance_scores(seg, np.array([2, 1, 3]))
    assert np.allclose(scores[0], (seg[0] + seg[1]) / 2)
    assert scores.argmax(axis=1).tolist() == [0, 1, 2]
    ev = evaluate_utterances(seg, np.array([2, 1, 3]), np.array([0, 2, 2]), num_classes=4)
    assert ev.wa == pytest.approx(2 / 3)
    assert ev.ua == pytest.approx((1.0 + 0.5) / 2)  # recall of classes 0 and 2 only
    assert ev.confusion.shape == (4, 4)  # every class, though class 1 and 3 have no utterance
    assert ev.confusion.tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert unweighted_accuracy(np.array([1, 1]), np.array([1, 0])) == 0.5


def test_mixup_on_hand_made_tensors():
    x = torch.arange(4.0).view(4, 1)
    y = torch.tensor([0, 1, 2, 3])
    xm, tm, lam, perm = mixup(x, y, 4, 0.4, "thesis", np.random.default_rng(0))
    assert torch.all(lam >= 0.5) and len(set(lam.tolist())) == 4  # one lambda per sample
    assert torch.allclose(xm[:, 0], lam * x[:, 0] + (1 - lam) * x[perm, 0])
    assert torch.allclose(tm.sum(dim=1), torch.ones(4))
    assert torch.allclose(tm[torch.arange(4), y], lam + (1 - lam) * (perm == torch.arange(4)))
    _, _, lam_c, _ = mixup(x, y, 4, 0.4, "classic", np.random.default_rng(0))
    assert len(set(lam_c.tolist())) == 1  # one lambda per batch


def test_cross_entropy_and_stability_on_hand_made_tensors():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    y = torch.tensor([0, 2])
    assert torch.isclose(soft_cross_entropy(logits, F.one_hot(y, 3).float()),
                         F.cross_entropy(logits, y))
    assert stability_kl(logits, logits) == pytest.approx(0.0, abs=1e-7)
    p, q = logits.softmax(1), torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).softmax(1)
    expected = (p * (p.log() - q.log())).sum(1).mean()
    assert torch.isclose(stability_kl(logits, q.log()), expected)


def test_class_weights_balance_the_loss():
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 3])  # class 2 absent
    w = class_weights(labels, 4)
    assert w.tolist() == pytest.approx([9 / (3 * 6), 9 / (3 * 2), 0.0, 9 / (3 * 1)])
    counts = np.bincount(labels, minlength=4)
    assert (w * counts)[[0, 1, 3]] == pytest.approx([3.0, 3.0, 3.0])  # each class weighs alike
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = torch.eye(2)
    weighted = soft_cross_entropy(logits, targets, torch.tensor([2.0, 0.0]))
    assert torch.isclose(weighted, F.cross_entropy(logits[:1], torch.tensor([0])))


def test_a_speaker_scaler_maps_each_speakers_background_to_0_and_peaks_to_255():
    from serlib.scaling import fit_speaker_scaler

    rng = np.random.default_rng(0)
    x = rng.uniform(-80, 0, size=(20, 1, 4, 50)).astype(np.float32)  # (N, C, F, T) in dB
    scaler = fit_speaker_scaler(x)
    frames = x.transpose(1, 2, 0, 3).reshape(1, 4, -1)
    assert scaler.low == pytest.approx(np.percentile(frames, 20, axis=2), abs=1e-4)
    assert scaler.high == pytest.approx(np.percentile(frames, 99.5, axis=2), abs=1e-4)
    u8 = scaler.transform(x)
    assert np.mean(u8 == 0) == pytest.approx(0.2, abs=0.01)  # the background: 0
    assert np.mean(u8 == 255) == pytest.approx(0.005, abs=0.003)


def test_speaker_scaling_is_blind_to_a_speakers_own_level(store):
    """A constant dB offset on one speaker (another microphone, another room) changes nothing
    once every speaker is scaled by their own statistics; the thesis's scaler sees it."""
    from serlib.scaling import fit_speaker_scaler

    segs = np.asarray(store["1M"].segments, dtype=np.float32)
    own, shifted = fit_speaker_scaler(segs), fit_speaker_scaler(segs + 12.0)
    assert np.array_equal(own.transform(segs), shifted.transform(segs + 12.0))
    train = check_speakers(store, "1F", "1M")
    _, _, test, scaler = make_splits(store, train, ["1F"], ["1M"], False, by_speaker=True)
    assert np.array_equal(test.x, own.transform(segs))
    assert not np.array_equal(scaler.transform(segs), scaler.transform(segs + 12.0))


def test_noisy_twins_are_scaled_as_noisy_speech_is_at_test(store):
    """With speaker normalisation, a speaker's noisy copy is scaled by its own statistics, as
    accuracy_vs_snr and prediction scale noisy speech: a copy that is the clean segments
    12 dB louder (a level change only) then gives twins identical to the clean images."""
    from serlib.scaling import fit_speaker_scaler

    class Louder:  # the store, with a noisy copy that differs by level alone
        def __init__(self, inner):
            self.inner = inner
            self.noisy = {s: np.asarray(inner[s].segments, np.float32)[None] + 12.0
                          for s in inner}

        def __getitem__(self, speaker):
            return self.inner[speaker]

    train_ids = check_speakers(store, "1F", "1M")
    train, _, _, scaler = make_splits(Louder(store), train_ids, ["1F"], ["1M"], True,
                                      by_speaker=True)
    # Equal up to the last bit of the uint8 rounding (the offset is added in float32).
    assert np.abs(train.noisy[0].astype(int) - train.x).max() <= 1
    first = np.asarray(store[train_ids[0]].segments, np.float32)
    twins = fit_speaker_scaler(first + 12.0).transform(first + 12.0)
    assert np.array_equal(train.noisy[0, :len(first)], twins)
    # The training speakers' scaler (the thesis's rule) does see the level change.
    plain, _, _, _ = make_splits(Louder(store), train_ids, ["1F"], ["1M"], True)
    assert np.abs(plain.noisy[0].astype(int) - plain.x).mean() > 10


def test_oversampling_balances_classes():
    labels = np.array([0, 0, 0, 0, 1, 2, 2, 3, 3, 3])
    idx = oversample(labels, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [4, 4, 4, 4]
    assert set(range(len(labels))) <= set(idx.tolist())  # every original kept


def test_scaler_is_fitted_on_training_speakers_only(store):
    train_ids = check_speakers(store, "1F", "1M")
    train, val, test, scaler = make_splits(store, train_ids, ["1F"], ["1M"], with_noisy=True)
    segs = np.concatenate([np.asarray(store[s].segments, np.float32) for s in train_ids])
    assert np.array_equal(scaler.low, segs.min(axis=(0, 3)))
    assert np.array_equal(scaler.high, segs.max(axis=(0, 3)))
    everyone = fit_scaler(store[s].segments for s in store)
    # The minima are all the -80 dB floor; the maxima show that val/test would change it.
    assert not np.array_equal(everyone.high, scaler.high)
    assert train.x.dtype == np.uint8 and len(val.x) == len(store["1F"].segments)
    assert train.noisy.shape == (1, *train.x.shape)
    # A tenth of the thesis's float32 3x256x384 image per segment, or less.
    assert train.x[0].nbytes <= 3 * 256 * 384 * 4 / 10


def test_to_images_flips_copies_resizes_and_normalises():
    seg = torch.zeros(1, 1, 100, 150, dtype=torch.uint8)
    seg[0, 0, 0] = 255  # the lowest frequency bin
    img = to_images(seg, 128)
    assert img.shape == (1, 3, 128, 192)
    assert torch.allclose(img[0, :, -1], img[0, :, -1, :1])  # bottom row uniform
    assert img[0, 0, -1, 0] > img[0, 0, 0, 0]  # low frequencies are at the bottom
    assert torch.allclose(img[0, 0, 0, 0], torch.tensor(-0.485 / 0.229))


def test_training_is_deterministic(store):
    config = TrainConfig(ser_model="alexnet_gap", mixup=True, stability=True,
                         oversampling=True, **TINY)
    a = train_fold(store, config, "1F", "1M", progress=False, log=lambda _: None)
    b = train_fold(store, config, "1F", "1M", progress=False, log=lambda _: None)
    assert a.history == b.history
    assert (a.test.wa, a.test.ua) == (b.test.wa, b.test.ua)
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


@pytest.mark.parametrize("source", ["noisy", "gaussian"])
def test_a_resident_training_set_gives_the_same_training(store, source):
    """The GPU path keeps the uint8 set on the device; on CPU the same code must give the
    very same fold as batches gathered from the host arrays."""
    config = TrainConfig(ser_model="alexnet_gap", mixup=True, stability=True,
                         stability_source=source, **TINY)
    a = train_fold(store, replace(config, resident=True), "1F", "1M", progress=False,
                   log=lambda _: None)
    b = train_fold(store, replace(config, resident=False), "1F", "1M", progress=False,
                   log=lambda _: None)
    assert a.history == b.history
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


def test_residency_is_decided_by_the_free_device_memory(monkeypatch):
    from serlib.train import keep_resident

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert not keep_resident(cpu, 10, None) and keep_resident(cpu, 10, True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 2**30, 16 * 2**30))
    assert keep_resident(cuda, 600 * 2**20, None)       # an IEMOCAP fold: 0.6 GB of 8 free
    assert not keep_resident(cuda, 5 * 2**30, None)     # more than half of what is free
    assert not keep_resident(cuda, 600 * 2**20, False)  # --no-resident


def test_compile_wraps_the_model_and_checkpoints_stay_plain(store, monkeypatch):
    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    a = train_fold(store, TrainConfig(compile=True, **TINY), "1F", "1M", progress=False,
                   log=lambda _: None)
    b = train_fold(store, TrainConfig(**TINY), "1F", "1M", progress=False, log=lambda _: None)
    assert len(compiled) == 1
    assert a.state_dict.keys() == b.state_dict.keys()  # no "_orig_mod." prefixes
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


@pytest.mark.parametrize("source", ["noisy", "gaussian"])
def test_stability_training_runs_with_each_perturbation(store, source):
    config = TrainConfig(stability=True, stability_source=source, **TINY)
    result = train_fold(store, config, "2F", "2M", progress=False, log=lambda _: None)
    assert np.isfinite(result.history["train_loss"]).all()


def test_bad_speakers_are_explained(store):
    with pytest.raises(SerlibError, match="--test_id '9X' is not a speaker"):
        check_speakers(store, "1F", "9X")
    with pytest.raises(SerlibError, match="must differ"):
        check_speakers(store, "1F", "1F")


def run(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "serlib", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


@pytest.mark.slow
def test_the_seeds_command_line_then_predict(store, tmp_path):
    """The thesis's exact train_ser.py line (1 epoch), offline, with cached ImageNet weights."""
    import os

    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch")}
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(tv_alexnet().state_dict(), cache / "alexnet-owt-7be5be79.pth")
    r = run("train", str(store.path), "--ser_model", "alexnet", "--val_id", "1F", "--test_id",
            "1M", "--num_epochs", "1", "--batch_size", "64", "--lr", "1e-3", "--seed", "111",
            "--gpu", "1", "--save_label", "alexnet_baseline", "--pretrained", "--mixup",
            cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "best model saved to alexnet_baseline.pth" in r.stdout
    ckpt = torch.load(tmp_path / "alexnet_baseline.pth", weights_only=True)
    assert ckpt["classes"] == list(store.classes) and len(ckpt["history"]["val_wa"]) == 1
    assert np.array(ckpt["test"]["confusion"]).shape == (4, 4)
    wav = write_wav(tmp_path / "mine.wav", seconds=4.0, sr=44100, channels=2)
    r = run("predict", "--checkpoint", "alexnet_baseline.pth", str(wav), "--segments",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.split(": ")[1] in store.classes
    probs = [float(v) for v in r.stdout.splitlines()[2].split()[1:]]
    assert len(probs) == 4 and sum(probs) == pytest.approx(1.0, abs=0.01)
    # 4 s = 401 frames: ceil(401 / 100) = 5 one-second segments, after 3 lines of header.
    assert len(r.stdout.splitlines()) == 3 + 5


@pytest.mark.parametrize("args, message", [
    (["--val_id", "1F", "--test_id", "1F"], "must differ"),
    (["--val_id", "1F", "--test_id", "7M"], "is not a speaker"),
    (["--val_id", "1F", "--test_id", "1M", "--ser_model", "resnet"], "invalid choice"),
])
@pytest.mark.slow
def test_train_bad_arguments(store, tmp_path, args, message):
    r = run("train", str(store.path), *args, "--num_epochs", "1", cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_train_refuses_what_is_not_a_store(tmp_path):
    (tmp_path / "IEMOCAP_logspec200.pkl").write_bytes(b"\x80\x04K\x01.")
    r = run("train", "IEMOCAP_logspec200.pkl", "--val_id", "1F", "--test_id", "1M",
            cwd=tmp_path)
    assert r.returncode == 2 and "never loads pickles" in r.stderr
    r = run("train", str(tmp_path), "--val_id", "1F", "--test_id", "1M", cwd=tmp_path)
    assert r.returncode == 2 and "not a serlib feature store" in r.stderr


@pytest.mark.slow
def test_predict_reports_bad_files_and_refuses_pickled_checkpoints(tmp_path):
    import pickle

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"format": "serlib-checkpoint"}) + b"x")
    r = run("predict", "--checkpoint", "evil.pth", "x.wav", cwd=tmp_path)
    assert r.returncode == 2 and "evil.pth" in r.stderr and "Traceback" not in r.stderr


def test_a_speaker_normalised_model_scales_new_recordings_by_themselves(store):
    from serlib.predict import Predictor

    result = train_fold(store, TrainConfig(scaler="speaker", **TINY), "2F", "2M",
                        progress=False, log=lambda _: None)
    predictor = Predictor(result)
    segs = np.asarray(store["2M"].segments[:3])
    assert predictor.scaler_for(segs) is not predictor.scaler
    probs = predictor.segment_probs(segs)
    assert probs.shape == (3, len(store.classes)) and np.allclose(probs.sum(axis=1), 1)
    y = np.random.default_rng(0).normal(0, 0.1, 24_000).astype(np.float32)
    assert predictor.predict_signal(y).probs.sum() == pytest.approx(1.0)


def test_the_fused_optimizer_takes_the_plain_optimizers_steps():
    """``fused`` changes how AdamW computes, not what: the same steps from the same start
    (to within rounding, which Adam's division by sqrt(v) magnifies where v is tiny)."""
    import torch

    from serlib.models import build_model

    torch.manual_seed(0)
    models = [build_model("alexnet_gap", 4) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    start = [p.detach().clone() for p in models[0].parameters()]
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    for model, fused in zip(models, (None, True), strict=True):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b, a0 in zip(models[0].parameters(), models[1].parameters(), start, strict=True):
        moved = (a - a0).abs().max()
        assert moved > 1e-3  # three steps of lr 1e-3 moved every tensor
        # Whole-tensor agreement: a lone element where v is near 0 may round either way.
        norm = torch.linalg.vector_norm
        assert norm((b - a0) - (a - a0)) < 0.01 * norm(a - a0)
