"""The two models of the seed: AlexNet finetuning and FCN+GAP, with ImageNet weights.

``alexnet``: torchvision's AlexNet with its last Linear layer replaced by one
with ``num_classes`` outputs (about 57 M parameters). ``alexnet_gap``
(FCN+GAP): AlexNet's convolutional layers, a 1x1 convolution to
``num_classes`` maps, and global average pooling (Lin et al., 2014, "Network
in Network"): about 2.5 M parameters, 4.3 % of the first.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import torch
from torch import nn
from torchvision.models import AlexNet_Weights
from torchvision.models import alexnet as tv_alexnet

from .config import MODELS
from .errors import SerlibError

IMAGENET_WEIGHTS = AlexNet_Weights.IMAGENET1K_V1


def weights_cache_path() -> Path:
    """Where torchvision's weights API keeps the ImageNet AlexNet file (the torch hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(IMAGENET_WEIGHTS.url).name


def imagenet_state_dict(weights: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """AlexNet's ImageNet weights: from ``weights`` (a local file), else torchvision's
    weights API, which reads the hub cache or downloads into it when online.

    Raises :class:`SerlibError` saying where to put the file when it is not
    cached and cannot be downloaded.
    """
    if weights is not None:
        path = Path(weights)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise SerlibError(f"{path}: weights file not found") from None
        except Exception as e:  # a pickle payload or not a torch file at all
            raise SerlibError(f"{path}: not a loadable weights file ({e})") from None
    else:
        try:
            state = IMAGENET_WEIGHTS.get_state_dict(progress=True, weights_only=True)
        except (urllib.error.URLError, OSError) as e:
            raise SerlibError(
                f"cannot download the ImageNet AlexNet weights ({getattr(e, 'reason', e)}). "
                f"Offline: put {Path(IMAGENET_WEIGHTS.url).name} (from {IMAGENET_WEIGHTS.url}) "
                f"at {weights_cache_path()}, or pass --weights PATH") from None
    expected = set(tv_alexnet().state_dict())
    if not isinstance(state, dict) or set(state) != expected:
        raise SerlibError(f"{weights or weights_cache_path()}: not torchvision AlexNet weights")
    return state


def _xavier(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _backbone(pretrained: bool, weights: str | os.PathLike | None) -> nn.Module:
    model = tv_alexnet()
    if pretrained or weights is not None:
        model.load_state_dict(imagenet_state_dict(weights))
    return model


def _set_in_channels(features: nn.Sequential, in_channels: int) -> None:
    if in_channels != 3:
        old = features[0]
        features[0] = _xavier(nn.Conv2d(in_channels, old.out_channels, old.kernel_size,
                                        old.stride, old.padding))


class AlexNetGAP(nn.Module):
    """FCN+GAP: AlexNet's features ``(B, 256, h, w)``, a 1x1 convolution to class maps
    ``(B, K, h, w)`` (class activation maps), then their spatial mean ``(B, K)``."""

    def __init__(self, features: nn.Sequential, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.classifier = _xavier(nn.Conv2d(256, num_classes, kernel_size=1))

    def class_maps(self, x: torch.Tensor, *, before_last_pool: bool = False) -> torch.Tensor:
        """``(B, C, H, W)`` images -> ``(B, K, h, w)`` class activation maps.

        The model averages the maps after AlexNet's last max-pooling (3x5 cells
        for a 128x192 image). ``before_last_pool=True`` applies the same 1x1
        classifier to the features before that pooling: maps at twice the
        resolution (7x11), for drawing; their mean is not the model's logit.
        """
        features = self.features[:-1] if before_last_pool else self.features
        return self.classifier(features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_maps(x).mean(dim=(2, 3))


def build_model(name: str, num_classes: int, *, in_channels: int = 3, pretrained: bool = False,
                weights: str | os.PathLike | None = None) -> nn.Module:
    """``alexnet`` or ``alexnet_gap`` for ``num_classes``; images ``(B, in_channels, H, W)``
    in, logits ``(B, num_classes)`` out. New layers are Xavier-initialised as in the thesis."""
    if name not in MODELS:
        raise SerlibError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    base = _backbone(pretrained, weights)
    _set_in_channels(base.features, in_channels)
    if name == "alexnet":
        base.classifier[6] = _xavier(nn.Linear(4096, num_classes))
        return base
    return AlexNetGAP(base.features, num_classes)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
