"""The baselines: majority class and eGeMAPS + logistic regression, on the CNNs' folds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from serlib.baselines import egemaps, fit_baseline
from serlib.config import TrainConfig
from serlib.corpora import index_corpus, synthesize
from serlib.cv import run_cv
from serlib.errors import SerlibError
from serlib.extract import extract_features
from serlib.features import FeatureConfig, load_features
from serlib.report import load_runs
from serlib.train import check_speakers

opensmile = pytest.importorskip("opensmile")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = tmp_path_factory.mktemp("b")
    root = synthesize(base / "corpus", "iemocap", 160, seed=2, jobs=2, progress=False)
    index = index_corpus("iemocap", root, "full-4", progress=False)
    return load_features(extract_features(index, FeatureConfig(segment_size=100),
                                          base / "store", progress=False))


def test_majority_answers_the_training_speakers_most_frequent_class(store):
    train = check_speakers(store, ["1F"], ["1M"])
    labels = np.concatenate([store[s].utt_labels for s in train])
    top = int(np.argmax(np.bincount(labels, minlength=len(store.classes))))
    val, test, params = fit_baseline(store, TrainConfig(ser_model="majority"), train, ["1F"],
                                     ["1M"])
    assert params == 0
    assert (test.confusion[:, top].sum() == test.confusion.sum())  # every answer is `top`
    truth = store["1M"].utt_labels
    assert test.wa == pytest.approx(np.mean(truth == top))
    assert test.ua == pytest.approx(1 / len(np.unique(truth)))
    assert val.confusion[:, top].sum() == len(store["1F"].utt_labels)


def test_egemaps_are_opensmiles_functionals_cached_beside_the_store(store):
    values = egemaps(store)
    assert values.shape == (store.meta["num_utterances"], 88) and values.dtype == np.float32
    assert (store.path / "egemaps.npy").is_file()
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    paths = store.audio_paths()
    for row in (0, len(paths) - 1):
        direct = smile.process_file(str(paths[row])).to_numpy(np.float32)[0]
        assert np.allclose(values[row], direct, rtol=1e-5, atol=1e-5)
    assert np.array_equal(np.load(store.path / "egemaps.npy", allow_pickle=False), values)


def test_acoustic_is_fitted_on_the_training_speakers_only(store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(store.path, copy)
    train = check_speakers(store, ["2M"], ["2F"])
    config = TrainConfig(ser_model="acoustic")
    val, test, params = fit_baseline(load_features(copy), config, train, ["2M"], ["2F"])
    assert params == 89 * len(store.classes)  # 88 weights and a bias per class
    # Wildly different test features change the test answers but not the model: the
    # validation speaker's scores stay exactly the same.
    values = np.load(copy / "egemaps.npy")
    rows = np.arange(*store.meta["speakers"]["2F"])
    values[rows] = np.random.default_rng(0).normal(0, 1e3, (len(rows), 88))
    np.save(copy / "egemaps.npy", values)
    val2, test2, _ = fit_baseline(load_features(copy), config, train, ["2M"], ["2F"])
    assert np.array_equal(val.confusion, val2.confusion) and val.loss == val2.loss
    assert test.loss != test2.loss


def test_baselines_write_the_same_fold_files_as_the_cnns(store, tmp_path):
    for model in ("majority", "acoustic"):
        files = run_cv(store, "5fold", TrainConfig(ser_model=model), tmp_path / model,
                       repeats=2, log=lambda _: None)
        assert len(files) == 10
        fold = json.loads(files[0].read_text())
        assert {"fold", "repeat", "seed", "classes", "model", "config", "val_ids", "test_ids",
                "best_epoch", "num_params", "history", "val", "test"} <= set(fold)
        assert fold["model"] == model and len(fold["test"]["confusion"]) == len(store.classes)
    runs = load_runs([tmp_path / "majority", tmp_path / "acoustic"])
    majority, acoustic = (r.table() for r in runs)
    assert majority["collapsed"].all()  # always one class: flagged, as it should be
    # The acoustic baseline beats always answering the majority class on every fold.
    assert (acoustic.groupby("fold")["UA"].mean() > 25 + 5).all()


def test_a_missing_opensmile_names_the_extra(store, tmp_path, monkeypatch):
    copy = tmp_path / "store"
    shutil.copytree(store.path, copy)
    (copy / "egemaps.npy").unlink(missing_ok=True)
    monkeypatch.setitem(sys.modules, "opensmile", None)
    with pytest.raises(SerlibError, match=r"serlib\[acoustic\]"):
        egemaps(load_features(copy))


def test_a_moved_corpus_is_named(store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(store.path, copy)
    (copy / "egemaps.npy").unlink(missing_ok=True)
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "root": str(tmp_path / "gone")}))
    with pytest.raises(SerlibError, match="has moved or is gone"):
        egemaps(load_features(copy))


@pytest.mark.slow
def test_a_baseline_cannot_be_trained_as_a_network(store):
    r = subprocess.run([sys.executable, "-m", "serlib", "train", str(store.path),
                        "--ser_model", "majority", "--val_id", "1F", "--test_id", "1M"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "is a baseline" in r.stderr and "serlib cv" in r.stderr
    assert "Traceback" not in r.stderr


def test_every_baseline_is_a_scikit_learn_classifier_named_as_the_configuration_names_it():
    """Baselines behind scikit-learn's fit/predict_proba interface, one registry entry each:
    the configuration (which must not import scikit-learn) lists the same names."""
    from sklearn.base import clone, is_classifier

    from serlib.baselines import BASELINE_MODELS
    from serlib.config import BASELINES

    assert tuple(BASELINE_MODELS) == BASELINES
    for name, spec in BASELINE_MODELS.items():
        model = spec.make()
        assert is_classifier(model), name
        clone(model)  # a proper estimator: its parameters are its constructor's


def _memoriser_inputs(store):
    """Inputs ``(U, 40)`` from which a model can learn each speaker's own way of showing each
    class, and nothing that carries over to a new speaker: a random point per speaker and
    class, plus a little noise per utterance."""
    rng = np.random.default_rng(0)
    points = {(s, c): rng.normal(size=40) for s in store for c in range(len(store.classes))}
    rows = [points[s, c] for s in sorted(store, key=lambda s: store.meta["speakers"][s][0])
            for c in store[s].utt_labels]
    return (np.array(rows) + 0.1 * rng.normal(size=(len(rows), 40))).astype(np.float32)


def test_a_random_split_reports_what_a_speaker_split_shows_is_only_memorised(store, monkeypatch):
    """Direction: a model that can only learn the training speakers' own habits is at chance
    on new speakers, and a random utterance split, whose test speakers also train, calls it
    good. Only the split differs."""
    from serlib.baselines import BASELINE_MODELS, Baseline, _acoustic_model, split_scores
    from serlib.cv import make_folds

    monkeypatch.setitem(BASELINE_MODELS, "memo", Baseline(_acoustic_model, _memoriser_inputs))
    folds = make_folds("5fold", list(store))
    scores = split_scores(store, folds, draws=3, model="memo")
    speaker = scores.query("split == 'speaker'")["UA"].mean()
    random = scores.query("split == 'random'")["UA"].mean()
    assert speaker < 40 and random > 80, (speaker, random)


def test_split_scores_fit_the_speaker_folds_as_cross_validation_does(store):
    from serlib.baselines import split_scores
    from serlib.cv import make_folds

    folds = make_folds("5fold", list(store))
    scores = split_scores(store, folds, draws=2, model="acoustic", seed=5)
    assert len(scores) == 3 * len(folds) and set(scores["draw"]) == {0, 1, 2}
    for fold, row in zip(folds, scores.query("split == 'speaker'").itertuples(), strict=True):
        train = check_speakers(store, list(fold.val_ids), list(fold.test_ids))
        _, test, _ = fit_baseline(store, TrainConfig(ser_model="acoustic"), train,
                                  list(fold.val_ids), list(fold.test_ids))
        assert row.fold == fold.name and row.UA == pytest.approx(100 * test.ua)
    random = scores.query("split == 'random'")
    assert not np.allclose(random.query("draw == 1")["UA"], random.query("draw == 2")["UA"])
    again = split_scores(store, folds, draws=2, model="acoustic", seed=5)
    assert np.array_equal(again[["WA", "UA"]].to_numpy(), scores[["WA", "UA"]].to_numpy())
    with pytest.raises(SerlibError, match="'alexnet' is not a baseline"):
        split_scores(store, folds, model="alexnet")
