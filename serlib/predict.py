"""Inference: a wav file in, class probabilities out, with the checkpoint's own pipeline.

The features are extracted with the checkpoint's feature config and scaled
with the scaler fitted on its training speakers, so a prediction sees exactly
what training saw. Any sample rate, mono or stereo. What the model can be asked
(:mod:`serlib.inference`, shared with the ONNX predictor): a prediction warns when
a file holds little or no speech or is truncated, and answers a recording longer
than a minute per part. :func:`accuracy_vs_snr` measures how WA and UA fall as
noise is added to test utterances.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix
from tqdm.auto import tqdm

from .audio import load_audio
from .augment import add_noise
from .checkpoints import FoldResult, checkpoint_payload, load_checkpoint
from .config import TrainConfig
from .errors import SerlibError
from .features import FeatureConfig, compute_features, segment
from .images import to_images
from .inference import predict_file, predict_part
from .metrics import (
    Prediction,
    fold_scores,
    unweighted_accuracy,
    utterance_scores,
    weighted_accuracy,
)
from .models import build_model
from .scaling import Scaler, scaler_for
from .train import resolve_device


class Predictor:
    """A trained model with its feature config and scaler, ready for new recordings."""

    def __init__(self, checkpoint: str | os.PathLike | dict | FoldResult,
                 device: str = "cpu") -> None:
        """``checkpoint``: a file from ``serlib train``/``save_checkpoint``, its loaded dict,
        or the :class:`FoldResult` of :func:`serlib.train.train_fold`."""
        if isinstance(checkpoint, FoldResult):
            ckpt = checkpoint_payload(checkpoint)
        elif isinstance(checkpoint, dict):
            ckpt = checkpoint
        else:
            ckpt = load_checkpoint(checkpoint)
        self.classes = tuple(ckpt["classes"])
        self.config = TrainConfig.from_dict(ckpt["config"])
        self.features = FeatureConfig.from_dict(ckpt["feature_config"])
        self.scaler = Scaler.from_dict(ckpt["scaler"])
        self.device = resolve_device(device)
        self.model = build_model(self.config.ser_model, len(self.classes))
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.to(self.device).eval()

    def predict(self, path: str | os.PathLike) -> Prediction:
        """Probabilities for one file, with ``warnings`` where the question does not fit
        (little or no speech, a truncated file, a lossy format) and, for a recording longer
        than :data:`serlib.inference.MAX_DURATION_S`, one answer per part in ``parts``
        (:func:`serlib.inference.predict_file`). Raises :class:`BadAudioError` for unusable
        audio."""
        return predict_file(path, self.features, self.classes, self._log_probs)

    def scaler_for(self, segments: np.ndarray) -> Scaler:
        """How segments ``(N, C, F, T)`` are scaled: with the training speakers' scaler, or,
        for a model trained with ``scaler="speaker"``, by statistics of the segments
        themselves (give all of one speaker's segments for the best estimate).

        By default :meth:`segment_probs`, :meth:`class_maps` and :meth:`attention_maps` fit
        it on the segments they are given: to see a few stored segments as a fold's
        evaluation saw them, pass them ``scaler=predictor.speaker_scalers(store, speakers)``
        instead (:meth:`speaker_scalers`)."""
        return scaler_for(self.config.scaler, self.scaler, segments)

    def speaker_scalers(self, store: Mapping, speakers: Iterable[str]) -> list[Scaler]:
        """One scaler per stored segment, given each segment's speaker: the one a fold's
        evaluation applied to that speaker (:meth:`scaler_for` of all of the speaker's
        segments in ``store``, a :class:`~serlib.store.FeatureStore`), so that a few
        segments, one per class say, get the evaluation's answers. Pass the list as
        ``scaler=`` to :meth:`segment_probs`, :meth:`class_maps` or :meth:`attention_maps`.
        """
        speakers = list(speakers)
        fitted = {s: self.scaler_for(store[s].segments) for s in dict.fromkeys(speakers)}
        return [fitted[s] for s in speakers]

    def answers(self, store: Mapping, speaker: str, batch_size: int = 256) -> pd.DataFrame:
        """Every stored utterance of ``speaker`` with the model's answer, exactly as a fold's
        evaluation gives it (the speaker's segments scaled as :meth:`speaker_scalers` scales
        them, each utterance's segment log-probabilities averaged): one row per utterance
        with ``utt_id``, ``path`` (its audio, :meth:`FeatureStore.audio_paths`), ``label``,
        ``answer``, ``vote`` (how sure the model was: the answer's probability in %, from the
        utterance's mean segment log-probabilities normalised to sum to 100 %),
        ``segments`` and ``correct``. The list to read, and listen to, when asking what a model gets
        wrong."""
        if tuple(store.classes) != self.classes:
            raise SerlibError(f"the model's classes {list(self.classes)} are not the store's "
                              f"{list(store.classes)}: answers need the store it was "
                              "trained on, or one with the same classes")
        data = store[speaker]
        scaler = self.scaler_for(data.segments)
        log_probs = np.concatenate([self._log_probs(data.segments[i:i + batch_size], scaler)
                                    for i in range(0, len(data.segments), batch_size)])
        scores = utterance_scores(log_probs, data.num_segs)  # (U, K)
        vote = np.exp(scores - scores.max(axis=1, keepdims=True))
        vote /= vote.sum(axis=1, keepdims=True)
        answer = scores.argmax(axis=1)
        first, last = store.meta["speakers"][speaker]
        return pd.DataFrame({
            "utt_id": store.utt_ids[speaker], "path": store.audio_paths()[first:last],
            "label": [self.classes[c] for c in data.utt_labels],
            "answer": [self.classes[c] for c in answer],
            "vote": 100 * vote[np.arange(len(answer)), answer],
            "segments": data.num_segs, "correct": answer == data.utt_labels})

    def segments(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        """A waveform ``(S,)`` as the model's segments ``(N, C, F, T)`` in dB, and its
        number of frames."""
        fc = self.features
        x = compute_features(y, fc, np.random.default_rng(fc.seed))
        return segment(x, fc.segment_size, fc.pad_values()), x.shape[-1]

    @torch.no_grad()
    def predict_signal(self, y: np.ndarray, name: str = "<signal>",
                       scaler: Scaler | None = None) -> Prediction:
        """Probabilities for a waveform ``(S,)`` at ``self.features.sample_rate``, answered
        whole however long it is (with the speech check's warning); ``scaler`` overrides
        :meth:`scaler_for` (e.g. a speaker's, fitted on all their recordings)."""
        return predict_part(y, name, self.features, self.classes,
                            lambda segments: self._log_probs(segments, scaler))

    def _images(self, segments: np.ndarray, scaler: Scaler | Sequence[Scaler] | None
                ) -> torch.Tensor:
        """Segments ``(N, C, F, T)`` in dB -> the model's images ``(N, 3, H, W)`` on its
        device, scaled by ``scaler`` (one for all, or one per segment) or, when it is None,
        by :meth:`scaler_for` of these segments."""
        segments = np.asarray(segments)
        if scaler is None:
            scaled = self.scaler_for(segments).transform(segments)
        elif isinstance(scaler, Scaler):
            scaled = scaler.transform(segments)
        else:
            if len(scaler) != len(segments):
                raise ValueError(f"{len(segments)} segments but {len(scaler)} scalers")
            scaled = np.concatenate([sc.transform(x[None]) for sc, x in
                                     zip(scaler, segments, strict=True)])
        return to_images(torch.from_numpy(scaled).to(self.device), self.config.image_size)

    @torch.no_grad()
    def _log_probs(self, segments: np.ndarray,
                   scaler: Scaler | Sequence[Scaler] | None = None) -> np.ndarray:
        """Log class probabilities ``(N, K)`` of segments ``(N, C, F, T)`` in dB."""
        logits = self.model(self._images(segments, scaler)).float()
        return torch.log_softmax(logits, dim=1).cpu().numpy()

    def segment_probs(self, segments: np.ndarray,
                      scaler: Scaler | Sequence[Scaler] | None = None) -> np.ndarray:
        """Class probabilities ``(N, K)`` of stored segments ``(N, C, F, T)`` (in dB), scaled
        by ``scaler`` (one, or one per segment: :meth:`speaker_scalers`) or by
        :meth:`scaler_for` of these segments."""
        return np.exp(self._log_probs(segments, scaler))

    @torch.no_grad()
    def class_maps(self, segments: np.ndarray, classes: np.ndarray,
                   scaler: Scaler | Sequence[Scaler] | None = None) -> np.ndarray:
        """FCN+GAP's maps ``(N, h, w)`` of class ``classes[i]`` for segments ``(N, C, F, T)``
        (in dB, as stored), before the last max-pooling, in image orientation (row 0 = the
        highest frequency); scaled as in :meth:`segment_probs`."""
        if not hasattr(self.model, "class_maps"):
            raise SerlibError(f"{self.config.ser_model} has no class activation maps; "
                              "train an FCN+GAP model such as alexnet_gap")
        if len(segments) != len(classes):
            raise ValueError(f"{len(segments)} segments but {len(classes)} classes")
        x = self._images(segments, scaler)
        maps = self.model.class_maps(x, before_last_pool=True).float().cpu().numpy()
        return maps[np.arange(len(maps)), np.asarray(classes)]


    @torch.no_grad()
    def attention_maps(self, segments: np.ndarray,
                       scaler: Scaler | Sequence[Scaler] | None = None) -> np.ndarray:
        """The attention FCN's weights ``(N, h, w)`` over the time-frequency cells of segments
        ``(N, C, F, T)`` (in dB, as stored), each map summing to 1, in image orientation
        (row 0 = the highest frequency); scaled as in :meth:`segment_probs`."""
        if not hasattr(self.model, "attention_maps"):
            raise SerlibError(f"{self.config.ser_model} has no attention maps; train a "
                              "BACKBONE_att model such as alexnet_att")
        x = self._images(segments, scaler)
        return self.model.attention_maps(x).float().cpu().numpy()


def accuracy_vs_snr(predictors: Mapping[str, Predictor], table: pd.DataFrame,
                    snrs_db: Sequence[float | None], *, noise: str = "white", seed: int = 0,
                    progress: bool = True) -> pd.DataFrame:
    """WA and UA of each model on ``table``'s utterances (columns ``path``, ``label_id``)
    with ``noise`` added at each SNR (``None``: clean).

    Every model hears the very same noisy signal: the noise of utterance ``i`` at
    SNR ``j`` is drawn from ``(seed, i, j)``. Returns one row per model and SNR:
    ``model``, ``snr_db`` (NaN for clean), ``WA``, ``UA`` in %, the most predicted class
    with its share, and whether the answers collapsed (:func:`serlib.metrics.fold_scores`).
    """
    first = next(iter(predictors.values()))
    sr = first.features.sample_rate
    signals = [load_audio(p, sr) for p in table["path"]]
    y_true = table["label_id"].to_numpy()
    preds: dict[tuple[str, int], list[int]] = {}
    bar = tqdm(total=len(snrs_db) * len(signals), unit="utt", desc="noisy test set",
               disable=not progress)
    for j, snr in enumerate(snrs_db):
        noisy = [y if snr is None else
                 add_noise(y, sr, noise, snr, np.random.default_rng([seed, i, j]))
                 for i, y in enumerate(signals)]
        for name, predictor in predictors.items():
            # A speaker-normalised model sees the test speaker's utterances in this condition
            # as cross-validation did: scaled by statistics of all of them together.
            segments = [predictor.segments(y)[0] for y in noisy]
            scaler = predictor.scaler_for(np.concatenate(segments))
            for segs in segments:
                utt = utterance_scores(predictor._log_probs(segs, scaler),
                                       np.array([len(segs)]))[0]
                preds.setdefault((name, j), []).append(int(utt.argmax()))
        bar.update(len(signals))
    bar.close()
    classes = list(first.classes)
    rows = []
    for (name, j), p in preds.items():
        # The collapse rule of serlib.report: one class for 90 % of the answers, or chance UA.
        check = fold_scores(confusion_matrix(y_true, p, labels=np.arange(len(classes))),
                            classes)
        rows.append({"model": name,
                     "snr_db": np.nan if snrs_db[j] is None else float(snrs_db[j]),
                     "WA": 100 * weighted_accuracy(y_true, np.array(p)),
                     "UA": 100 * unweighted_accuracy(y_true, np.array(p)),
                     "most predicted": f"{check['top_class']} ({check['top_share']:.0f} %)",
                     "collapsed": check["collapsed"]})
    return pd.DataFrame(rows)
