"""Utterance-level evaluation: segment scores -> utterance decisions -> WA, UA, confusion."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score


def utterance_scores(seg_log_probs: np.ndarray, num_segs: np.ndarray) -> np.ndarray:
    """Mean of each utterance's segment log-probabilities: ``(N, K)``, ``(U,)`` -> ``(U, K)``."""
    starts = np.concatenate([[0], np.cumsum(num_segs)[:-1]])
    return np.add.reduceat(seg_log_probs, starts, axis=0) / np.asarray(num_segs)[:, None]


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """WA: the fraction of utterances classified correctly."""
    return float(accuracy_score(y_true, y_pred))


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA: the mean recall over the classes present in ``y_true``."""
    present = np.unique(y_true)
    return float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


@dataclass
class Evaluation:
    """WA, UA and the confusion matrix ``(K, K)`` (rows: true class) of one set."""

    wa: float
    ua: float
    confusion: np.ndarray
    loss: float = float("nan")

    def to_dict(self) -> dict:
        """Plain JSON-ready data, as fold files store it."""
        return {"wa": self.wa, "ua": self.ua, "loss": self.loss,
                "confusion": np.asarray(self.confusion).tolist()}


def evaluate_utterances(seg_log_probs: np.ndarray, num_segs: np.ndarray, utt_labels: np.ndarray,
                        num_classes: int, loss: float = float("nan")) -> Evaluation:
    """Aggregate segments to utterances, then WA, UA and a confusion matrix over every
    class, also those the set lacks."""
    y_pred = utterance_scores(seg_log_probs, num_segs).argmax(axis=1)
    return Evaluation(weighted_accuracy(utt_labels, y_pred),
                      unweighted_accuracy(utt_labels, y_pred),
                      confusion_matrix(utt_labels, y_pred, labels=np.arange(num_classes)), loss)


#: A fold is collapsed when one class takes at least this share of its predictions...
COLLAPSE_SHARE = 0.9
#: ... or when its UA is within this many points of chance (100 / number of classes).
COLLAPSE_MARGIN = 5.0
#: A class whose recall, summed over a run's folds, is below this (%) is flagged as
#: **missed**: the model nearly never finds it, whatever its mean UA says.
MISSED_RECALL = 10.0


def fold_scores(confusion: np.ndarray, classes: list[str]) -> dict:
    """Scores of one fold from its confusion matrix ``(K, K)`` (rows: true class), in %.

    WA, UA (mean recall over the classes present), macro-F1 over the classes
    present, each class's precision (NaN when never predicted) and recall (NaN when
    absent), the most predicted class and its share, and whether the fold collapsed.
    """
    c = np.asarray(confusion, dtype=float)
    true, predicted, hits = c.sum(axis=1), c.sum(axis=0), np.diag(c)
    present = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, hits / true, np.nan)
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        f1 = np.where((hits > 0), 2 * hits / (true + predicted), 0.0)
    total = c.sum()
    ua = 100 * float(np.nanmean(recall[present])) if present.any() else float("nan")
    top = int(np.argmax(predicted))
    share = 100 * float(predicted[top] / total) if total else float("nan")
    chance = 100 / max(int(present.sum()), 1)
    reasons = []
    if share >= 100 * COLLAPSE_SHARE:
        reasons.append(f"{share:.0f} % answered {classes[top]}")
    if ua <= chance + COLLAPSE_MARGIN:
        reasons.append(f"UA {ua:.1f} within {COLLAPSE_MARGIN:.0f} points of chance "
                       f"({chance:.0f})")
    scores = {"WA": 100 * float(hits.sum() / total) if total else float("nan"), "UA": ua,
              "F1": 100 * float(f1[present].mean()) if present.any() else float("nan"),
              "top_class": classes[top], "top_share": share,
              "collapsed": bool(reasons), "why": "; ".join(reasons)}
    for k, name in enumerate(classes):
        scores[f"recall {name}"] = 100 * recall[k]
        scores[f"precision {name}"] = 100 * precision[k]
    return scores


@dataclass
class Prediction:
    """One file's result: the emotion, utterance probabilities ``(K,)`` and per segment
    ``(N, K)``, each segment's start in seconds.

    What the answer is worth: ``warnings`` (little or no speech, a truncated file, a lossy
    format, a recording too long to answer whole), ``speech`` the share that sounds like
    speech (:func:`serlib.audio.speech_check`; NaN when not checked or too short to tell),
    and ``start_s``/``end_s`` the time range answered. A recording longer than
    :data:`serlib.inference.MAX_DURATION_S` is answered per part: ``parts`` holds one
    prediction per part (empty otherwise), and the file's own probabilities average all
    their segments.
    """

    path: str
    emotion: str
    probs: np.ndarray
    segment_probs: np.ndarray
    segment_starts_s: np.ndarray
    warnings: list[str] = field(default_factory=list)
    parts: list[Prediction] = field(default_factory=list)
    start_s: float = 0.0
    end_s: float = float("nan")
    speech: float = float("nan")


def prediction(name: str, classes, seg_log_probs: np.ndarray, starts_s: np.ndarray) -> Prediction:
    """A file's :class:`Prediction` from its segments' log-probabilities ``(N, K)``: the mean
    log-probability per class, normalised."""
    utt = utterance_scores(seg_log_probs, np.array([len(seg_log_probs)]))[0]
    probs = np.exp(utt - utt.max())
    probs /= probs.sum()
    return Prediction(name, classes[int(probs.argmax())], probs, np.exp(seg_log_probs),
                      np.asarray(starts_s))
