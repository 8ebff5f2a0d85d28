"""Inference: a wav file in, class probabilities out, with the checkpoint's own pipeline.

The features are extracted with the checkpoint's feature config and scaled
with the scaler fitted on its training speakers, so a prediction sees exactly
what training saw. Any sample rate, mono or stereo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .audio import load_audio
from .features import FeatureConfig, compute_features, segment
from .images import Scaler, to_images
from .metrics import utterance_scores
from .models import build_model
from .train import TrainConfig, load_checkpoint, resolve_device


@dataclass
class Prediction:
    """One file's result: the emotion, utterance probabilities ``(K,)`` and per segment
    ``(N, K)``, each segment's start in seconds."""

    path: str
    emotion: str
    probs: np.ndarray
    segment_probs: np.ndarray
    segment_starts_s: np.ndarray


class Predictor:
    """A trained model with its feature config and scaler, ready for new recordings."""

    def __init__(self, checkpoint: str | os.PathLike, device: str = "cpu") -> None:
        ckpt = load_checkpoint(checkpoint)
        self.classes = tuple(ckpt["classes"])
        self.config = TrainConfig.from_dict(ckpt["config"])
        self.features = FeatureConfig.from_dict(ckpt["feature_config"])
        self.scaler = Scaler.from_dict(ckpt["scaler"])
        self.device = resolve_device(device)
        self.model = build_model(self.config.ser_model, len(self.classes))
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.to(self.device).eval()

    @torch.no_grad()
    def predict(self, path: str | os.PathLike) -> Prediction:
        """Probabilities for one file; raises :class:`BadAudioError` for unusable audio."""
        fc = self.features
        y = load_audio(path, fc.sample_rate, min_samples=fc.win_length)
        x = compute_features(y, fc, np.random.default_rng(fc.seed))
        frames = x.shape[-1]
        segs = segment(x, fc.segment_size, fc.pad_values())
        images = to_images(torch.from_numpy(self.scaler.transform(segs)).to(self.device),
                           self.config.image_size)
        log_probs = torch.log_softmax(self.model(images).float(), dim=1).cpu().numpy()
        utt = utterance_scores(log_probs, np.array([len(segs)]))[0]
        probs = np.exp(utt - utt.max())
        probs /= probs.sum()
        starts = [i * fc.segment_size for i in range(len(segs) - 1)] + \
            [max(0, frames - fc.segment_size)]
        return Prediction(str(path), self.classes[int(probs.argmax())], probs,
                          np.exp(log_probs), np.array(starts) * fc.hop_length / fc.sample_rate)
