"""Utterance-level evaluation: segment scores -> utterance decisions -> WA, UA, confusion."""

from __future__ import annotations

from dataclasses import dataclass

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
