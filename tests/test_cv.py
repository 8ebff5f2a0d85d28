"""Cross-validation: protocols, resume, refusal of mixed folders; the report by hand."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_TRAIN, small_emodb_store

import serlib.cv as cv
from serlib.checkpoints import FoldResult
from serlib.config import TrainConfig
from serlib.cv import make_folds, run_cv
from serlib.errors import SerlibError
from serlib.metrics import Evaluation
from serlib.report import load_runs, summary_table, write_report
from serlib.train import train_fold

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

    def __init__(self, fingerprint: str = "0123456789abcdef"):
        super().__init__({s: None for s in TEN})
        from serlib.config import FeatureConfig

        self.fingerprint = fingerprint
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


def test_a_folder_of_other_code_or_another_store_is_refused(tmp_path, monkeypatch):
    """A run's identity holds serlib's version and the store's fingerprint: results of other
    code, or of another extraction, are never mixed in by a resume."""
    import serlib
    import serlib.train as train

    calls = []
    monkeypatch.setattr(train, "train_fold", fake_train_fold(calls))
    config = TrainConfig(num_epochs=1)
    run_cv(FakeStore(), "5fold", config, tmp_path, folds=["1M"], log=lambda _: None)
    with pytest.raises(SerlibError, match=r"differs in: store\)"):
        run_cv(FakeStore("fedcba9876543210"), "5fold", config, tmp_path, log=lambda _: None)
    before = serlib.__version__
    monkeypatch.setattr(serlib, "__version__", "9.9.9")
    with pytest.raises(SerlibError, match=rf"differs in: serlib; its results come from serlib "
                                          rf"{re.escape(before)}, this is 9\.9\.9\)"):
        run_cv(FakeStore(), "5fold", config, tmp_path, log=lambda _: None)
    assert len(calls) == 1
    # --overwrite starts it afresh under the new version.
    run_cv(FakeStore(), "5fold", config, tmp_path, overwrite=True, log=lambda _: None)
    assert len(calls) == 6
    assert json.loads((tmp_path / "cv.json").read_text())["identity"]["serlib"] == "9.9.9"


def made_up_run(folder, label, model, scores, num_params=1000, classes=("a", "b")):
    """A results folder written by hand: fold -> (WA, UA, confusion)."""
    folder.mkdir(parents=True)
    identity = {"protocol": "5fold", "train_config": {"ser_model": model, "label": label},
                "classes": list(classes)}
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
    assert "| baseline | alexnet_gap | 1,000 | 5fold | 3 | 70.0 ± 10.0 | 60.0 ± 10.0 |" in text
    assert pd.read_csv(tmp_path / "report" / "results.csv").shape[0] == 2
    # 1M is in both runs: one paired fold, too few to tell.
    assert "| stability | 1 (1) |" in text and "too few folds to tell" in text
    names = {p.name for p in written["figures"]}
    assert {"comparison.png", "comparison.pdf", "confusion-00-baseline.png",
            "curves-01-stability.pdf"} <= names
    assert all(p.stat().st_size > 1000 for p in written["figures"])


def test_report_of_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(SerlibError, match="not a 'serlib cv' output folder"):
        load_runs([tmp_path])


@pytest.mark.slow
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


def test_cv_module_names_the_thesis_speakers():
    assert cv.THESIS_TEST_SPEAKERS == ("1M", "2F", "3M", "4F", "5F")


def test_the_old_mixup_mode_name_still_works():
    assert TrainConfig(mixup_mode="seed").mixup_mode == "thesis"
    with pytest.raises(SerlibError, match=r"--mixup_mode 'per-sample'; choose one of \['thes"):
        TrainConfig(mixup_mode="per-sample")


def test_fold_scores_by_hand():
    from serlib.report import fold_scores

    # Three classes, the third absent from this test speaker.
    s = fold_scores(np.array([[4, 1, 0], [2, 2, 0], [0, 0, 0]]), ["a", "b", "c"])
    assert s["WA"] == pytest.approx(100 * 6 / 9)
    assert s["recall a"] == pytest.approx(80) and s["recall b"] == pytest.approx(50)
    assert np.isnan(s["recall c"]) and np.isnan(s["precision c"])  # absent, never predicted
    assert s["UA"] == pytest.approx(65)
    assert s["precision a"] == pytest.approx(100 * 4 / 6)
    assert s["precision b"] == pytest.approx(100 * 2 / 3)
    f1_a, f1_b = 2 * (4 / 6) * 0.8 / (4 / 6 + 0.8), 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5)
    assert s["F1"] == pytest.approx(100 * (f1_a + f1_b) / 2)
    assert s["top_class"] == "a" and s["top_share"] == pytest.approx(100 * 6 / 9)
    assert not s["collapsed"]


def test_collapsed_folds_are_flagged_by_either_rule():
    from serlib.report import fold_scores

    one_class = fold_scores(np.array([[0, 5], [1, 10]]), ["a", "b"])  # 15 of 16 answered b
    assert one_class["collapsed"] and "94 % answered b" in one_class["why"]
    # Predictions spread over every class, but no better than chance: UA 20 < 25 + 5.
    spread = fold_scores(np.array([[1, 1, 1, 2]] * 4), list("abcd"))
    assert spread["top_share"] == pytest.approx(40) and spread["UA"] == pytest.approx(25)
    assert spread["collapsed"] and "within 5 points of chance" in spread["why"]
    fine = fold_scores(np.array([[8, 2], [1, 9]]), ["a", "b"])
    assert not fine["collapsed"]


def _confusion_for_ua(ua: float) -> list[list[int]]:
    """Two classes of 100 utterances each whose UA is ``ua`` (%), both classes predicted."""
    hits = int(round(2 * ua))  # UA = (r_a + r_b) / 2 with r_a = 100 %
    return [[100, 0], [200 - hits, hits - 100]]


def test_paired_differences_with_a_known_difference(tmp_path):
    from serlib.report import paired_difference, write_report

    base = {(f, r): (0.6, ua / 100, _confusion_for_ua(ua))
            for f, ua in zip(["1M", "2F", "3M", "4F", "5F"], [60, 70, 65, 75, 80], strict=True)
            for r in (0, 1)}
    better = {k: (wa, ua + 0.05, _confusion_for_ua(100 * ua + 5)) for k, (wa, ua, _)
              in base.items()}
    noisy = {k: (wa, ua + d, c) for (k, (wa, ua, c)), d
             in zip(base.items(), [0.1, 0.1, -0.1, -0.1, 0.1, 0.1, -0.1, -0.1, 0, 0], strict=True)}
    made_up_run(tmp_path / "a", "fcn", "alexnet_gap", base)
    made_up_run(tmp_path / "b", "fcn+mixup", "alexnet_gap", better)
    made_up_run(tmp_path / "c", "fcn+noise", "alexnet_gap", noisy)
    a, b, c = load_runs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    known = paired_difference(a, b, "UA")
    assert known.mean == pytest.approx(5) and known.folds == 5 and known.pairs == 10
    assert known.low == pytest.approx(5) and known.high == pytest.approx(5)
    assert known.verdict == "higher"
    assert paired_difference(b, a, "UA").verdict == "lower"
    mixed = paired_difference(a, c, "UA")  # fold means +10, -10, +10, -10, 0: mean 0
    assert mixed.mean == pytest.approx(0) and mixed.low < 0 < mixed.high
    assert mixed.verdict == "within noise"
    write_report([tmp_path / "a", tmp_path / "b", tmp_path / "c"], tmp_path / "rep", echo=False)
    text = (tmp_path / "rep" / "results.md").read_text()
    assert "against **fcn**" in text and "| fcn+mixup | 5 (10) | +0.0 [+0.0, +0.0] | " \
        "+5.0 [+5.0, +5.0] | 0.002 | higher |" in text
    paired = pd.read_csv(tmp_path / "rep" / "paired.csv").set_index("run")
    assert paired.loc["fcn+noise", "UA verdict"] == "within noise"
    with pytest.raises(SerlibError, match="--reference 'nope'"):
        write_report([tmp_path / "a"], tmp_path / "rep2", reference="nope", echo=False)


def test_the_report_flags_a_collapsed_fold_everywhere(tmp_path):
    made_up_run(tmp_path / "r", "fcn", "alexnet_gap", {
        ("1M", 0): (0.7, 0.8, [[8, 2], [2, 8]]), ("2F", 0): (0.6, 0.5, [[0, 6], [0, 10]])})
    (tmp_path / "r" / "cv.json").write_text(json.dumps({**json.loads(
        (tmp_path / "r" / "cv.json").read_text()), "speakers": TEN}))
    written = write_report([tmp_path / "r"], tmp_path / "rep", echo=False)
    text = (tmp_path / "rep" / "results.md").read_text()
    assert "| fcn | alexnet_gap | 1,000 | 5fold | 2 |" in text and "| 1 of 2 |" in text
    assert "70.0 / 80.0 | 60.0 / 50.0 ⚠ |" in text
    assert "⚠ 100 % answered b" in text
    assert "Tested speakers: 1M, 2F (2 of the store's 10)" in text and "10fold" in text
    folds = pd.read_csv(tmp_path / "rep" / "folds.csv")
    assert folds["collapsed"].tolist() == [False, True]
    assert folds["precision b"].tolist() == pytest.approx([80, 62.5])
    assert {p.name for p in written["figures"]} >= {"comparison.png",
                                                     "confusion-00-fcn.png"}


def test_a_class_nearly_never_found_is_flagged_though_no_fold_collapsed(tmp_path):
    """Three classes; the model finds 1 of 20 'c' over two folds (5 %), none collapses."""
    made_up_run(tmp_path / "r", "fcn", "alexnet_gap", {
        ("1M", 0): (0.7, 0.65, [[9, 1, 0], [1, 9, 0], [4, 5, 1]]),
        ("2F", 0): (0.6, 0.6, [[8, 2, 0], [2, 8, 0], [5, 5, 0]])}, classes="abc")
    run, = load_runs([tmp_path / "r"])
    assert not run.table()["collapsed"].any()
    from serlib.report import class_table

    classes = class_table([run]).set_index("class")
    assert classes["missed"].to_dict() == {"a": False, "b": False, "c": True}
    assert classes.loc["c", "recall"] == pytest.approx(5)
    write_report([tmp_path / "r"], tmp_path / "rep", echo=False)
    text = (tmp_path / "rep" / "results.md").read_text()
    assert "⚠ missed: classes found in under 10 % of their test utterances, summed over the " \
        "folds: fcn: c (5 %)." in text


@pytest.mark.slow  # over 5 s: the whole suite only, for a fast inner loop
def test_a_fold_trained_alone_is_saved_as_run_cv_would_write_it(tmp_path):
    """save_fold writes train_fold's result as run_cv's fold file, byte for byte, so that
    run_cv skips it; speakers that are no fold, or another store, are refused."""
    store, _ = small_emodb_store(tmp_path / "corpus", seed=5)
    config = TrainConfig(**TINY_TRAIN)
    fold = next(f for f in make_folds("5fold", list(store)) if f.name == "1M")
    result = train_fold(store, config, fold.val_ids, fold.test_ids, progress=False,
                        log=lambda _: None)
    saved = cv.save_fold(result, store, tmp_path / "saved")
    assert saved == tmp_path / "saved" / "fold-r0-1M.json"
    trained = run_cv(store, "5fold", config, tmp_path / "cv", folds=["1M"], progress=False,
                     log=lambda _: None)
    assert saved.read_bytes() == trained[0].read_bytes()
    log = []
    run_cv(store, "5fold", config, tmp_path / "saved", folds=["1M"], progress=False,
           log=log.append)
    assert log == ["[fold 1/1] r0-1M: done already, skipped"]

    other = train_fold(store, config, fold.test_ids, fold.val_ids, progress=False,
                       log=lambda _: None)  # validation and test swapped: no fold of 5fold
    with pytest.raises(SerlibError, match="is not a fold of 5fold"):
        cv.save_fold(other, store, tmp_path / "other")
    with pytest.raises(SerlibError, match="trained on other features or classes"):
        cv.save_fold(replace(result, classes=("a", "b", "c", "d")), store, tmp_path / "other")
    with pytest.raises(SerlibError, match="another configuration"):
        cv.save_fold(train_fold(store, replace(config, num_epochs=1), fold.val_ids,
                                fold.test_ids, progress=False, log=lambda _: None),
                     store, tmp_path / "saved")
