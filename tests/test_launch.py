"""Launchers and sweep files: parallel local workers write the same fold files as a
sequential run and resume like it; sweep files are checked with errors that name the file.
(The SLURM launcher against a real cluster: tests/test_slurm.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN, small_emodb_store, write_tiny_sweep

from serlib.config import TrainConfig
from serlib.cv import run_cv
from serlib.errors import SerlibError
from serlib.launch import SlurmOptions, Unit, cv_units, run_local, run_units, status_lines
from serlib.sweep import load_sweep, sweep_units

pytestmark = pytest.mark.slow  # make test-fast leaves these out

ROOT = Path(__file__).resolve().parents[1]
TINY = TrainConfig(**TINY_TRAIN)
QUIET = {"log": lambda _: None}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return small_emodb_store(tmp_path_factory.mktemp("launch"), seed=5)[0]


def _sequential(store, out: Path, threads: int, folds=("1M", "2F")) -> None:
    """A sequential run with the thread count that each local CPU worker uses (torch's sums,
    hence the last digits of the losses, depend on it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        run_cv(store, "5fold", TINY, out, folds=list(folds), progress=False, **QUIET)
    finally:
        torch.set_num_threads(before)


def test_local_workers_write_the_files_of_a_sequential_run_and_resume(store, tmp_path):
    workers = 2
    _sequential(store, tmp_path / "seq", max(1, (os.cpu_count() or 1) // workers))
    units = cv_units(store, "5fold", TINY, tmp_path / "par", folds=["1M", "2F"], **QUIET)
    assert [u.fold for u in units] == ["r0-1M", "r0-2F"]
    lines: list[str] = []
    written = run_local(units, workers=workers, log=lines.append)
    assert written == [str(tmp_path / "par" / f"fold-r0-{f}.json") for f in ("1M", "2F")]
    for fold in ("1M", "2F"):
        name = f"fold-r0-{fold}.json"
        assert (tmp_path / "par" / name).read_bytes() == (tmp_path / "seq" / name).read_bytes()
    assert (tmp_path / "par" / "cv.json").read_text() == (tmp_path / "seq" / "cv.json").read_text()

    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "par").glob("fold-*.json")}
    lines.clear()
    run_local(units, workers=workers, log=lines.append)  # a second run: nothing to do
    assert lines == ["2 of 2 units finished already; 0 to run on 2 worker(s)"]
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_a_failed_unit_is_reported_and_the_others_finish(store, tmp_path):
    good = cv_units(store, "5fold", TINY, tmp_path / "run", folds=["1M"], **QUIET)[0]
    bad = replace(good, fold="r0-9Z")  # no such fold: the worker raises
    lines: list[str] = []
    with pytest.raises(SerlibError, match=r"1 of 2 units failed \(run/r0-9Z\).*same command"):
        run_local([bad, good], workers=2, log=lines.append)
    assert good.result.exists() and not bad.result.exists()
    assert any("run/r0-9Z: failed: SerlibError" in line and "no fold r0-9Z" in line
               for line in lines)


def test_units_run_sequentially_through_run_units_equal_run_cv(store, tmp_path):
    _sequential(store, tmp_path / "a", torch.get_num_threads(), folds=["1M"])
    units = cv_units(store, "5fold", TINY, tmp_path / "b", folds=["1M"], **QUIET)
    run_units(units, "sequential", progress=False, **QUIET)
    assert (tmp_path / "a" / "fold-r0-1M.json").read_bytes() == units[0].result.read_bytes()
    with pytest.raises(SerlibError, match="unknown launcher 'cloud'"):
        run_units(units, "cloud")


def test_units_refuse_a_folder_of_another_run(store, tmp_path):
    cv_units(store, "5fold", TINY, tmp_path, folds=["1M"], **QUIET)
    with pytest.raises(SerlibError, match="another configuration"):
        cv_units(store, "5fold", replace(TINY, num_epochs=3), tmp_path, **QUIET)


def test_slurm_options_become_submitit_parameters():
    params = SlurmOptions(partition="gpu", gpus_per_job=1, cpus_per_job=8, mem_gb=32, time=90,
                          array_parallelism=4, sbatch=("account=abc", "--qos = short"),
                          setup=("module load cuda",)).parameters()
    assert params == {"job_name": "serlib", "time": 90, "cpus_per_task": 8,
                      "array_parallelism": 4, "ntasks_per_node": 1, "partition": "gpu",
                      "gpus_per_node": 1, "mem": "32768M", "setup": ["module load cuda"],
                      "additional_parameters": {"account": "abc", "qos": "short"}}
    with pytest.raises(SerlibError, match="--sbatch 'exclusive': give KEY=VALUE"):
        SlurmOptions(sbatch=("exclusive",)).parameters()


def test_status_of_units_never_submitted(tmp_path):
    unit = Unit(str(tmp_path / "store"), str(tmp_path / "run"), "r0-1M", {})
    (tmp_path / "run").mkdir()
    assert status_lines([unit]) == [f"{'run/r0-1M':32s} not submitted"]
    unit.result.write_text("{}")
    assert status_lines([unit]) == [f"{'run/r0-1M':32s} damaged"]
    unit.result.write_text(json.dumps({"fold": "1M", "repeat": 0, "test_ids": ["1M"],
                                       "test": {"wa": 0.5, "ua": 0.5,
                                                "confusion": [[1, 1], [0, 1]]}}))
    assert status_lines([unit]) == [f"{'run/r0-1M':32s} finished"]


def _serlib(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serlib", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("args, message", [
    (["--devices", "0,1"], "--devices and --workers are options of --launcher local"),
    (["--launcher", "local", "--devices", "0,1", "--workers", "2"], "not both"),
    (["--launcher", "local", "--devices", "a,b"], "--devices 'a,b': give GPU numbers"),
    (["--launcher", "slurm", "--sbatch", "exclusive"], "--sbatch 'exclusive'"),
])
def test_launcher_arguments_are_explained_without_a_traceback(store, tmp_path, args, message):
    r = _serlib("cv", str(store.path), "--out", str(tmp_path / "run"), *args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


# -- sweep files ------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_shipped_sweep_file_is_the_thesis_table():
    sweep = load_sweep(ROOT / "sweeps" / "thesis-table.toml")
    assert (sweep.cv.protocol, sweep.cv.repeats, len(sweep.runs)) == ("5fold", 5, 7)
    assert all(r.config.num_epochs == 100 and r.config.pretrained for r in sweep.runs)
    stability = [r for r in sweep.runs if r.config.stability]
    assert {r.config.ser_model for r in stability} == {"alexnet", "alexnet_gap"}
    assert all(r.store.name.endswith("mixnoise") for r in stability)
    assert [r.out.name for r in sweep.runs] == [r.name for r in sweep.runs]


@pytest.mark.parametrize("text, message", [
    ('out = "o"\nstore = "s"\n', "no runs; add at least one"),
    ('store = "s"\n[runs.a]\n', 'say where the runs go with out'),
    ('out = "o"\n[runs.a]\n', "runs.a has no store"),
    ('out = "o"\nstore = "s"\nepochs = 3\n[runs.a]\n', "[top level] has an unknown option "
                                                       "'epochs'"),
    ('out = "o"\nstore = "s"\n[train]\nnum_epoch = 3\n[runs.a]\n', "[train] has an unknown "
                                                                    "option 'num_epoch'"),
    ('out = "o"\nstore = "s"\n[runs.a]\nmixup = "yes"\n', "[runs.a] mixup = 'yes': expected bool"),
    ('out = "o"\nstore = "s"\n[runs.a]\nnum_epochs = 2.5\n', "num_epochs = 2.5: expected int"),
    ('out = "o"\nstore = "s"\n[runs.a]\nser_model = "lenet"\n', "runs.a: unknown --ser_model"),
    ('out = "o"\nstore = "s"\nprotocol = "3fold"\n[runs.a]\n', "unknown protocol '3fold'"),
    ('out = "o"\nstore = "s"\n[runs]\na = 1\n', "runs.a must be a table"),
    ('out = "o"\nstore = s\n', "not a valid TOML file"),
])
def test_sweep_file_errors_name_the_file_and_the_problem(tmp_path, text, message):
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(SerlibError) as e:
        load_sweep(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value)


def test_a_sweep_runs_one_folder_per_run_that_the_report_sets_side_by_side(store, tmp_path,
                                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)  # the file's relative paths are the current folder's
    path = write_tiny_sweep(tmp_path / "sweep.toml", store.path, "runs")
    sweep = load_sweep(path)
    units = sweep_units(sweep, **QUIET)
    assert [u.name for u in units] == ["majority/r0-1M", "fcn/r0-1M"]
    r = _serlib("sweep", str(path), "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "report: serlib report runs/majority runs/fcn" in r.stdout
    fcn = json.loads((tmp_path / "runs" / "fcn" / "fold-r0-1M.json").read_text())
    assert fcn["config"]["num_epochs"] == 2 and fcn["model"] == "alexnet_gap"
    assert json.loads((tmp_path / "runs" / "fcn" / "cv.json").read_text())["label"] == "fcn"
    again = _serlib("sweep", str(path), "--no-progress", cwd=tmp_path)
    assert again.stdout.count("done already, skipped") == 2
    status = _serlib("status", str(path), cwd=tmp_path)
    assert "runs/majority: run 'majority', 1 fold: 1 done" in status.stdout
    assert "r0-1M                    done  test WA" in status.stdout
    report = _serlib("report", "runs/majority", "runs/fcn", "--out", "report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "report" / "results.md").read_text()
    assert "| majority |" in table and "| fcn |" in table


def test_each_gpu_worker_sees_only_its_own_device(monkeypatch):
    import queue

    import serlib.launch as launch

    slots: queue.Queue = queue.Queue()
    slots.put("3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    monkeypatch.setattr(launch, "_WORKER_GPU", None)
    launch._start_worker(slots, None)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3" and launch._WORKER_GPU == 1


def test_gpu_workers_without_cuda_train_on_the_cpu_with_the_same_results(store, tmp_path):
    _sequential(store, tmp_path / "seq", torch.get_num_threads(), folds=["1M"])
    units = cv_units(store, "5fold", TINY, tmp_path / "gpu", folds=["1M"], **QUIET)
    lines: list[str] = []
    run_local(units, devices=[0], log=lines.append)
    assert lines[0] == "0 of 1 units finished already; 1 to run on 1 worker(s) (GPUs 0)"
    assert units[0].result.read_bytes() == (tmp_path / "seq" / "fold-r0-1M.json").read_bytes()


def test_slurm_without_sbatch_says_where_to_submit_from(store, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    units = cv_units(store, "5fold", TINY, tmp_path, folds=["1M"], **QUIET)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SerlibError, match="sbatch not found: submit from .* login node"):
        run_units(units, "slurm", **QUIET)


def test_units_are_recorded_and_read_back_and_a_foreign_record_is_refused(tmp_path):
    from serlib.config import CVRun
    from serlib.launch import record_units, recorded_units

    out = tmp_path / "run"
    out.mkdir()
    run = CVRun("5fold", repeats=2, folds=("1M",), keep_checkpoints=True, label="x")
    unit = Unit(str(tmp_path / "store"), str(out), "r1-1M", {"num_epochs": 1}, run)
    record_units([unit])
    assert recorded_units(out) == [unit]
    # A record of another version's units (the options flat in the unit) is one line.
    (out / "slurm-jobs.json").write_text(json.dumps({"units": {"r0-1M": {"unit": {
        "store": "s", "out": str(out), "protocol": "5fold", "fold": "r0-1M", "train": {}}}}}))
    with pytest.raises(SerlibError, match="slurm-jobs.json: its units are not what this "
                                          "serlib records"):
        recorded_units(out)
    with pytest.raises(SerlibError, match="--repeats 0"):
        CVRun(repeats=0)
