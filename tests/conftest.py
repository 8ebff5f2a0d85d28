"""Small corpus trees made on the fly, with the quirks of the real ones."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def write_wav(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1,
              subtype: str = "PCM_16") -> Path:
    """A short tone, so that every file is valid audio of a known duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, subtype=subtype)
    return path


def summary_line(utt: str, emo: str, start: float = 1.0, vad=(2.5, 3.0, 3.5)) -> str:
    v, a, d = vad
    return f"[{start:.4f} - {start + 2:.4f}]\t{utt}\t{emo}\t[{v:.4f}, {a:.4f}, {d:.4f}]"


# dialog -> [(utt_id, code)]; the quirks: split improvisations, scripts with parts,
# a speaker whose gender differs from the dialog's letter.
IEMOCAP_TURNS = {
    (1, "Ses01F_impro01"): [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "ang"),
                            ("Ses01F_impro01_F001", "exc"), ("Ses01F_impro01_M001", "xxx")],
    (1, "Ses01F_script01_1"): [("Ses01F_script01_1_F000", "sad"),
                               ("Ses01F_script01_1_M000", "hap")],
    (3, "Ses03M_impro05b"): [("Ses03M_impro05b_F002", "hap"), ("Ses03M_impro05b_M001", "sad")],
    (3, "Ses03M_script02_2"): [("Ses03M_script02_2_F000", "exc"),
                               ("Ses03M_script02_2_M010", "fru")],
}


@pytest.fixture
def iemocap_root(tmp_path: Path) -> Path:
    """An IEMOCAP_full_release tree with evaluator lines, Categorical/ and macOS litter."""
    root = tmp_path / "IEMOCAP_full_release"
    for (session, dialog), turns in IEMOCAP_TURNS.items():
        ses = root / f"Session{session}"
        evald = ses / "dialog" / "EmoEvaluation"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for k, (utt, emo) in enumerate(turns):
            lines += [summary_line(utt, emo, start=1.0 + 3 * k), "C-E1:\tAnger;\t()",
                      "A-E1:\tval 3; act 2; dom  2;\t()", ""]
            write_wav(ses / "sentences" / "wav" / dialog / f"{utt}.wav", seconds=0.5 + 0.25 * k)
        evald.mkdir(parents=True, exist_ok=True)
        (evald / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
        # A Categorical/ file whose lines would parse badly if it were read.
        (evald / "Categorical").mkdir(exist_ok=True)
        (evald / "Categorical" / f"{dialog}_e1_cat.txt").write_text(
            summary_line(f"{dialog}_F999", "ang") + "\n")
        (evald / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
        (ses / "sentences" / "wav" / dialog / f"._{turns[0][0]}.wav").write_bytes(b"\x00\x05")
    return root


EMODB_FILES = ["03a01Fa.wav", "03a01Wa.wav", "08b02Tb.wav", "10a04Nc.wav", "16b10Lb.wav",
               "13a05Ea.wav", "14a07Aa.wav", "15b03Wa.wav"]


@pytest.fixture
def emodb_root(tmp_path: Path) -> Path:
    """emoDB as its zip unpacks: a wav/ folder of named files (fewer than 535)."""
    root = tmp_path / "emodb"
    for k, name in enumerate(EMODB_FILES):
        write_wav(root / "wav" / name, seconds=0.4 + 0.1 * k)
    return root


#: Figures that the robustness tests prove, printed at the end of the run.
ROBUSTNESS: list[str] = []


_FRESH_DATA: list[Path] = []


def pytest_configure(config) -> None:
    """Every run, tests and nbval's kernels alike, works in a course folder of its own.

    Kernels inherit this process's environment, so the notebooks read and write this folder,
    never the checkout's ``data/``: a second ``make test`` does exactly the work of the first
    instead of finding the folds the first one trained ("done already, skipped")."""
    if getattr(config, "workerinput", None) is None:  # once, in the controlling process
        folder = Path(tempfile.mkdtemp(prefix="serlib-test-data-"))
        (folder / "README.md").write_text("The course folder of one test run, removed after.\n")
        os.environ["SERLIB_DATA"] = str(folder)
        _FRESH_DATA.append(folder)
        # nbval's kernels run the notebooks in the check tier (2 epochs): every cell, end to
        # end, in a fraction of the quick tier's time (tests/test_claims.py runs the notebooks
        # that assert claims in the quick tier). SERLIB_SETTINGS=quick make test runs the whole
        # course as a learner does (about an hour on 2 cores without bf16).
        os.environ.setdefault("SERLIB_SETTINGS", "check")


def pytest_report_header(config) -> str:
    """The free space where this run writes: a full disk fails in odd places (torch.save's
    "unexpected pos"), and the header says so before anything else does."""
    free = shutil.disk_usage(tempfile.gettempdir()).free
    return (f"serlib: course folder {os.environ.get('SERLIB_DATA')}, "
            f"{free / 1e9:.1f} GB free in {tempfile.gettempdir()} "
            "(a full run writes several GB: checkpoints, weights, a Colab environment)")


@pytest.fixture(autouse=True)
def _no_tier_override(monkeypatch):
    """The tests under tests/ see no tier override (only nbval's kernels get one)."""
    monkeypatch.delenv("SERLIB_SETTINGS", raising=False)


def pytest_unconfigure(config) -> None:
    for folder in _FRESH_DATA:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:
    if ROBUSTNESS:
        terminalreporter.section("robustness")
        for line in ROBUSTNESS:
            terminalreporter.write_line(f"- {line}")


def small_emodb_store(folder: Path, seed: int, utterances: int = 40):
    """A synthetic emoDB corpus under ``folder`` with the ``emodb-4`` classes, extracted into
    a store of 100-frame segments: ``(store, index)``."""
    from serlib.config import FeatureConfig
    from serlib.corpora import index_emodb, synthesize
    from serlib.extract import extract_features
    from serlib.features import load_features

    root = synthesize(folder / "emodb", "emodb", utterances, seed=seed, jobs=2, progress=False)
    index = index_emodb(root, "emodb-4", progress=False)
    path = extract_features(index, FeatureConfig(segment_size=100), folder / "store", jobs=2,
                            progress=False)
    return load_features(path), index


#: Training so short that a fold takes seconds (the launcher and sweep tests' settings).
TINY_TRAIN = {"num_epochs": 2, "image_size": 64, "batch_size": 8, "select_by": "ua",
              "tensorboard": False}


def write_tiny_sweep(path: Path, store: Path, out: str | Path) -> Path:
    """A sweep file of two runs on fold 1M of ``store`` with ``TINY_TRAIN``: ``majority``
    and ``fcn`` (FCN+GAP), into ``out``."""
    train = "\n".join(f"{key} = {json.dumps(value)}" for key, value in TINY_TRAIN.items())
    path.write_text(f"""store = "{store}"
out = "{out}"
folds = ["1M"]
[train]
{train}
[runs.majority]
ser_model = "majority"
[runs.fcn]
ser_model = "alexnet_gap"
""")
    return path
