"""Cross-validation: protocols, resume, refusal of mixed folders; the report by hand."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import serlib.cv as cv
from serlib.config import TrainConfig
from serlib.cv import make_folds, run_cv
from serlib.errors import SerlibError
from serlib.metrics import Evaluation
from serlib.report import load_runs, summary_table, write_report
from serlib.train import FoldResult

TEN = [f"{s}{g}" for s in range(1, 6) for g in "FM"]


def test_5fold_is_the_seeds():
    folds = make_folds("5fold", TEN)
    assert [(f.test_ids, f.val_ids) for f in folds] == [
        (("1M",), ("1F",)), (("2F",), ("2M",)), (("3M",), ("3F",)), (("4F",), ("4M",)),
        (("5F",), ("5M",))]


def test_10fold_and_loso_and_repeats():
    ten = make_folds("10fold", TEN)
    assert [f.test_ids[0] for f in ten] == sorted(TEN)
    assert all(f.val_ids == (f.test_ids[0][0] + ("M" if f.test_ids[0][1] == "F" else "F"),)
               for f in ten)
    loso = make_folds("loso", TEN)
    assert [(f.name, f.test_ids, f.val_ids) for f in loso][0] == ("S1", ("1F", "1M"), ())
    with_val = make_folds("loso", TEN, loso_val=True)
    assert with_val[0].val_ids == ("2F", "2M") and with_val[4].val_ids == ("1F", "1M")
    rep = make_folds("5fold", TEN, repeats=3, seed=10)
    assert len(rep) == 15 and [f.seed for f in rep[::5]] == [10, 11, 12]
    assert len({f.key for f in rep}) == 15


def test_folds_of_a_store_missing_speakers():
    nine = [s for s in TEN if s != "3F"]
    folds = {f.name: f for f in make_folds("5fold", nine)}
    assert folds["3M"].val_ids == ("1F",)  # its partner is missing: the first other speaker
    without_test = [s for s in TEN if s != "2F"]
    assert [f.name for f in make_folds("5fold", without_test)] == ["1M", "3M", "4F", "5F"]
    assert len(make_folds("10fold", nine)) == 9
    assert make_folds("loso", nine)[2].test_ids == ("3M",)
    with pytest.raises(SerlibError, match="none of its test speakers"):
        make_folds("5fold", ["1F", "2M"])
    with pytest.raises(SerlibError, match="unknown protocol"):
        make_folds("7fold", TEN)


class FakeStore(dict):
    """Enough of a FeatureStore for the runner: speakers, classes, config, meta."""

    def __init__(self):
        super().__init__({s: None for s in TEN})
        from serlib.config import FeatureConfig

        self.classes = ("anger", "sadness", "happiness", "neutral")
        self.config = FeatureConfig()
        self.meta = {"corpus": "iemocap", "preset": "improvised-4", "shape": [100, 1, 200, 300]}
        self.noisy = {}


def fake_train_fold(calls):
    def train(store, config, val_ids, test_ids, **kwargs):
        calls.append((tuple(test_ids), config.seed))
        conf = np.zeros((4, 4), int)
        conf[0, 0] = len(calls)
        ev = Evaluation(0.5, 0.25, conf, 1.0)
        return FoldResult({}, config, {}, store.classes, None, val_ids, test_ids, 1, ev, ev, 10,
                          {"train_loss": [1.0], "val_loss": [1.0], "val_wa": [0.5],
                           "val_ua": [0.25]})
    return train


def test_resume_skips_finished_folds(tmp_path, monkeypatch):
    import serlib.train as train

    calls = []
    monkeypatch.setattr(train, "train_fold", fake_train_fold(calls))
    store, config = FakeStore(), TrainConfig(num_epochs=1)
    run_cv(store, "5fold", config, tmp_path, folds=["1M", "2F"], log=lambda _: None)
    assert [c[0] for c in calls] == [("1M",), ("2F",)]
    first = (tmp_path / "fold-r0-1M.json").read_text()
    assert json.loads(first)["config"]["num_epochs"] == 1 and json.loads(first)["seed"] == 111
    run_cv(store, "5fold", config, tmp_path, log=lambda _: None)  # the rest, as after a crash
    assert [c[0] for c in calls] == [("1M",), ("2F",), ("3M",), ("4F",), ("5F",)]
    assert (tmp_path / "fold-r0-1M.json").read_text() == first  # not retrained
    run_cv(store, "5fold", config, tmp_path, repeats=2, log=lambda _: None)
    assert len(calls) == 10 and calls[-1] == (("5F",), 112)


def test_how_a_fold_is_executed_is_not_part_of_the_run(tmp_path, monkeypatch):
    import serlib.train as train

    calls = []
    monkeypatch.setattr(train, "train_fold", fake_train_fold(calls))
    run_cv(FakeStore(), "5fold", TrainConfig(num_epochs=1), tmp_path, folds=["1M"],
           log=lambda _: None)
    # The other folds on a GPU, resident and compiled: the same run, the same folder.
    run_cv(FakeStore(), "5fold", TrainConfig(num_epochs=1, resident=True, compile=True),
           tmp_path, log=lambda _: None)
    assert len(calls) == 5


def test_a_folder_of_another_configuration_is_refused(tmp_path, monkeypatch):
    import serlib.train as train

    monkeypatch.setattr(train, "train_fold", fake_train_fold([]))
    run_cv(FakeStore(), "5fold", TrainConfig(num_epochs=1), tmp_path, folds=["1M"],
           log=lambda _: None)
    with pytest.raises(SerlibError, match="another configuration .*train_config"):
        run_cv(FakeStore(), "5fold", TrainConfig(num_epochs=2), tmp_path, log=lambda _: None)
    with pytest.raises(SerlibError, match="differs in: protocol"):
        run_cv(FakeStore(), "10fold", TrainConfig(num_epochs=1), tmp_path, log=lambda _: None)
    with pytest.raises(SerlibError, match="--folds 9Z"):
        run_cv(FakeStore(), "5fold", TrainConfig(num_epochs=1), tmp_path, folds=["9Z"],
               log=lambda _: None)


def made_up_run(folder, label, model, scores, num_params=1000):
    """A results folder written by hand: fold -> (WA, UA, confusion)."""
    folder.mkdir(parents=True)
    identity = {"protocol": "5fold", "train_config": {"ser_model": model, "label": label},
                "classes": ["a", "b"]}
    (folder / "cv.json").write_text(json.dumps({"label": label, "identity": identity}))
    for (fold, repeat), (wa, ua, conf) in scores.items():
        (folder / f"fold-r{repeat}-{fold}.json").write_text(json.dumps({
            "fold": fold, "repeat": repeat, "test_ids": [fold], "num_params": num_params,
            "test": {"wa": wa, "ua": ua, "confusion": conf},
            "history": {"train_loss": [2.0, 1.0], "val_loss": [2.0, 1.5],
                        "val_wa": [0.4, 0.6], "val_ua": [0.3, 0.5]}}))


def test_report_numbers_by_hand(tmp_path):
    made_up_run(tmp_path / "base-a", "baseline", "alexnet_gap", {
        ("1M", 0): (0.60, 0.50, [[3, 1], [1, 0]]), ("2F", 0): (0.80, 0.70, [[2, 0], [1, 2]])})
    # Another job of the same run (its other folds), and a second run to compare.
    made_up_run(tmp_path / "base-b", "baseline", "alexnet_gap", {
        ("3M", 0): (0.70, 0.60, [[1, 1], [0, 3]])})
    made_up_run(tmp_path / "stab", "stability", "alexnet", {
        ("1M", 0): (0.75, 0.65, [[4, 0], [0, 1]]), ("1M", 1): (0.65, 0.55, [[3, 1], [0, 1]])},
        num_params=57_000_000)
    runs = load_runs([tmp_path / "base-a", tmp_path / "stab", tmp_path / "base-b"])
    assert [r.label for r in runs] == ["baseline", "stability"]
    assert runs[0].confusion().tolist() == [[6, 2], [2, 5]]
    table = summary_table(runs).set_index("run")
    assert table.loc["baseline", "WA"] == pytest.approx(70.0)
    assert table.loc["baseline", "WA_std"] == pytest.approx(10.0)  # std of 60, 80, 70 (ddof=1)
    assert table.loc["baseline", "UA"] == pytest.approx(60.0)
    assert table.loc["stability", "WA"] == pytest.approx(70.0)
    assert table.loc["stability", "WA_std"] == pytest.approx(np.std([75, 65], ddof=1))
    assert table.loc["stability", "WA 1M"] == pytest.approx(70.0)  # mean over repeats
    assert table.loc["baseline", "folds"] == 3 and table.loc["stability", "params"] == 57_000_000
    written = write_report([tmp_path / "base-a", tmp_path / "base-b", tmp_path / "stab"],
                           tmp_path / "report")
    text = (tmp_path / "report" / "results.md").read_text()
    assert "| baseline | alexnet_gap | 0.00 M | 5fold | 3 | 70.0 ± 10.0 | 60.0 ± 10.0 |" in text
    assert pd.read_csv(tmp_path / "report" / "results.csv").shape[0] == 2
    names = {p.name for p in written["figures"]}
    assert {"comparison.png", "comparison.pdf", "confusion-00-baseline.png",
            "curves-01-stability.pdf"} <= names
    assert all(p.stat().st_size > 1000 for p in written["figures"])


def test_report_of_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(SerlibError, match="not a 'serlib cv' output folder"):
        load_runs([tmp_path])


def test_cv_and_report_commands_end_to_end(tmp_path):
    """Real training (tiny): synthesize, extract, serlib cv for two folds, serlib report."""
    def run(*args):
        r = subprocess.run([sys.executable, "-m", "serlib", *args], capture_output=True,
                           text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r

    run("synth", "--layout", "emodb", "--out", "c", "--utterances", "50", "--jobs", "2")
    run("extract", "--corpus", "emodb", "--root", "c", "--preset", "emodb-4",
        "--segment_size", "100", "--out", "store")
    r = run("cv", "store", "--num_epochs", "1", "--batch_size", "16", "--image_size", "64",
            "--folds", "1M,2F", "--out", "runs/a")
    assert "[fold 2/2] r0-2F" in r.stdout
    again = run("cv", "store", "--num_epochs", "1", "--batch_size", "16", "--image_size", "64",
                "--folds", "1M,2F", "--out", "runs/a")
    assert again.stdout.count("done already, skipped") == 2
    r = run("report", "runs/a", "--out", "rep")
    assert "| alexnet_gap | alexnet_gap | 2.47 M | 5fold | 2 |" in r.stdout
    assert (tmp_path / "rep" / "confusion-00-alexnet_gap.pdf").stat().st_size > 1000
    # A train flag the run did not use: refused rather than mixed.
    r = subprocess.run([sys.executable, "-m", "serlib", "cv", "store", "--num_epochs", "2",
                        "--out", "runs/a"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "another configuration" in r.stderr


def test_cv_module_names_the_seeds_speakers():
    assert cv.SEED_TEST_SPEAKERS == ("1M", "2F", "3M", "4F", "5F")
