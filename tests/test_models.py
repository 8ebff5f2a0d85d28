"""Models: parameter counts, shapes, ImageNet weights from a file, the cache, or a download."""

from __future__ import annotations

import functools
import http.server
import threading
import types

import pytest
import torch
from torchvision.models import alexnet as tv_alexnet

import serlib.models as models
from serlib.errors import SerlibError
from serlib.models import build_model, count_parameters


def test_parameter_counts():
    full = count_parameters(build_model("alexnet", 4))
    gap = count_parameters(build_model("alexnet_gap", 4))
    assert full == 57_020_228  # about 57 M
    assert gap == 2_469_696 + 256 * 4 + 4  # AlexNet's convolutions plus a 1x1 convolution
    assert 0.04 < gap / full < 0.05


@pytest.mark.parametrize("name", ["alexnet", "alexnet_gap"])
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_shapes(name, channels):
    model = build_model(name, 7, in_channels=channels).eval()
    with torch.no_grad():
        assert model(torch.randn(2, channels, 64, 96)).shape == (2, 7)
    assert model.features[0].in_channels == channels


def test_class_maps_average_to_the_logits():
    model = build_model("alexnet_gap", 4).eval()
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        maps = model.class_maps(x)
        assert maps.shape[:2] == (1, 4)
        assert torch.allclose(maps.mean(dim=(2, 3)), model(x))
        fine = model.class_maps(x, before_last_pool=True)
        assert maps.shape[2:] == (3, 5) and fine.shape[2:] == (7, 11)
        # The last max-pooling of the classifier's input gives back the coarse maps' input.
        pooled = model.features[-1](model.features[:-1](x))
        assert torch.allclose(model.classifier(pooled), maps)


@pytest.fixture
def weights_file(tmp_path):
    torch.manual_seed(7)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(tv_alexnet().state_dict(), path)
    return path


def test_pretrained_from_a_local_file(weights_file):
    reference = torch.load(weights_file, weights_only=True)
    model = build_model("alexnet_gap", 4, weights=weights_file)
    assert torch.equal(model.features[3].weight, reference["features.3.weight"])
    full = build_model("alexnet", 4, pretrained=True, weights=weights_file)
    assert torch.equal(full.classifier[4].weight, reference["classifier.4.weight"])
    assert full.classifier[6].out_features == 4


def test_pretrained_from_the_hub_cache(weights_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = models.weights_cache_path()
    assert str(cached).startswith(str(tmp_path / "torch"))
    cached.parent.mkdir(parents=True)
    cached.write_bytes(weights_file.read_bytes())
    model = build_model("alexnet_gap", 4, pretrained=True)  # no network needed
    reference = torch.load(weights_file, weights_only=True)
    assert torch.equal(model.features[0].weight, reference["features.0.weight"])


def _serve(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_download_through_torchvisions_loader(weights_file, tmp_path, monkeypatch):
    """The real download path (torch.hub into its cache), from a server on localhost."""
    httpd = _serve(weights_file.parent)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{weights_file.name}"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(models, "IMAGENET_WEIGHTS", types.SimpleNamespace(
        url=url, get_state_dict=lambda **kw: torch.hub.load_state_dict_from_url(url, **kw)))
    try:
        build_model("alexnet_gap", 4, pretrained=True)
    finally:
        httpd.shutdown()
    assert (tmp_path / "torch" / "hub" / "checkpoints" / weights_file.name).exists()


def test_offline_without_cache_says_where_to_put_the_file(tmp_path, monkeypatch):
    httpd = _serve(tmp_path)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/missing/alexnet-owt-7be5be79.pth"
    httpd.shutdown()
    httpd.server_close()  # nothing listens there any more: the download fails at once
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(models, "IMAGENET_WEIGHTS", types.SimpleNamespace(
        url=url, get_state_dict=lambda **kw: torch.hub.load_state_dict_from_url(url, **kw)))
    with pytest.raises(SerlibError, match="Offline: put alexnet-owt-7be5be79.pth") as e:
        build_model("alexnet", 4, pretrained=True)
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in str(e.value)
    assert "--weights PATH" in str(e.value)


def test_bad_weights_files_are_refused(tmp_path):
    import pickle

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(types.SimpleNamespace(a=1)))
    with pytest.raises(SerlibError, match="refused, not a plain weights file") as e:
        build_model("alexnet", 4, weights=evil)
    assert "weights_only" not in str(e.value)  # torch's advice to load it unsafely: never
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(SerlibError, match="not torchvision AlexNet weights"):
        build_model("alexnet", 4, weights=other)
    with pytest.raises(SerlibError, match="unknown model"):
        build_model("vgg16", 4)
