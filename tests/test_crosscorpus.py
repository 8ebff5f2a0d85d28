"""Cross-corpus evaluation: a model trained on IEMOCAP's layout tested on emoDB's, by class
name, with the training scaler; the same fold files and report as 'serlib cv'."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serlib.checkpoints import save_checkpoint
from serlib.cli import main
from serlib.config import FeatureConfig, TrainConfig
from serlib.corpora import index_emodb, index_iemocap, synthesize
from serlib.crosscorpus import evaluate_checkpoint
from serlib.errors import SerlibError
from serlib.extract import extract_features
from serlib.features import load_features
from serlib.metrics import utterance_scores
from serlib.predict import Predictor
from serlib.train import train_fold

FEATURES = FeatureConfig(segment_size=100)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("x")
    iemocap = synthesize(tmp / "iemocap", "iemocap", 60, seed=5, jobs=2, progress=False)
    emodb = synthesize(tmp / "emodb", "emodb", 40, seed=6, jobs=2, progress=False)
    source = extract_features(index_iemocap(iemocap, "full-4", progress=False), FEATURES,
                              tmp / "source", jobs=2, progress=False)
    # The same four classes in another order, so that they must be matched by name.
    reordered = index_emodb(emodb, "T=sadness,N=neutral,W=anger,F=happiness", progress=False)
    target = extract_features(reordered, FEATURES, tmp / "target", jobs=2, progress=False)
    seven = extract_features(index_emodb(emodb, "emodb-7", progress=False), FEATURES,
                             tmp / "seven", jobs=2, progress=False)
    other = extract_features(reordered, FeatureConfig(segment_size=80), tmp / "other", jobs=2,
                             progress=False)
    config = TrainConfig(num_epochs=1, batch_size=16, image_size=64, scaler="training")
    result = train_fold(load_features(source), config, "1F", "1M", progress=False,
                        log=lambda line: None)
    checkpoint = save_checkpoint(result, tmp / "ckpt" / "fold-r0-1M.pth")
    return {"source": source, "target": target, "seven": seven, "other": other,
            "checkpoint": checkpoint, "result": result}


@pytest.mark.slow
def test_scores_match_the_predictor_class_by_class_name(stores):
    target = load_features(stores["target"])
    assert target.classes != stores["result"].classes  # same names, other order
    ev = evaluate_checkpoint(stores["checkpoint"], target)
    predictor = Predictor(stores["checkpoint"])
    truth, predicted = [], []
    for speaker in sorted(target):
        data = target[speaker]
        # The training speakers' scaler, as stored in the checkpoint, for every speaker.
        probs = predictor.segment_probs(data.segments, predictor.scaler)
        utt = utterance_scores(np.log(probs), data.num_segs).argmax(axis=1)
        predicted += [predictor.classes[i] for i in utt]
        truth += [target.classes[i] for i in data.utt_labels]
    truth, predicted = np.array(truth), np.array(predicted)
    assert ev.wa == pytest.approx(np.mean(truth == predicted))
    recalls = [np.mean(predicted[truth == c] == c) for c in target.classes if (truth == c).any()]
    assert ev.ua == pytest.approx(np.mean(recalls))
    confusion = np.array(ev.confusion)
    assert confusion.sum() == len(truth)
    for i, c in enumerate(target.classes):  # rows: true class, in the store's order
        assert confusion[i].sum() == np.sum(truth == c)


def test_different_classes_or_features_are_refused(stores):
    with pytest.raises(SerlibError, match="trained on the classes") as e:
        evaluate_checkpoint(stores["checkpoint"], load_features(stores["seven"]))
    assert "boredom" in str(e.value)
    with pytest.raises(SerlibError, match="segment_size 100 vs 80"):
        evaluate_checkpoint(stores["checkpoint"], load_features(stores["other"]))


def test_the_command_writes_fold_files_that_report_reads(stores, tmp_path, capsys):
    out = tmp_path / "cross"
    args = ["evaluate", str(stores["target"]), "--checkpoint",
            str(stores["checkpoint"].parent), "--out", str(out)]
    assert main(args) == 0
    fold = json.loads((out / "fold-r0-1M.json").read_text())
    assert fold["fold"] == "1M" and fold["trained_test_ids"] == ["1M"]
    assert fold["test_ids"] == sorted(load_features(stores["target"]))
    expected = evaluate_checkpoint(stores["checkpoint"], load_features(stores["target"]))
    assert fold["test"]["wa"] == pytest.approx(expected.wa)
    assert main(args) == 0  # finished checkpoints are skipped
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    results = (tmp_path / "report" / "results.md").read_text()
    assert "cross-corpus" in results
    capsys.readouterr()
    assert main(["evaluate", str(stores["seven"]), "--checkpoint",
                 str(stores["checkpoint"]), "--out", str(tmp_path / "bad")]) == 2
    assert "trained on the classes" in capsys.readouterr().err
