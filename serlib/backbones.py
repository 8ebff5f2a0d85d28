"""The backbone registry: which pre-trained image classifiers ``--ser_model`` can name.

One entry per torchvision classifier. Each gives three models:

- ``NAME`` (finetuned): the ImageNet classifier with its last Linear layer replaced by one
  with ``K`` outputs, as the thesis finetunes AlexNet;
- ``NAME_gap`` (FCN+GAP): the convolutional features ``(B, C, h, w)``, a 1x1 convolution to
  ``K`` class maps and their spatial mean (Lin et al., 2014);
- ``NAME_att`` (attention FCN, Zhang et al., 2019): the same features pooled by attention
  weights over the ``h x w`` time-frequency cells instead of the plain mean, then a Linear
  layer to ``K`` logits.

This module imports neither torch nor torchvision, so that configuration checks and the
command line's choices read it cheaply. Adding a backbone is one :class:`Backbone` line
below; :mod:`serlib.models` builds every form from it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The model forms and the suffix of their names.
FORMS = {"finetune": "", "gap": "_gap", "att": "_att"}


@dataclass(frozen=True)
class Backbone:
    """A torchvision ImageNet classifier and where its parts are.

    ``head`` is the dotted path of the last Linear layer (replaced when finetuning);
    ``features`` the dotted path of the convolutional part, or ``""`` for a model whose
    children up to the global pooling are the features (ResNets); ``channels`` is C of the
    features' output ``(B, C, h, w)``; ``weights`` the member of torchvision's weights enum
    that ``--pretrained`` loads; ``params`` the finetuned model's parameter count for 4
    classes (checked by the tests, printed by docs/REFERENCE.md's table); ``min_image_size`` the
    smallest image side its layers accept (AlexNet's strides and pools need 63 pixels;
    checked by the tests), so that ``--image_size`` is refused before any work.
    """

    name: str
    head: str
    features: str
    channels: int
    weights: str = "IMAGENET1K_V1"
    params: int = 0
    min_image_size: int = 1


BACKBONES: dict[str, Backbone] = {b.name: b for b in [
    Backbone("alexnet", "classifier.6", "features", 256, params=57_020_228, min_image_size=63),
    Backbone("resnet18", "fc", "", 512, params=11_178_564),
    Backbone("resnet50", "fc", "", 2048, weights="IMAGENET1K_V2", params=23_516_228),
    Backbone("vgg16_bn", "classifier.6", "features", 512, params=134_285_380,
             min_image_size=32),
    Backbone("efficientnet_b0", "classifier.1", "features", 1280, params=4_012_672),
    Backbone("mobilenet_v3_large", "classifier.3", "features", 960, params=4_207_156),
    Backbone("convnext_tiny", "classifier.2", "features", 768, params=27_823_204,
             min_image_size=32),
    Backbone("regnet_y_400mf", "fc", "", 440, params=3_904_908),
]}

#: Every ``--ser_model`` that is a network, e.g. ``alexnet``, ``alexnet_gap``, ``resnet18_att``.
MODELS: tuple[str, ...] = tuple(b + suffix for b in BACKBONES for suffix in FORMS.values())


def parse_model(name: str) -> tuple[Backbone, str]:
    """``"resnet18_gap"`` -> (the resnet18 entry, ``"gap"``); KeyError for an unknown name."""
    for form, suffix in FORMS.items():
        if suffix and name.endswith(suffix) and name[: -len(suffix)] in BACKBONES:
            return BACKBONES[name[: -len(suffix)]], form
    return BACKBONES[name], "finetune"
