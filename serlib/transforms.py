"""Batch transforms for training: the stability twin, SpecAugment and mixup, composable.

A training batch goes through two stages. On its uint8 segments ``(B, C, F, T)`` (bins and
frames, as stored): the stability twin is made (the store's noisy copy of each segment, or
the segment plus Gaussian noise), then SpecAugment masks bands of bins and frames, the same
bands in a segment and in its twin. The segments become images ``(B, 3, H, W)``; on the
images, mixup mixes each with another of the batch, its twin the same way.

:data:`BATCH_TRANSFORMS` is the registry, in the order they are applied; each entry says
when a :class:`~serlib.config.TrainConfig` switches it on and how it is built. Adding a
transform is one class and one line there (and its options as ``TrainConfig`` fields).
Each draws from its own generator or from the fold's, as the thesis's code did, so that
switching one on does not change the others' draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainConfig
from .losses import mix_like, mixup


@dataclass
class TrainBatch:
    """One batch on its way to the loss.

    ``x``: uint8 segments ``(B, C, F, T)`` at the ``segments`` stage (float in [0, 255]
    once perturbed), images ``(B, 3, H, W)`` at the ``images`` stage; ``targets``: soft
    targets ``(B, K)``; ``twin``: the stability twin of ``x`` at the same stage, or None;
    ``noisy``: fetches the store's noisy copies of the batch, ``copy (B,)`` ->
    ``(B, C, F, T)`` uint8 (None when the store has none).
    """

    x: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor
    twin: torch.Tensor | None = None
    noisy: Callable[[np.ndarray], torch.Tensor] | None = None
    stage: str = "segments"


@dataclass
class RandomState:
    """The generators a fold's transforms draw from: the fold's own (``rng``, as the
    thesis's code used one for shuffling, mixup and twins), a torch generator for Gaussian
    noise, and SpecAugment's (so that switching it on leaves the other draws unchanged)."""

    rng: np.random.Generator
    gen: torch.Generator
    masks: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> RandomState:
        return cls(np.random.default_rng(seed), torch.Generator().manual_seed(seed),
                   np.random.default_rng([seed, 1]))


class StabilityTwin:
    """The perturbed copy that stability training compares with (Zheng et al., 2016): one of
    the store's ``--mixnoise`` copies of each segment, drawn at random, or the segment plus
    Gaussian noise of ``sigma`` (on the [0, 1] scale)."""

    stage = "segments"

    def __init__(self, source: str, sigma: float, state: RandomState) -> None:
        self.source, self.sigma, self.state = source, sigma, state

    def __call__(self, batch: TrainBatch, num_copies: int = 0) -> TrainBatch:
        if self.source == "noisy":
            pick = self.state.rng.integers(num_copies, size=len(batch.labels))
            batch.twin = batch.noisy(pick)
        else:
            x = batch.x.float()
            noise = torch.randn(x.shape, generator=self.state.gen).to(x.device)
            batch.twin = (x + noise * (self.sigma * 255)).clamp_(0, 255)
        return batch


def spec_masks(shape: tuple[int, int, int, int], freq_masks: int, freq_width: int,
               time_masks: int, time_width: int, rng: np.random.Generator) -> np.ndarray:
    """SpecAugment's masks for segments of ``shape`` ``(B, C, F, T)``: a boolean ``(B, F, T)``
    array, True where masked. Per segment, ``freq_masks`` bands of ``f ~ U{0..freq_width}``
    bins starting at ``f0 ~ U{0..F-f}``, and likewise in time (Park et al., 2019)."""
    b, _, n_freq, n_time = shape
    masked = np.zeros((b, n_freq, n_time), dtype=bool)
    for i in range(b):
        for _ in range(freq_masks):
            width = int(rng.integers(0, min(freq_width, n_freq) + 1))
            start = int(rng.integers(0, n_freq - width + 1))
            masked[i, start:start + width, :] = True
        for _ in range(time_masks):
            width = int(rng.integers(0, min(time_width, n_time) + 1))
            start = int(rng.integers(0, n_time - width + 1))
            masked[i, :, start:start + width] = True
    return masked


class SpecAugment:
    """Frequency and time masking (Park et al., 2019) on the segments: each masked cell
    takes the segment's mean value (per channel), and the twin gets the same masks."""

    stage = "segments"

    def __init__(self, config: TrainConfig, state: RandomState) -> None:
        self.config, self.state = config, state

    def __call__(self, batch: TrainBatch, num_copies: int = 0) -> TrainBatch:
        c = self.config
        masked = torch.from_numpy(spec_masks(
            tuple(batch.x.shape), c.specaugment_freq_masks, c.specaugment_freq_width,
            c.specaugment_time_masks, c.specaugment_time_width, self.state.masks))
        masked = masked.to(batch.x.device).unsqueeze(1)  # (B, 1, F, T): every channel
        batch.x = apply_mask(batch.x, masked)
        if batch.twin is not None:
            batch.twin = apply_mask(batch.twin, masked)
        return batch


def apply_mask(x: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, C, F, T)`` with the cells where ``masked`` ``(B, 1, F, T)`` is True set to
    the mean of each segment's channel."""
    mean = x.float().mean(dim=(2, 3), keepdim=True)
    return torch.where(masked, mean.to(x.dtype) if x.is_floating_point() else
                       mean.round().to(x.dtype), x)


class Mixup:
    """mixup (Zhang et al., 2018) on the images: each mixed with another of the batch, its
    targets and its twin the same way (:func:`serlib.losses.mixup`)."""

    stage = "images"

    def __init__(self, alpha: float, mode: str, state: RandomState) -> None:
        self.alpha, self.mode, self.state = alpha, mode, state

    def __call__(self, batch: TrainBatch, num_copies: int = 0) -> TrainBatch:
        num_classes = batch.targets.shape[1]
        batch.x, batch.targets, lam, perm = mixup(batch.x, batch.labels, num_classes,
                                                  self.alpha, self.mode, self.state.rng)
        if batch.twin is not None:
            batch.twin = mix_like(batch.twin, lam, perm)
        return batch


@dataclass(frozen=True)
class TransformEntry:
    """A registered batch transform: when a config switches it on, and how it is built."""

    enabled: Callable[[TrainConfig], bool]
    build: Callable[[TrainConfig, RandomState, str], Callable]


#: The batch transforms, in the order they are applied (``source``: the resolved stability
#: source, ``noisy`` or ``gaussian``).
BATCH_TRANSFORMS: dict[str, TransformEntry] = {
    "stability": TransformEntry(lambda c: c.stability,
                                lambda c, s, source: StabilityTwin(source, c.stability_sigma,
                                                                   s)),
    "specaugment": TransformEntry(lambda c: c.specaugment, lambda c, s, _: SpecAugment(c, s)),
    "mixup": TransformEntry(lambda c: c.mixup,
                            lambda c, s, _: Mixup(c.mixup_alpha, c.mixup_mode, s)),
}


def make_transforms(config: TrainConfig, state: RandomState, stability_source: str = "gaussian"
                    ) -> list:
    """The transforms ``config`` switches on, in the registry's order."""
    return [entry.build(config, state, stability_source)
            for entry in BATCH_TRANSFORMS.values() if entry.enabled(config)]


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Hard targets ``(B, K)`` float of integer labels ``(B,)``."""
    return F.one_hot(labels, num_classes).float()
