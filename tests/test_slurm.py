"""The SLURM launcher against a real single-node cluster (Debian's slurm-wlm and munge) that
the test starts on free ports and stops: a job array's fold files equal a sequential run's,
a killed task is redone by resubmitting, and finished ones are not."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, small_emodb_store, write_tiny_sweep

from serlib.cli import train_flags
from serlib.config import TrainConfig
from serlib.cv import run_cv

DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel", "sinfo")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    any(shutil.which(d) is None and not Path(f"/usr/sbin/{d}").exists() for d in DAEMONS)
    or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge; .ci/run does) "
           "and root, to start a test cluster")]
TINY = TrainConfig(**TINY_TRAIN)
FOLDS = ("1M", "2F")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float, what: str, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _start_munge() -> bool:
    """munged with a key, as Debian's package leaves it (the key is made if missing); whether
    it had to be started."""
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
        return False
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        key.write_bytes(os.urandom(1024))
    for folder in ("/etc/munge", "/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "-R", "munge:munge", folder], check=True)
    key.chmod(0o400)
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
    return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node SLURM cluster on this machine; yields its environment (SLURM_CONF)."""
    started_munge = _start_munge()
    d = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname().split(".")[0]
    conf = d / "slurm.conf"
    conf.write_text(f"""ClusterName=serlibtest
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
NodeName={host} CPUs={os.cpu_count()} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    (d / "state").mkdir()
    (d / "spool").mkdir()
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for daemon in ("slurmctld", "slurmd"):
        subprocess.run([daemon, "-f", str(conf)], env=env, check=True)
    try:
        _wait(lambda: subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                     text=True).stdout.strip() == "idle", 60, "an idle node")
        yield env
    finally:
        for daemon in ("slurmd", "slurmctld"):
            pid = d / f"{daemon}.pid"
            if pid.exists():
                try:
                    os.kill(int(pid.read_text()), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        if started_munge:  # leave the machine as it was
            subprocess.run(["pkill", "-x", "munged"], check=False)


def _serlib(env: dict, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "serlib", *args], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def _queue(env: dict) -> dict[str, str]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], env=env, capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_a_job_array_equals_a_sequential_run_and_a_killed_task_is_redone(cluster, tmp_path):
    store = small_emodb_store(tmp_path, seed=5)[0]
    run_cv(store, "5fold", TINY, tmp_path / "seq", folds=list(FOLDS), progress=False,
           log=lambda _: None)
    out = tmp_path / "array"
    flags = [*train_flags(TINY), "--folds", ",".join(FOLDS), "--out", str(out)]
    # One task at a time, so that the second can be killed while it runs.
    submit = ["cv", str(store.path), *flags, "--launcher", "slurm", "--cpus-per-job", "1",
              "--array-parallelism", "1", "--time", "10"]
    r = _serlib(cluster, *submit)
    assert "units: 2 not submitted" in r.stdout and "submitted 2 units as job array" in r.stdout
    record = json.loads((out / "slurm-jobs.json").read_text())["units"]
    second = record["r0-2F"]["job"]
    _wait(lambda: _queue(cluster).get(second) == "RUNNING", 180, f"task {second} to run")
    subprocess.run(["scancel", second], env=cluster, check=True)
    _wait(lambda: not _queue(cluster), 180, "the queue to empty")

    status = _serlib(cluster, "status", str(out)).stdout.splitlines()
    assert status[0].split() == ["array/r0-1M", "finished"]
    assert status[1].split() == ["array/r0-2F", "failed", "(job", f"{second})"]
    assert status[2].split() == ["log:", record["r0-2F"]["stderr"]]
    assert Path(record["r0-2F"]["stderr"]).exists()
    assert not (out / "fold-r0-2F.json").exists()
    first = (out / "fold-r0-1M.json").stat().st_mtime_ns

    again = _serlib(cluster, *submit)  # submitting again redoes the killed task only
    assert "units: 1 failed, 1 finished" in again.stdout
    assert "submitted 1 units" in again.stdout
    _wait(lambda: not _queue(cluster), 180, "the queue to empty")
    assert (out / "fold-r0-1M.json").stat().st_mtime_ns == first
    for fold in FOLDS:
        name = f"fold-r0-{fold}.json"
        assert (out / name).read_bytes() == (tmp_path / "seq" / name).read_bytes(), name
    status = _serlib(cluster, "status", str(out)).stdout.split()
    assert status.count("finished") == 2
    assert "nothing to submit" in _serlib(cluster, *submit).stdout


def test_a_refused_submission_is_explained_without_a_traceback(cluster, tmp_path):
    store = small_emodb_store(tmp_path, seed=5)[0]
    r = subprocess.run([sys.executable, "-m", "serlib", "cv", str(store.path), "--folds", "1M",
                        "--out", str(tmp_path / "run"), "--launcher", "slurm",
                        "--partition", "nosuch"], env=cluster, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "serlib: error: sbatch refused the job array:" in r.stderr
    assert "invalid partition" in r.stderr.lower() and "--partition" in r.stderr
    assert not (tmp_path / "run" / "slurm-jobs.json").exists()


def test_a_sweep_is_one_job_array_writing_one_folder_per_run(cluster, tmp_path):
    store = small_emodb_store(tmp_path, seed=6)[0]
    sweep = write_tiny_sweep(tmp_path / "sweep.toml", store.path, tmp_path / "runs")
    r = _serlib(cluster, "sweep", str(sweep), "--launcher", "slurm", "--cpus-per-job", "1")
    assert "submitted 2 units as job array" in r.stdout
    assert (tmp_path / "runs" / "slurm").is_dir()  # submitit's scripts and logs, beside the runs
    _wait(lambda: not _queue(cluster), 180, "the queue to empty")
    status = _serlib(cluster, "status", str(sweep)).stdout.split()
    assert status == ["majority/r0-1M", "finished", "fcn/r0-1M", "finished"]
    for run, model in (("majority", "majority"), ("fcn", "alexnet_gap")):
        fold = json.loads((tmp_path / "runs" / run / "fold-r0-1M.json").read_text())
        assert fold["model"] == model and fold["test_ids"] == ["1M"]
