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

from .config import FeatureConfig, TrainConfig
from .errors import SerlibError
from .files import atomic_path, check_writable, claim_file
from .inference import predict_file
from .metrics import Prediction
from .scaling import Scaler, scaler_for

FORMAT, VERSION = "serlib-onnx", 1
METADATA_KEY = "serlib"


def is_serlib_onnx(path: Path) -> bool:
    """Whether ``path`` is an ONNX model that ``serlib export`` wrote (its metadata)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return any(p.key == METADATA_KEY and json.loads(p.value).get("format") == FORMAT
                   for p in model.metadata_props)
    except Exception:  # noqa: BLE001 - anything unreadable is not ours
        return False


def export_onnx(checkpoint, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Export a checkpoint (a path, a loaded dict or a :class:`~serlib.checkpoints.FoldResult`)
    to ``out`` with its image preparation in the graph and its configuration as metadata;
    returns the path. Needs torch, onnx and onnxscript (``pip install serlib[onnx]``).

    An existing ``out`` is replaced only when it is a serlib ONNX model and ``overwrite``
    is asked; the checkpoint itself, or any other file, never."""
    import torch

    from .images import to_images
    from .predict import Predictor

    try:
        import onnx
    except ImportError:
        raise SerlibError("ONNX export needs the onnx extra: pip install 'serlib[onnx]'") \
            from None
    out = Path(out)
    if isinstance(checkpoint, (str, os.PathLike)) and out.exists() and \
            out.resolve() == Path(checkpoint).resolve():
        raise SerlibError(f"--onnx {out} is the checkpoint itself; give the ONNX model "
                          "another name, e.g. model.onnx")
    claim_file(out, ours=is_serlib_onnx, what="an ONNX model", option="--onnx",
               overwrite=overwrite)
    check_writable(out, "--onnx")
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
        try:
            self.classes = tuple(str(c) for c in meta["classes"])
            self.features = FeatureConfig.from_dict(meta["feature_config"])
            self.config = TrainConfig.from_dict(meta["train_config"])
            self.scaler = Scaler(np.asarray(meta["scaler"]["low"], np.float32),
                                 np.asarray(meta["scaler"]["high"], np.float32))
        except (KeyError, TypeError, ValueError, SerlibError) as e:
            raise SerlibError(f"{self.path}: its serlib metadata is incomplete or damaged "
                              f"({type(e).__name__}: {e}); export it again with 'serlib "
                              "export'") from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if set(inputs) != {"segments", "low", "high"} or outputs != ["log_probs"]:
            raise SerlibError(f"{self.path}: its graph is not one that 'serlib export' writes "
                              f"(inputs {sorted(inputs)}, outputs {outputs}; expected "
                              "segments, low, high -> log_probs); export it again")

    def log_probs(self, segments: np.ndarray, scaler: Scaler | None = None) -> np.ndarray:
        """Log class probabilities ``(N, K)`` of segments ``(N, C, F, T)`` in dB."""
        segments = np.asarray(segments, np.float32)
        scaler = scaler or scaler_for(self.config.scaler, self.scaler, segments)
        return self.session.run(None, {"segments": segments, "low": scaler.low,
                                       "high": scaler.high})[0]

    def predict(self, path: str | os.PathLike) -> Prediction:
        """Probabilities for one file, with the same warnings and parts as
        :meth:`serlib.Predictor.predict` (:func:`serlib.inference.predict_file`); raises
        :class:`~serlib.errors.BadAudioError` for unusable audio."""
        return predict_file(path, self.features, self.classes, self.log_probs)
