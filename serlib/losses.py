"""The training objectives: cross-entropy, mixup, stability training; and oversampling."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy against soft targets: ``(B, K)`` logits and ``(B, K)`` probabilities,
    each class's term multiplied by ``weights`` ``(K,)`` when given."""
    terms = targets * F.log_softmax(logits.float(), dim=1)
    if weights is not None:
        terms = terms * weights
    return -terms.sum(dim=1).mean()


def class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Scikit-learn's "balanced" weights ``(K,)``: ``n / (K * n_k)`` for the classes present,
    so that every class weighs as much in the loss as in a balanced training set; 0 for a
    class absent from ``labels``."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def mixup(x: torch.Tensor, y: torch.Tensor, num_classes: int, alpha: float, mode: str,
          rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                             torch.Tensor]:
    """Mix a batch with a permutation of itself (Zhang et al., 2018, "mixup").

    ``mode="classic"`` draws one lambda ~ Beta(alpha, alpha) per batch; ``"thesis"``
    draws one per sample and keeps ``max(lambda, 1 - lambda)``, so each mixed
    sample stays closest to its own. ``x`` ``(B, ...)``, integer ``y`` ``(B,)``;
    returns mixed inputs, soft targets ``(B, K)``, the lambdas ``(B,)`` and the
    permutation ``(B,)`` (to mix a twin batch the same way).
    """
    b = len(x)
    perm = torch.from_numpy(rng.permutation(b)).to(x.device)
    if mode == "classic":
        lam = np.full(b, rng.beta(alpha, alpha))
    elif mode in ("thesis", "seed"):  # "seed": the old name
        lam = rng.beta(alpha, alpha, size=b)
        lam = np.maximum(lam, 1 - lam)
    else:
        raise ValueError(f"mixup mode must be 'classic' or 'thesis', not {mode!r}")
    lam_t = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
    onehot = F.one_hot(y, num_classes).to(x.dtype)
    return (mix_like(x, lam_t, perm), mix_like(onehot, lam_t, perm), lam_t, perm)


def mix_like(x: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``lam * x + (1 - lam) * x[perm]`` with ``lam`` ``(B,)`` broadcast over the rest."""
    shape = (-1,) + (1,) * (x.dim() - 1)
    lam = lam.view(shape)
    return lam * x + (1 - lam) * x[perm]


def stability_kl(logits: torch.Tensor, logits_perturbed: torch.Tensor) -> torch.Tensor:
    """KL(f(x) || f(x')), averaged over the batch: the stability term of Zheng et al.
    (2016), which asks the prediction to stay the same under a small perturbation."""
    return F.kl_div(F.log_softmax(logits_perturbed.float(), dim=1),
                    F.log_softmax(logits.float(), dim=1), log_target=True,
                    reduction="batchmean")


def oversample(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices that repeat random members of the smaller classes until every class present
    has as many as the largest: random oversampling of the training set."""
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max()
    parts = []
    for c, n in zip(classes, counts, strict=True):
        idx = np.flatnonzero(labels == c)
        parts.append(np.concatenate([idx, rng.choice(idx, target - n, replace=True)]))
    return np.concatenate(parts)
