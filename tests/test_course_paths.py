"""The course on its learners' paths: a course folder that outlives a Colab runtime, settings
tiers that never switch by themselves, stand-ins that say so, uploads of both kinds."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest

import serlib
from serlib import course as course_mod
from serlib import tiers
from serlib.cv import make_folds, repeat_seed
from serlib.errors import SerlibError


@pytest.fixture
def clean_env(monkeypatch):
    from serlib.corpora import ENV_VARS

    for var in (*ENV_VARS.values(), "SERLIB_SETTINGS", "SERLIB_DATA", "SERLIB_COLAB_CONTENT"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def colab(clean_env, tmp_path):
    """A Colab kernel in-process: ``google.colab`` imported, ``/content`` in a temporary
    folder; the Drive is "mounted" by making its folder."""
    fake = types.ModuleType("google.colab")
    clean_env.setitem(sys.modules, "google.colab", fake)
    clean_env.setenv("SERLIB_COLAB_CONTENT", str(tmp_path / "content"))
    return tmp_path / "content"


def test_on_colab_the_course_folder_is_on_drive_and_unmounted_drive_is_explained(colab,
                                                                                  tmp_path):
    assert course_mod.on_colab()
    with pytest.raises(SerlibError, match="Google Drive is not mounted at .*content/drive.*"
                                          "first cell"):
        course_mod.data_dir()
    (colab / "drive" / "MyDrive").mkdir(parents=True)
    assert course_mod.data_dir() == colab / "drive" / "MyDrive" / "serlib-course"


def test_a_new_runtime_finds_the_choice_on_drive_and_never_falls_back(colab, tmp_path):
    (colab / "drive" / "MyDrive").mkdir(parents=True)
    with pytest.raises(SerlibError, match="no course chosen in .*serlib-course on your Google "
                                          "Drive.*run notebook 0 first"):
        course_mod.load()
    chosen = course_mod.use("synthetic", utterances=40, tier="gpu", progress=False)
    home = colab / "drive" / "MyDrive" / "serlib-course"
    assert chosen.root == home / "synth-iemocap-40-seed0" and chosen.work.parent == home
    # A new runtime: nothing in memory, the same Drive.
    again = course_mod.load()
    assert again == chosen and again.tier_in_force.name == "gpu"
    # A real corpus that is gone (Drive mounted with another account, folder moved) stops
    # the notebook instead of silently becoming the synthetic corpus.
    state = json.loads((home / "course.json").read_text())
    (home / "course.json").write_text(json.dumps({**state, "corpus": "iemocap",
                                                  "root": str(tmp_path / "moved")}))
    with pytest.raises(SerlibError, match="iemocap at .*moved, is not there \\(is Google Drive "
                                          "mounted"):
        course_mod.load()
    (home / "course.json").write_text("{")
    with pytest.raises(SerlibError, match="course.json is damaged.*run notebook 0 again"):
        course_mod.load()


def test_without_a_choice_a_local_notebook_stops_too(clean_env, tmp_path):
    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    with pytest.raises(SerlibError, match="no course chosen in .*data \\(no course.json\\): "
                                          "run notebook 0 first"):
        course_mod.load()


def test_another_corpus_size_or_seed_gets_its_own_folders(clean_env, tmp_path):
    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    a = course_mod.use("synthetic", utterances=40, seed=0, progress=False)
    b = course_mod.use("synthetic", utterances=40, seed=1, progress=False)  # no crash
    assert a.root != b.root and a.work != b.work
    assert course_mod.load() == b
    assert course_mod.use("synthetic", utterances=40, seed=0, progress=False) == a


def test_the_tier_is_chosen_once_and_only_the_environment_overrides_it(clean_env, tmp_path,
                                                                       capsys):
    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    course = course_mod.use("synthetic", utterances=40, tier="quick", progress=False)
    # A GPU appearing later (another runtime) changes nothing by itself.
    clean_env.setattr("torch.cuda.is_available", lambda: True)
    clean_env.setattr("torch.cuda.get_device_name", lambda i=0: "Tesla T4")
    assert course_mod.load().tier_in_force.name == "quick"
    assert course_mod.load().settings(9).image_size == 64
    assert "settings tier: quick (chosen in notebook 0)" in capsys.readouterr().out
    clean_env.setenv("SERLIB_SETTINGS", "thesis")
    config = course.settings(9)
    out = capsys.readouterr().out
    assert "settings tier: thesis (from SERLIB_SETTINGS)" in out and "5 repeats" in out
    assert "on Tesla T4:" in out and "a model, not measured on this device" in out
    assert course.repeats == 5 and config.repeat_seeds == "thesis"
    clean_env.setenv("SERLIB_SETTINGS", "fast")
    with pytest.raises(SerlibError, match="settings tier 'fast' \\(from SERLIB_SETTINGS\\): "
                                          "choose one of quick, gpu, thesis"):
        course.settings()
    with pytest.raises(SerlibError, match="unknown settings tier 'full'"):
        course_mod.use("synthetic", utterances=40, tier="full", progress=False)


def test_a_gpu_proposes_gpu_never_thesis(clean_env):
    assert tiers.propose("synthetic") == "quick" or tiers.propose("synthetic") == "gpu"
    clean_env.setattr("torch.cuda.is_available", lambda: True)
    assert tiers.propose("synthetic") == "gpu" and tiers.propose("iemocap") == "gpu"
    clean_env.setattr("torch.cuda.is_available", lambda: False)
    assert tiers.propose("iemocap") == "quick"


def test_the_thesis_tier_is_the_thesis_code_and_uses_its_seeds():
    thesis = tiers.TIERS["thesis"].config
    assert (thesis.pretrained, thesis.num_epochs, thesis.batch_size, thesis.image_size,
            thesis.lr, thesis.select_by) == (True, 100, 64, 256, 1e-4, "wa")
    folds = make_folds("5fold", [f"{s}{g}" for s in range(1, 6) for g in "FM"], repeats=5,
                       seed=thesis.seed, seed_rule=thesis.repeat_seeds)
    assert sorted({f.seed for f in folds}) == [111, 211, 411, 711, 1111]  # crossval_SER.py
    assert [repeat_seed(111, r) for r in range(3)] == [111, 112, 113]
    with pytest.raises(SerlibError, match="--repeat_seeds 'x'"):
        repeat_seed(1, 1, "x")
    gpu = tiers.TIERS["gpu"]
    assert gpu.config.pretrained and gpu.repeats == 1 and gpu.config.select_by == "ua"
    assert "128-pixel" in gpu.differs and "30" in gpu.differs


def test_the_time_model_keeps_the_gpu_tiers_promise():
    t4 = tiers.Device("Tesla T4", tiers.GPU_SPEED["T4"], True, False)
    cpu = tiers.Device("CPU (2 cores)", 1.0, False, True)
    iemocap_improvised = 4 * 3600  # more speech than IEMOCAP's improvised-4 holds
    for notebook in tiers.QUICK_CPU_MINUTES:
        gpu = tiers.expected_minutes(notebook, tiers.TIERS["gpu"], t4, speech_s=iemocap_improvised)
        assert gpu < 60, (notebook, gpu)  # every notebook within an hour on a T4-class card
    # The measured figures come back on the machine that measured them.
    for notebook, minutes in tiers.QUICK_CPU_MINUTES.items():
        assert tiers.expected_minutes(notebook, tiers.TIERS["quick"], cpu) == minutes
    # More work never takes less time; a notebook without training does not grow with it.
    for on in (t4, cpu):
        times = [tiers.expected_minutes(9, tiers.TIERS[t], on) for t in ("quick", "gpu",
                                                                         "thesis")]
        assert times == sorted(times) and times[0] < times[2]
    assert tiers.expected_minutes(1, tiers.TIERS["thesis"], cpu) == \
        tiers.expected_minutes(1, tiers.TIERS["quick"], cpu)
    assert tiers.say_minutes(0.5) == "under a minute" and tiers.say_minutes(150) == "about 2.5 h"


def test_a_cpu_without_bfloat16_is_expected_as_slow_as_measured(monkeypatch):
    """The time model on the CPU that runs CI (2 cores, no native bfloat16): what notebook
    10 took there from an empty course folder (17.1 minutes), within a fifth; on a CPU with
    bfloat16 the minutes measured on it."""
    import os

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    plain = tiers.device()
    assert plain.speed == tiers.CPU_NO_BF16_SPEED and not plain.gpu
    assert tiers.expected_minutes(10, tiers.TIERS["quick"], plain) == pytest.approx(17.1,
                                                                                     rel=0.2)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert tiers.expected_minutes(10, tiers.TIERS["quick"], tiers.device()) == \
        tiers.QUICK_CPU_MINUTES[10]


def test_a_second_corpus_is_the_real_one_when_its_variable_is_set(clean_env, tmp_path,
                                                                  capsys):
    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    course = course_mod.use("synthetic", utterances=40, progress=False)
    stand_in = course.stand_in("ravdess", 48)
    assert stand_in == tmp_path / "data" / "synth-ravdess"
    assert "a synthetic stand-in of 48 utterances" in capsys.readouterr().out
    clean_env.setenv("RAVDESS_DIR", str(tmp_path / "real-ravdess"))
    assert course.stand_in("ravdess", 48) == tmp_path / "real-ravdess"
    assert "the real corpus at" in capsys.readouterr().out


@pytest.mark.parametrize("value", [
    {"a.wav": b"RIFF1"},                                             # google.colab.files
    ({"name": "a.wav", "content": memoryview(b"RIFF1"), "size": 5},),  # ipywidgets 8
    {"a.wav": {"content": b"RIFF1", "metadata": {"size": 5}}},       # ipywidgets 7 (Colab's)
])
def test_uploads_of_every_kind_are_kept_in_the_folder(tmp_path, value):
    paths = course_mod.save_uploads(value, tmp_path / "uploads")
    assert paths == [tmp_path / "uploads" / "a.wav"] and paths[0].read_bytes() == b"RIFF1"


def test_an_upload_cannot_write_outside_its_folder(tmp_path):
    paths = course_mod.save_uploads({"../../evil.wav": b"x", "..\\b.wav": b"y"},
                                    tmp_path / "up")
    assert [p.parent for p in paths] == [tmp_path / "up"] * 2
    assert not (tmp_path / "evil.wav").exists()
    with pytest.raises(SerlibError, match="not a file name"):
        course_mod.save_uploads({"..": b"x"}, tmp_path / "up")


def test_a_restart_is_asked_for_only_when_a_loaded_package_changed(monkeypatch):
    assert course_mod.restart_needed() == [] or all("->" in x for x in
                                                    course_mod.restart_needed())
    old = types.ModuleType("numpy")
    old.__version__ = "0.1"
    monkeypatch.setitem(sys.modules, "numpy", old)
    assert any(x.startswith("numpy 0.1 -> ") for x in course_mod.restart_needed())


def test_the_package_does_not_bring_jupyterlab():
    import importlib.metadata

    requires = importlib.metadata.requires("serlib") or []
    core = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith(("jupyterlab", "ipywidgets")) for r in core)
    assert any(r.startswith("jupyterlab") and 'extra == "course"' in r for r in requires)
    assert serlib.course.on_colab() is False


def test_the_corpus_is_read_once_and_again_only_when_its_files_change(clean_env, tmp_path):
    import pandas as pd

    from serlib.corpora import index_corpus

    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    course = course_mod.use("synthetic", utterances=60, progress=False)
    first = course.index("full-4")
    direct = index_corpus("iemocap", course.root, "full-4", progress=False)
    pd.testing.assert_frame_equal(first.table, direct.table)
    # Another runtime: the table comes from the course folder, no audio file is opened.
    import serlib.corpora.table as table_mod

    with clean_env.context() as patch:
        patch.setattr(table_mod, "probe_audio", lambda path: pytest.fail(f"opened {path}"))
        again = course.index("full-4")
    pd.testing.assert_frame_equal(again.table, direct.table)
    assert (again.preset, again.classes, again.excluded) == (direct.preset, direct.classes,
                                                              direct.excluded)
    # A file removed from the corpus: indexed again, and the table says so.
    Path(first.table["path"].iloc[0]).unlink()  # the table's paths are absolute
    assert len(course.index("full-4").table) == len(first.table) - 1
    cache = course.work / "index-full-4.json"
    cache.write_text("{damaged")
    assert len(course.index("full-4").table) == len(first.table) - 1
    assert json.loads(cache.read_text())["fingerprint"]


def test_the_check_tier_runs_the_course_briefly_and_is_never_proposed(clean_env, tmp_path,
                                                                     capsys):
    check, quick = tiers.TIERS["check"], tiers.TIERS["quick"]
    assert check.config == replace(quick.config, num_epochs=2) and check.work < quick.work
    assert [n for n, t in tiers.TIERS.items() if t.for_cpu] == ["quick", "check"]
    assert "check" not in tiers.timetable(tiers.device()).columns
    assert tiers.propose("synthetic") in ("quick", "gpu")
    clean_env.setenv("SERLIB_DATA", str(tmp_path / "data"))
    course = course_mod.use("synthetic", utterances=40, progress=False)
    clean_env.setenv("SERLIB_SETTINGS", "check")
    assert course.settings(4).num_epochs == 2 and course.tier_in_force.for_cpu
    assert "settings tier: check (from SERLIB_SETTINGS)" in capsys.readouterr().out
