"""The backbone registry: every torchvision classifier in its three forms, ImageNet weights
from a file and from the hub cache, one epoch from the command line, and predict."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from conftest import small_emodb_store

import serlib.models as models
from serlib.backbones import BACKBONES, MODELS, parse_model
from serlib.cli import main
from serlib.config import TrainConfig
from serlib.errors import SerlibError
from serlib.features import load_features
from serlib.models import FCNGAP, AttentionFCN, build_model, count_parameters
from serlib.predict import Predictor
from serlib.train import train_fold

#: A small image: the largest downsampling (32 for the ResNets) still leaves 2x3 cells.
X = torch.randn(2, 3, 64, 96)


def _by_size(names):
    """Every backbone; the largest (over 100 M parameters, VGG) only in the whole suite, so
    that the fast tier stays fast while make test still builds each one."""
    return [pytest.param(n, marks=pytest.mark.slow) if BACKBONES[n].params > 100e6 else n
            for n in names]


def test_every_backbone_in_three_forms():
    assert set(MODELS) == {b + s for b in BACKBONES for s in ("", "_gap", "_att")}
    assert parse_model("resnet18_gap") == (BACKBONES["resnet18"], "gap")
    assert parse_model("alexnet") == (BACKBONES["alexnet"], "finetune")
    with pytest.raises(SerlibError, match="unknown model"):
        build_model("vgg11", 4)
    with pytest.raises(SerlibError, match="unknown --ser_model"):
        TrainConfig(ser_model="resnet18_cam")


@pytest.mark.parametrize("name", _by_size(BACKBONES))
def test_finetuned_model_replaces_the_imagenet_head(name):
    torch.manual_seed(0)
    model = build_model(name, 4).eval()
    imagenet = count_parameters(tvm.get_model(name))
    head_in = model.get_submodule(BACKBONES[name].head).in_features
    # The 1000-way ImageNet layer becomes a 4-way one; nothing else changes.
    assert count_parameters(model) == imagenet - 1000 * (head_in + 1) + 4 * (head_in + 1)
    assert count_parameters(model) == BACKBONES[name].params
    with torch.no_grad():
        assert model(X).shape == (2, 4)


@pytest.mark.parametrize("name", _by_size([b for b, spec in BACKBONES.items()
                                           if spec.min_image_size > 1]))
def test_the_smallest_image_each_backbone_takes(name):
    """``min_image_size`` is exact: every form trains a step on square images of that side
    (the shorter side of a segment's image), and one pixel less fails in the layers, which
    is why TrainConfig refuses it before any work. (The other backbones take any size.)"""
    smallest = BACKBONES[name].min_image_size
    for suffix in ("", "_gap", "_att"):
        model = build_model(name + suffix, 4).train()
        model(torch.randn(2, 3, smallest, smallest)).sum().backward()
        with pytest.raises(RuntimeError):
            model(torch.randn(2, 3, smallest - 1, smallest - 1))
        with pytest.raises(SerlibError, match=f"at least {smallest} pixels"):
            TrainConfig(ser_model=name + suffix, image_size=smallest - 1)


@pytest.mark.parametrize("name", _by_size(BACKBONES))
def test_gap_and_attention_forms(name):
    spec = BACKBONES[name]
    gap = build_model(f"{name}_gap", 3).eval()
    att = build_model(f"{name}_att", 3).eval()
    assert isinstance(gap, FCNGAP) and isinstance(att, AttentionFCN)
    with torch.no_grad():
        maps = gap.class_maps(X)
        assert maps.shape[:2] == (2, 3)
        assert torch.allclose(maps.mean(dim=(2, 3)), gap(X), atol=1e-5)  # GAP of the maps
        features = att.features(X)
        assert features.shape[1] == spec.channels
        weights = att.attention_maps(X)
        assert weights.shape == (2, *features.shape[2:])
        assert torch.allclose(weights.sum(dim=(1, 2)), torch.ones(2), atol=1e-5)
        # The logits are the classifier of the attention-weighted mean of the cells ...
        pooled = (features * weights.unsqueeze(1)).sum(dim=(2, 3))
        assert torch.allclose(att(X), att.classifier(pooled), atol=1e-4)
        # ... and with a constant score per cell, attention pooling is average pooling.
        torch.nn.init.zeros_(att.attention[2].weight)
        assert torch.allclose(att(X), att.classifier(features.mean(dim=(2, 3))), atol=1e-4)


def test_in_channels_replaces_the_first_convolution():
    model = build_model("resnet18_gap", 4, in_channels=1).eval()
    assert model.features[0].in_channels == 1
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 4)


@pytest.mark.parametrize("name", list(BACKBONES))
@pytest.mark.slow
def test_imagenet_weights_from_a_file_and_from_the_hub_cache(name, tmp_path, monkeypatch):
    torch.manual_seed(5)
    # Half precision halves the file (VGG16-BN's is 553 MB in float32); loading converts.
    state = {k: v.half() if v.is_floating_point() else v
             for k, v in tvm.get_model(name).state_dict().items()}
    path = tmp_path / f"{name}.pth"
    torch.save(state, path)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.dim() == 4)

    def first_conv(model) -> torch.Tensor:
        return next(m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d))

    from_file = build_model(f"{name}_gap", 4, weights=path)
    assert torch.equal(first_conv(from_file), state[key].float())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = models.weights_cache_path(name)
    assert cached.name == os.path.basename(models.weights_enum(name).url)
    cached.parent.mkdir(parents=True)
    os.link(path, cached)  # the file torchvision's weights API looks for: no network needed
    from_cache = build_model(name, 4, pretrained=True)
    assert torch.equal(first_conv(from_cache), state[key].float())
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(SerlibError, match=f"(?i)not torchvision {name} weights"):
        build_model(name, 4, weights=other)


def test_offline_error_names_the_backbones_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(models.tvm, "get_model_weights", lambda name: {
        "IMAGENET1K_V1": type("W", (), {"url": "http://127.0.0.1:9/resnet18-f37072fd.pth",
                                        "get_state_dict": staticmethod(_unreachable)})()})
    with pytest.raises(SerlibError, match="Offline: put resnet18-f37072fd.pth") as e:
        build_model("resnet18", 4, pretrained=True)
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in str(e.value)


def _unreachable(**kwargs):
    import urllib.error

    raise urllib.error.URLError("connection refused")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store, index = small_emodb_store(tmp_path_factory.mktemp("b"), seed=3)
    return store.path, index


@pytest.mark.parametrize("name", [*BACKBONES, "alexnet_att", "resnet18_gap"])
@pytest.mark.slow
def test_one_epoch_from_the_command_line_then_predict(name, store, tmp_path, capsys):
    path, index = store
    label = tmp_path / name
    assert main(["train", str(path), "--ser_model", name, "--num_epochs", "1",
                 "--batch_size", "8", "--image_size", "64", "--val_id", "1F", "--test_id", "1M",
                 "--save_label", str(label), "--no-progress"]) == 0
    assert f"best model saved to {label}.pth" in capsys.readouterr().out
    wav = index.table["path"].iloc[0]
    assert main(["predict", "--checkpoint", f"{label}.pth", wav]) == 0
    out = capsys.readouterr().out
    assert os.path.basename(wav) in out and any(c in out for c in index.classes)
    prediction = Predictor(f"{label}.pth").predict(wav)
    assert np.isclose(prediction.probs.sum(), 1.0)


def test_attention_maps_from_a_predictor(store):
    path, index = store
    features = load_features(path)
    config = TrainConfig(ser_model="alexnet_att", num_epochs=1, batch_size=8, image_size=64)
    result = train_fold(features, config, "1F", "1M", progress=False, log=lambda line: None)
    segments = features["1M"].segments[:2]
    maps = Predictor(result).attention_maps(segments)
    assert maps.shape[0] == 2 and np.allclose(maps.sum(axis=(1, 2)), 1.0, atol=1e-5)
    with pytest.raises(SerlibError, match="no class activation maps"):
        Predictor(result).class_maps(segments, np.array([0, 1]))
