"""The command line: commands, outputs, and errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from serlib.cli import main


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serlib", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_synth_then_index(tmp_path, capsys):
    assert main(["synth", "--layout", "iemocap", "--out", str(tmp_path / "c"),
                 "--utterances", "40", "--seed", "2", "--jobs", "1"]) == 0
    assert main(["index", "--corpus", "iemocap", "--root", str(tmp_path / "c"),
                 "--preset", "full-4", "--out", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "preset full-4" in out and "speaker" in out and "total" in out
    table = pd.read_csv(tmp_path / "t.csv")
    assert {"utt_id", "path", "speaker", "emotion", "label", "duration_s"} <= set(table.columns)
    assert set(table["label"]) <= {"anger", "sadness", "happiness", "neutral"}


def test_wrong_root_exits_2_without_traceback(tmp_path):
    r = run("index", "--corpus", "iemocap", "--root", str(tmp_path), "--out",
            str(tmp_path / "t.csv"))
    assert r.returncode == 2
    assert "does not look like the root folder of IEMOCAP" in r.stderr
    assert "expected: SessionN" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["index", "--corpus", "iemocap", "--root", ".", "--preset", "nope", "--out", "x.csv"],
     "unknown preset"),
    (["synth", "--out", "x", "--utterances", "0"], "at least 1"),
    (["index", "--corpus", "timit", "--root", ".", "--out", "x.csv"], "invalid choice"),
])
def test_bad_arguments_are_explained(tmp_path, args, message):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_demo_runs_on_a_small_synthetic_corpus(tmp_path):
    args = ("demo", "--data", str(tmp_path / "data"), "--utterances", "150", "--num_epochs",
            "1", "--image_size", "64")
    r = run(*args)
    assert r.returncode == 0, r.stderr
    demo = tmp_path / "data" / "demo-150-seed0"  # not the default corpus: folders of its own
    assert (demo / "utterances.csv").exists() and (demo / "report" / "results.md").exists()
    assert "[6/6] report" in r.stdout and "| alexnet_gap | alexnet_gap |" in r.stdout
    assert "note: the quick settings were measured to learn on every fold of synthetic " \
        "corpora of 1,500 turns and more; with 150," in r.stdout
    assert "| majority | majority |" in r.stdout and "| acoustic | acoustic |" in r.stdout
    assert "Paired differences against **alexnet_gap**" in r.stdout
    # Two repeats by default: 10 pairs, on which the paired test can decide.
    assert "| majority | 5 (10) |" in r.stdout
    again = run(*args)  # everything is reused: no fold is trained twice
    assert again.returncode == 0 and again.stdout.count("done already, skipped") == 30


def test_demo_refuses_no_repeats_in_one_line(tmp_path):
    r = run("demo", "--data", str(tmp_path / "data"), "--repeats", "0")
    assert r.returncode != 0 and r.stderr.strip() == "serlib: error: --repeats 0 must be 1 or more"
    assert not (tmp_path / "data").exists()


def test_only_a_corpus_smaller_than_those_measured_gets_the_note():
    from serlib.demo import DemoConfig, small_corpus_note

    assert small_corpus_note(DemoConfig(), real=False) is None
    assert small_corpus_note(DemoConfig(utterances=3000), real=False) is None
    assert "with 1,000, each test speaker" in small_corpus_note(DemoConfig(utterances=1000),
                                                                 real=False)
    assert small_corpus_note(DemoConfig(utterances=1000), real=True) is None


def test_demo_uses_iemocap_dir(tmp_path, iemocap_root, monkeypatch, capsys):
    import serlib.demo

    monkeypatch.setenv("IEMOCAP_DIR", str(iemocap_root))
    assert serlib.demo.corpus_root(serlib.demo.DemoConfig(tmp_path / "d")) == \
        ("iemocap", iemocap_root)
    assert not (tmp_path / "d" / "synth-iemocap").exists()


@pytest.mark.slow
def test_extract_with_the_seeds_flags(tmp_path):
    r = run("synth", "--layout", "emodb", "--out", str(tmp_path / "c"), "--utterances", "12",
            "--jobs", "1")
    assert r.returncode == 0, r.stderr
    r = run("extract", "--corpus", "emodb", "--root", str(tmp_path / "c"), "--features",
            "logmeldeltaspec", "--segment_size", "100", "--nmel", "64", "--mixnoise",
            "--jobs", "2", "--out", str(tmp_path / "store"))
    assert r.returncode == 0, r.stderr
    assert "segments of (3, 64, 100) (C, F, T)" in r.stdout and "total" in r.stdout
    from serlib.features import load_features

    store = load_features(tmp_path / "store")
    assert store.config.segment_size == 100 and store.config.mixnoise == 1
    r = run("extract", "--corpus", "emodb", "--root", str(tmp_path / "c"), "--segment-size",
            "50", "--pad", "zero", "--out", str(tmp_path / "store2"))
    assert r.returncode == 0 and load_features(tmp_path / "store2").config.pad == "zero"


@pytest.mark.parametrize("args, message", [
    (["--features", "mfcc"], "invalid choice"),
    (["--nfreq", "900"], "nfreq 900 is more than"),
    (["--snr_db", "loud"], "give numbers separated by a comma"),
    (["--noise", "/no/such/folder"], "not a folder of audio files"),
])
def test_extract_bad_arguments(tmp_path, args, message):
    (tmp_path / "wav").mkdir()
    r = run("extract", "--corpus", "emodb", "--root", str(tmp_path), "--out",
            str(tmp_path / "s"), *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_train_flags_reproduce_a_configuration():
    from dataclasses import replace

    from serlib.cli import _train_config, build_parser, train_flags
    from serlib.config import QUICK, THESIS

    for config in (QUICK, THESIS,
                   replace(QUICK, mixup=True, channels_last=False, amp=False, fused=False),
                   replace(THESIS, ser_model="alexnet", stability=True, scaler="speaker")):
        args = build_parser().parse_args(["cv", "store", *train_flags(config), "--out", "x"])
        assert _train_config(args) == config


def _dests(command: str) -> dict[str, int]:
    """How many options of ``serlib COMMAND`` write each destination."""
    import argparse

    from serlib.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    counts: dict[str, int] = {}
    for action in sub.choices[command]._actions:
        if action.option_strings:
            counts[action.dest] = counts.get(action.dest, 0) + 1
    return counts


def test_cv_options_and_sweep_keys_come_from_the_same_fields():
    """Every TrainConfig and CVRun field is exactly one serlib cv option (with its
    default), and a sweep file's keys are those fields (CVRun's at the top level, but the
    label, which is each run's name)."""
    from dataclasses import fields

    from serlib.config import CVRun, TrainConfig
    from serlib.sweep import TOP_KEYS

    dests = _dests("cv")
    for cls in (TrainConfig, CVRun):
        for f in fields(cls):
            assert dests.get(f.name) == 1, f.name
    assert set(TOP_KEYS) == {"store", "out"} | {f.name for f in fields(CVRun)} - {"label"}
    assert set(_dests("train")) >= {f.name for f in fields(TrainConfig)}


def _spellings(name: str) -> set[str]:
    snake, kebab = f"--{name}", f"--{name.replace('_', '-')}"
    return {snake, kebab, f"--no-{name}", f"--no-{name.replace('_', '-')}"}


@pytest.mark.parametrize("command, classes", [
    ("extract", ("CorpusOptions", "FeatureConfig", "NoiseConfig")),
    ("index", ("CorpusOptions",)),
    ("train", ("TrainConfig",)),
    ("cv", ("TrainConfig", "CVRun", "SlurmOptions")),
    ("sweep", ("SlurmOptions",)),
])
def test_every_field_is_exactly_one_option_spelled_as_the_field(command, classes):
    """One CLI style: each field of the dataclasses behind a subcommand is one option, written
    to the field's own name and spelled only as the field is (snake case, as the thesis's
    CLI, or kebab case), so that --help, sweep files and the code say the same names."""
    import argparse
    from dataclasses import fields

    import serlib.config
    import serlib.launch
    from serlib.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = {a.dest: a for a in sub.choices[command]._actions if a.option_strings}
    dests = _dests(command)
    for name in classes:
        cls = getattr(serlib.config, name, None) or getattr(serlib.launch, name)
        for f in fields(cls):
            if f.name == "noise" and name == "FeatureConfig":
                continue  # a NoiseConfig: its fields are the options
            assert dests.get(f.name) == 1, (command, f.name)
            assert set(actions[f.name].option_strings) <= _spellings(f.name), f.name


def test_extract_and_slurm_options_build_their_dataclasses():
    """The parsed options give the dataclasses back, nested NoiseConfig and repeatable
    #SBATCH lines included."""
    from serlib.cli import _from_args, build_parser
    from serlib.config import CorpusOptions, FeatureConfig, NoiseConfig
    from serlib.launch import SlurmOptions

    args = build_parser().parse_args([
        "extract", "--corpus", "emodb", "--root", "r", "--speaker-ids", "native", "--out", "o",
        "--features", "lognrevspec", "--snr_db", "5,15", "--reverb_p", "0.25", "--mixnoise",
        "--nrev_snr_db", "3", "--segment", "100"])  # an abbreviation of both spellings
    assert _from_args(FeatureConfig, args) == FeatureConfig(
        features="lognrevspec", segment_size=100, mixnoise=1, nrev_snr_db=3.0,
        noise=NoiseConfig(snr_db=(5.0, 15.0), reverb_p=0.25))
    assert _from_args(CorpusOptions, args) == CorpusOptions(
        "emodb", Path("r"), speaker_ids="native")
    args = build_parser().parse_args(["cv", "s", "--out", "o", "--sbatch", "account=abc",
                                      "--sbatch", "qos=short", "--mem_gb", "8", "--time", "30"])
    assert _from_args(SlurmOptions, args) == SlurmOptions(
        mem_gb=8.0, time=30, sbatch=("account=abc", "qos=short"))
    assert _from_args(SlurmOptions, build_parser().parse_args(["cv", "s", "--out", "o"])) \
        == SlurmOptions()


def test_cv_folds_option_gives_the_run_its_folds(tmp_path):
    from serlib.cli import _cv_run, build_parser

    args = build_parser().parse_args(["cv", str(tmp_path), "--folds", "1M, 2F", "--repeats",
                                      "3", "--keep_checkpoints", "--out", str(tmp_path / "o")])
    run = _cv_run(args)
    assert (run.protocol, run.repeats, run.folds, run.keep_checkpoints, run.label) == \
        ("5fold", 3, ("1M", "2F"), True, None)
