"""From spectrogram segments to the images the ImageNet models expect.

As the seed: per-frequency-bin min-max scaling fitted on the training speakers
only (then applied to validation and test), clipped to [0, 1]; the frequency
axis flipped so low frequencies are at the bottom; one channel copied to
three; resized so the shorter side is 256; ImageNet mean/std normalisation.

The training set is kept compact: segments are scaled once and stored as
uint8 ``(N, C, F, T)`` at their native size (60 KB for a 200x300 segment,
5 % of the thesis's float32 3x256x384 tensor); :func:`to_images` makes each
batch's images on the fly, on the training device.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_images(batch: torch.Tensor, image_size: int = 256) -> torch.Tensor:
    """uint8 segments ``(B, C, F, T)`` -> normalised float images ``(B, 3, H, W)``.

    Low frequencies go to the bottom row; one channel is copied to three; the
    shorter side becomes ``image_size`` (200x300 -> 256x384).
    """
    x = batch.float().div_(255.0).flip(dims=(2,))
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = TF.resize(x, [image_size], antialias=True)
    return TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)
