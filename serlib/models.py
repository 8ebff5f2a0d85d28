"""The networks: a pre-trained image classifier finetuned, as FCN+GAP, or with attention.

Every backbone of :data:`serlib.backbones.BACKBONES` comes in three forms (see that
module). The thesis's two models are ``alexnet`` (torchvision's AlexNet with its last
Linear layer replaced, about 57 M parameters) and ``alexnet_gap`` (AlexNet's convolutional
layers, a 1x1 convolution to ``num_classes`` maps, and global average pooling: about
2.5 M parameters, 4.3 % of the first). ImageNet weights come through torchvision's
weights API (its hub cache, or a download) or from a local file.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import torch
import torchvision.models as tvm
from torch import nn
from torchvision.models import AlexNet_Weights

from .backbones import BACKBONES, MODELS, Backbone, parse_model
from .errors import SerlibError

#: AlexNet's ImageNet weights (the other backbones' come from :func:`weights_enum`).
IMAGENET_WEIGHTS = AlexNet_Weights.IMAGENET1K_V1


def weights_enum(backbone: str = "alexnet"):
    """The torchvision weights (``.url``, ``.get_state_dict``) that ``--pretrained`` loads."""
    if backbone == "alexnet":
        return IMAGENET_WEIGHTS  # looked up at call time, so tests can point it elsewhere
    return tvm.get_model_weights(backbone)[BACKBONES[backbone].weights]


def weights_cache_path(backbone: str = "alexnet") -> Path:
    """Where torchvision's weights API keeps a backbone's ImageNet file (the torch hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_enum(backbone).url).name


def _state_keys(backbone: str) -> set[str]:
    try:
        with torch.device("meta"):  # the names only: no memory, no initialisation cost
            return set(tvm.get_model(backbone).state_dict())
    except NotImplementedError:  # a model whose initialisation copies data (RegNet)
        return set(tvm.get_model(backbone).state_dict())


def imagenet_state_dict(weights: str | os.PathLike | None = None,
                        backbone: str = "alexnet") -> dict[str, torch.Tensor]:
    """A backbone's ImageNet weights: from ``weights`` (a local file), else torchvision's
    weights API, which reads the hub cache or downloads into it when online.

    Raises :class:`SerlibError` saying where to put the file when it is not
    cached and cannot be downloaded, and for a file of another architecture.
    """
    enum = weights_enum(backbone)
    if weights is not None:
        path = Path(weights)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise SerlibError(f"{path}: weights file not found") from None
        except Exception as e:  # noqa: BLE001 - a pickle payload or not a torch file at all
            why = ("it holds Python objects that could run code when loaded" if
                   "Unsupported global" in str(e) else "damaged, another kind of file, or a "
                   "pickle")
            raise SerlibError(f"{path}: refused, not a plain weights file ({why}); serlib "
                              "loads only tensors, never code") from None
    else:
        try:
            state = enum.get_state_dict(progress=True, weights_only=True)
        except (urllib.error.URLError, OSError) as e:
            name = Path(enum.url).name
            raise SerlibError(
                f"cannot download the ImageNet {backbone} weights "
                f"({getattr(e, 'reason', e)}). Offline: put {name} (from {enum.url}) "
                f"at {weights_cache_path(backbone)}, or pass --weights PATH") from None
    if not isinstance(state, dict) or set(state) != _state_keys(backbone):
        label = "AlexNet" if backbone == "alexnet" else backbone
        raise SerlibError(f"{weights or weights_cache_path(backbone)}: not torchvision "
                          f"{label} weights")
    return state


def _xavier(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _set_in_channels(model: nn.Module, in_channels: int) -> None:
    """Replace the first convolution by one that reads ``in_channels`` channels."""
    if in_channels == 3:
        return
    name, old = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent), attr, _xavier(nn.Conv2d(
        in_channels, old.out_channels, old.kernel_size, old.stride, old.padding,
        bias=True)))


def _features(model: nn.Module, spec: Backbone) -> nn.Sequential:
    if spec.features:
        return model.get_submodule(spec.features)
    return nn.Sequential(*list(model.children())[:-2])  # ResNet: up to avgpool and fc


class FCNGAP(nn.Module):
    """FCN+GAP: convolutional features ``(B, C, h, w)``, a 1x1 convolution to class maps
    ``(B, K, h, w)`` (class activation maps), then their spatial mean ``(B, K)``."""

    def __init__(self, features: nn.Sequential, num_classes: int, channels: int = 256) -> None:
        super().__init__()
        self.features = features
        self.classifier = _xavier(nn.Conv2d(channels, num_classes, kernel_size=1))

    def class_maps(self, x: torch.Tensor, *, before_last_pool: bool = False) -> torch.Tensor:
        """``(B, C, H, W)`` images -> ``(B, K, h, w)`` class activation maps.

        The model averages the maps after the features' last layer (for AlexNet a
        max-pooling: 3x5 cells for a 128x192 image). ``before_last_pool=True`` applies the
        same 1x1 classifier to the features before that pooling, where the last layer is
        one: maps at twice the resolution (7x11), for drawing; their mean is not the
        model's logit.
        """
        pooled = isinstance(self.features[-1], nn.MaxPool2d)
        features = self.features[:-1] if before_last_pool and pooled else self.features
        return self.classifier(features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_maps(x).mean(dim=(2, 3))


AlexNetGAP = FCNGAP  # the name it had when AlexNet was the only backbone


class AttentionFCN(nn.Module):
    """Attention pooling (Zhang et al., 2019): features ``(B, C, h, w)``, a score per cell
    from a small 1x1-convolution network, softmax over the ``h * w`` cells, the weighted sum
    of the cells' features ``(B, C)``, then a Linear layer to ``(B, K)`` logits."""

    def __init__(self, features: nn.Sequential, num_classes: int, channels: int = 256,
                 attention_dim: int = 128) -> None:
        super().__init__()
        self.features = features
        self.attention = nn.Sequential(_xavier(nn.Conv2d(channels, attention_dim, 1)),
                                       nn.Tanh(), _xavier(nn.Conv2d(attention_dim, 1, 1)))
        self.classifier = _xavier(nn.Linear(channels, num_classes))

    def _weights(self, f: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.attention(f).flatten(1).float(), dim=1).to(f.dtype)

    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` images -> ``(B, h, w)`` attention weights, each map summing to 1."""
        f = self.features(x)
        return self._weights(f).view(f.shape[0], *f.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        pooled = (f.flatten(2) * self._weights(f).unsqueeze(1)).sum(dim=2)
        return self.classifier(pooled)


def build_model(name: str, num_classes: int, *, in_channels: int = 3, pretrained: bool = False,
                weights: str | os.PathLike | None = None) -> nn.Module:
    """A model of :data:`~serlib.backbones.MODELS` for ``num_classes``: images
    ``(B, in_channels, H, W)`` in, logits ``(B, num_classes)`` out. ``pretrained`` (or a
    ``weights`` file) starts from ImageNet weights; new layers are Xavier-initialised as in
    the thesis."""
    if name not in MODELS:
        raise SerlibError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    spec, form = parse_model(name)
    model = tvm.get_model(spec.name)
    if pretrained or weights is not None:
        model.load_state_dict(imagenet_state_dict(weights, spec.name))
    _set_in_channels(model, in_channels)
    if form == "gap":
        return FCNGAP(_features(model, spec), num_classes, spec.channels)
    if form == "att":
        return AttentionFCN(_features(model, spec), num_classes, spec.channels)
    old = model.get_submodule(spec.head)
    parent, _, attr = spec.head.rpartition(".")
    setattr(model.get_submodule(parent), attr, _xavier(nn.Linear(old.in_features, num_classes)))
    return model


def has_batch_norm(model: nn.Module) -> bool:
    """Whether training needs batches of two or more (BatchNorm's statistics)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
