"""ONNX export, and prediction with onnxruntime, librosa and numpy only (no torch).

``serlib export --checkpoint LABEL.pth --onnx model.onnx`` writes the trained network
together with the image preparation that training used: segments in dB ``(N, C, F, T)``
are scaled per channel and bin to [0, 1] by ``low`` and ``high`` ``(C, F)`` and quantised
as the training set was, flipped, made three channels, resized and normalised, then
classified; the graph's output is the segments' log-probabilities ``(N, K)``. The
feature configuration, the class names, the training settings and the training
speakers' scaler are stored as metadata (``serlib`` in the model's metadata), so that
``serlib predict --onnx model.onnx FILE.wav`` (:class:`OnnxPredictor`) extracts the
same features, scales them as the checkpoint would (by the training scaler, or by the
recording's own statistics for a model trained with ``--scaler speaker``) and runs the
graph with onnxruntime.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .audio import load_audio
from .config import FeatureConfig, TrainConfig
from .errors import SerlibError
from .features import compute_features, segment, segment_starts
from .files import atomic_path
from .metrics import Prediction, prediction
from .scaling import Scaler, fit_speaker_scaler

FORMAT, VERSION = "serlib-onnx", 1
METADATA_KEY = "serlib"


def export_onnx(checkpoint, out: str | os.PathLike) -> Path:
    """Export a checkpoint (a path, a loaded dict or a :class:`~serlib.train.FoldResult`)
    to ``out`` with its image preparation in the graph and its configuration as metadata;
    returns the path. Needs torch, onnx and onnxscript (``pip install serlib[onnx]``)."""
    import torch

    from .images import to_images
    from .predict import Predictor

    try:
        import onnx
    except ImportError:
        raise SerlibError("ONNX export needs the onnx extra: pip install 'serlib[onnx]'") \
            from None
    predictor = Predictor(checkpoint)
    image_size = predictor.config.image_size

    class Exported(torch.nn.Module):
        """dB segments, the scaler's bounds -> log-probabilities, as training saw them."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, segments, low, high):
            span = torch.clamp(high - low, min=1e-6)[None, :, :, None]
            scaled = torch.clamp((segments - low[None, :, :, None]) / span, 0.0, 1.0)
            quantised = torch.round(scaled * 255.0)  # the uint8 the training set was kept in
            return torch.log_softmax(self.model(to_images(quantised, image_size)), dim=1)

    fc = predictor.features
    example = (torch.zeros(2, fc.channels, fc.freq_bins, fc.segment_size),
               torch.from_numpy(predictor.scaler.low), torch.from_numpy(predictor.scaler.high))
    out = Path(out)
    with atomic_path(out, ".tmp.onnx") as tmp:
        program = torch.onnx.export(
            Exported(predictor.model.float()).eval(), example, dynamo=True,
            input_names=["segments", "low", "high"], output_names=["log_probs"],
            dynamic_shapes={"segments": {0: torch.export.Dim("segments")}, "low": None,
                            "high": None}, verbose=False)
        program.save(str(tmp))
        model = onnx.load(str(tmp))
        meta = {"format": FORMAT, "version": VERSION, "classes": list(predictor.classes),
                "feature_config": fc.to_dict(),
                "train_config": json.loads(json.dumps(asdict(predictor.config))),
                "scaler": {"low": predictor.scaler.low.tolist(),
                           "high": predictor.scaler.high.tolist()}}
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(meta)
        onnx.save(model, str(tmp))
    return out


class OnnxPredictor:
    """An exported model, ready for new recordings without torch: ``predict(path)`` gives
    the same :class:`~serlib.metrics.Prediction` as :class:`serlib.Predictor`."""

    def __init__(self, path: str | os.PathLike) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise SerlibError("prediction with an ONNX model needs onnxruntime: "
                              "pip install 'serlib[onnx]'") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise SerlibError(f"{self.path}: ONNX model not found")
        try:
            self.session = ort.InferenceSession(str(self.path),
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's own error types vary between versions
            raise SerlibError(f"{self.path}: not a loadable ONNX model "
                              f"({str(e).splitlines()[0]})") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        try:
            meta = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            meta = {}
        if meta.get("format") != FORMAT:
            raise SerlibError(f"{self.path}: not a serlib ONNX model (its metadata lacks the "
                              "serlib entry that 'serlib export' writes)")
        if meta.get("version") != VERSION:
            raise SerlibError(f"{self.path}: serlib ONNX format version {meta.get('version')} "
                              f"is not {VERSION}; export it again with this serlib")
        self.classes = tuple(meta["classes"])
        self.features = FeatureConfig.from_dict(meta["feature_config"])
        self.config = TrainConfig.from_dict(meta["train_config"])
        self.scaler = Scaler(np.asarray(meta["scaler"]["low"], np.float32),
                             np.asarray(meta["scaler"]["high"], np.float32))

    def log_probs(self, segments: np.ndarray, scaler: Scaler | None = None) -> np.ndarray:
        """Log class probabilities ``(N, K)`` of segments ``(N, C, F, T)`` in dB."""
        segments = np.asarray(segments, np.float32)
        if scaler is None:
            scaler = fit_speaker_scaler(segments) if self.config.scaler == "speaker" \
                else self.scaler
        return self.session.run(None, {"segments": segments, "low": scaler.low,
                                       "high": scaler.high})[0]

    def predict(self, path: str | os.PathLike) -> Prediction:
        """Probabilities for one file; raises :class:`~serlib.errors.BadAudioError` for
        unusable audio."""
        fc = self.features
        y = load_audio(path, fc.sample_rate, min_samples=fc.win_length)
        x = compute_features(y, fc, np.random.default_rng(fc.seed))
        segs = segment(x, fc.segment_size, fc.pad_values())
        starts = np.array(segment_starts(x.shape[-1], fc.segment_size)) * fc.hop_length / \
            fc.sample_rate
        return prediction(str(path), self.classes, self.log_probs(segs), starts)
