"""Running a cross-validation's folds elsewhere: a SLURM job array, or processes side by side.

A *unit* is one fold of one repeat of one configuration. Whatever runs it (this
process, a worker process on one GPU, an array task on a cluster node) opens
the store, makes the same folds with the same seeds and writes the same
``fold-r<repeat>-<fold>.json`` atomically into the run's folder, so the files
do not depend on the launcher, and a unit whose file exists is finished:

- ``sequential`` (the default): one unit after the other in this process
  (:func:`serlib.cv.run_cv`).
- ``local``: one worker process per GPU (``devices=[0, 1, 2]``) or a number of
  CPU workers, each taking the next unfinished unit.
- ``slurm``: the unfinished units as one job array through submitit; each task
  runs one unit. Submitting again skips the finished units and those still
  queued or running; :func:`slurm_status` says which are which, and where a
  failed unit's log is.

submitit hands each task its unit through a file it writes in its own
folder (a pickle that only submitit reads back); serlib's own files stay JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import CVRun, TrainConfig, _option
from .cv import plan_cv
from .errors import SerlibError
from .runs import fold_lock, fold_path, fold_state, write_json

if TYPE_CHECKING:
    from .store import FeatureStore

LAUNCHERS = ("sequential", "local", "slurm")
#: A run folder's record of its SLURM submissions.
JOBS_FILE = "slurm-jobs.json"


@dataclass(frozen=True)
class Unit:
    """One (configuration, fold, repeat): what a separate process needs to train it.

    ``store`` and ``out`` are absolute paths; ``fold`` is the fold's key
    (``r0-1M``); ``train`` holds the :class:`TrainConfig` fields; ``run`` the
    cross-validation's :class:`~serlib.config.CVRun`.
    """

    store: str
    out: str
    fold: str
    train: dict
    run: CVRun = CVRun()

    @classmethod
    def from_dict(cls, data: dict) -> Unit:
        """The unit of :func:`dataclasses.asdict`'s dict (as ``slurm-jobs.json`` records it)."""
        return cls(**{**data, "run": CVRun(**data.get("run", {}))})

    @property
    def result(self) -> Path:
        """The fold file the unit writes."""
        return fold_path(self.out, self.fold)

    @property
    def done(self) -> bool:
        """Whether its fold file is there and whole (a damaged one is trained again)."""
        return fold_state(self.out, self.fold) == "done"

    @property
    def name(self) -> str:
        """``<run folder name>/<fold key>``, for logs."""
        return f"{Path(self.out).name}/{self.fold}"


def cv_units(store: FeatureStore, run: CVRun | str, config: TrainConfig,
             out: str | os.PathLike, *, overwrite: bool = False,
             log: Callable[[str], None] = print, **options) -> list[Unit]:
    """Every unit of a run (``run``: a :class:`~serlib.config.CVRun`, or a protocol's name
    with its other fields as ``options``, as :func:`serlib.cv.run_cv` takes it), finished or
    not, after creating ``out`` (or checking that it holds the same run; ``overwrite``
    starts afresh one of another configuration), in the order a sequential run takes them."""
    run = CVRun.of(run, **options)
    plan = plan_cv(store, run, config, out, overwrite=overwrite, log=log)
    return [Unit(str(Path(store.path).resolve()), str(Path(out).resolve()), fold.key,
                 asdict(config), run) for fold in plan]


def run_unit(unit: Unit, *, gpu: int | None = None, progress: bool = False,
             log: Callable[[str], None] = print) -> str:
    """Train and test one unit in this process, unless its fold file exists; returns the
    file's path. This is what a worker process or an array task runs."""
    from .cv import is_done, plan_fold, run_fold
    from .features import load_features

    if unit.done:
        return str(unit.result)
    store = load_features(unit.store)
    config = TrainConfig(**unit.train)
    fold = plan_fold(store, unit.run, config, unit.out, unit.fold, log=log)
    lock = fold_lock(unit.out, unit.fold)
    if not lock.acquire():
        log(f"{unit.name}: being trained by another process; waiting for it")
        lock.acquire(blocking=True)
    try:
        if is_done(unit.out, fold, log, unit.name):  # finished by the process that held it
            return str(unit.result)
        log(f"{unit.name}: test {','.join(fold.test_ids)}, validation "
            f"{','.join(fold.val_ids) or 'none'}, seed {fold.seed}")
        return str(run_fold(store, fold, config, unit.out,
                            keep_checkpoints=unit.run.keep_checkpoints, gpu=gpu,
                            progress=progress, log=log))
    finally:
        lock.release()


# -- local: one process per GPU, or CPU workers ---------------------------------------------

_WORKER_GPU: int | None = None


def _start_worker(slots, threads: int | None) -> None:
    """A worker's first act: take a device slot before anything touches CUDA."""
    global _WORKER_GPU
    slot = slots.get()
    if slot is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slot  # this worker sees one GPU, as cuda:0
        _WORKER_GPU = 1
    if threads:
        import torch

        torch.set_num_threads(threads)  # workers share the cores instead of each taking all


def _run_in_worker(unit: Unit) -> str:
    return run_unit(unit, gpu=_WORKER_GPU, log=lambda m: print(f"[{unit.name}] {m}", flush=True))


def run_local(units: Iterable[Unit], *, devices: list[int] | None = None,
              workers: int | None = None, log: Callable[[str], None] = print) -> list[str]:
    """Run the unfinished units in worker processes: one per GPU in ``devices`` (each sees
    only its GPU), or ``workers`` CPU processes sharing the cores' threads. Returns the
    fold files written; a failed unit is reported and the others go on."""
    units = list(units)
    todo = [u for u in units if not u.done]
    if devices:
        slots: list[str | None] = [str(d) for d in devices]
        threads = None
    else:
        count = max(1, workers or 1)
        slots, threads = [None] * count, max(1, (os.cpu_count() or 1) // count)
    log(f"{len(units) - len(todo)} of {len(units)} units finished already; {len(todo)} to run "
        f"on {len(slots)} worker(s)" + (f" (GPUs {','.join(slots)})" if devices else ""))
    if not todo:
        return [str(u.result) for u in units]
    context = multiprocessing.get_context("spawn")  # fork after torch's threads start is unsafe
    queue = context.Queue()
    for slot in slots:
        queue.put(slot)
    failed = []
    with ProcessPoolExecutor(min(len(slots), len(todo)), mp_context=context,
                             initializer=_start_worker, initargs=(queue, threads)) as pool:
        jobs = {pool.submit(_run_in_worker, unit): unit for unit in todo}
        for job in as_completed(jobs):
            try:
                log(f"{jobs[job].name}: finished, {job.result()}")
            except Exception as e:  # noqa: BLE001 - one failed fold must not stop the others
                failed.append(jobs[job])
                log(f"{jobs[job].name}: failed: {type(e).__name__}: {e}")
    if failed:
        raise SerlibError(f"{len(failed)} of {len(todo)} units failed "
                          f"({', '.join(u.name for u in failed)}); the same command runs them "
                          "again and skips the finished ones")
    return [str(u.result) for u in units]


# -- SLURM through submitit ----------------------------------------------------------------


@dataclass(frozen=True)
class SlurmOptions:
    """What each array task asks SLURM for. ``time`` in minutes; ``sbatch`` holds extra
    ``#SBATCH`` parameters as ``("key=value", ...)``, e.g. ``("account=abc",
    "qos=short")``; ``setup`` lines run before the task (``module load cuda``)."""

    partition: str | None = _option(None, "slurm: the partition")
    gpus_per_job: int = _option(0, "slurm: GPUs per fold")
    cpus_per_job: int = _option(2, "slurm: CPUs per fold")
    mem_gb: float | None = _option(None, "slurm: memory per fold, GB", type=float)
    time: int = _option(24 * 60, "slurm: minutes per fold")
    array_parallelism: int = _option(64, "slurm: folds running at once")
    sbatch: tuple[str, ...] = _option((), "slurm: another #SBATCH parameter, e.g. account=abc "
                                          "(repeatable)", action="append", metavar="KEY=VALUE")
    setup: tuple[str, ...] = _option((), "slurm: a shell line run before each fold, e.g. "
                                         "'module load cuda' (repeatable)", action="append",
                                     metavar="LINE")
    job_name: str = _option("serlib", "slurm: the jobs' name in squeue")

    def parameters(self) -> dict:
        """submitit's ``SlurmExecutor.update_parameters`` arguments."""
        extra = {}
        for item in self.sbatch:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise SerlibError(f"--sbatch {item!r}: give KEY=VALUE, e.g. account=abc")
            extra[key.strip().lstrip("-")] = value.strip()
        params = {"job_name": self.job_name, "time": self.time, "cpus_per_task": self.cpus_per_job,
                  "array_parallelism": self.array_parallelism, "ntasks_per_node": 1,
                  "additional_parameters": extra, "setup": list(self.setup)}
        if self.partition:
            params["partition"] = self.partition
        if self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        if self.mem_gb:
            params["mem"] = f"{int(self.mem_gb * 1024)}M"
        return params


def _submitit():
    try:
        import submitit
    except ImportError:
        raise SerlibError("the SLURM launcher needs submitit: pip install 'serlib[cluster]' "
                          "(or pip install submitit)") from None
    return submitit


def _queue_states() -> dict[str, str]:
    """SLURM's state of every job and array task still in its queue, ``{"123_4": "RUNNING"}``
    (squeue; finished jobs have left it, and accounting may be off, so ``sacct`` is not
    asked)."""
    if shutil.which("squeue") is None:
        raise SerlibError("squeue not found: run this where SLURM's commands are available")
    r = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True,
                       check=False)
    if r.returncode:
        raise SerlibError(f"squeue failed: {r.stderr.strip() or r.stdout.strip()}")
    return dict(line.split(None, 1) for line in r.stdout.splitlines() if line.strip())


def _read_jobs(out: str | os.PathLike) -> dict:
    path = Path(out) / JOBS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def record_units(units: Iterable[Unit]) -> None:
    """Note every unit of each run in its folder's ``slurm-jobs.json`` (keeping the jobs
    recorded there), so that ``serlib status FOLDER`` knows the whole run."""
    by_out: dict[str, list[Unit]] = {}
    for unit in units:
        by_out.setdefault(unit.out, []).append(unit)
    for out, members in by_out.items():
        record = _read_jobs(out)
        record["units"] = entries = record.get("units", {})
        for unit in members:
            entries[unit.fold] = {**entries.get(unit.fold, {}), "unit": asdict(unit)}
        write_json(Path(out) / JOBS_FILE, record)


def recorded_units(out: str | os.PathLike) -> list[Unit]:
    """The units recorded in a run folder by :func:`submit_slurm` (``[]`` if none)."""
    try:
        return [Unit.from_dict(entry["unit"])
                for entry in _read_jobs(out).get("units", {}).values() if "unit" in entry]
    except (TypeError, AttributeError, SerlibError):
        raise SerlibError(f"{Path(out) / JOBS_FILE}: its units are not what this serlib "
                          "records (written by another version, or edited); submit the run "
                          "again with serlib cv --launcher slurm") from None


def unit_states(units: Iterable[Unit]) -> list[tuple[Unit, str, dict]]:
    """Each unit with its state (``finished``, ``pending``, ``running``, another SLURM
    state, ``failed`` when its task left the queue without a fold file, ``damaged`` when
    its fold file is not whole, ``running`` when a process outside SLURM holds its lock,
    or ``not submitted``) and its recorded job (``{"job", "stdout", "stderr"}``, or
    ``{}``)."""
    units = list(units)
    records = {out: _read_jobs(out).get("units", {}) for out in {u.out for u in units}}
    submitted = any("job" in entry for record in records.values() for entry in record.values())
    queue = _queue_states() if submitted else {}
    states = []
    for unit in units:
        entry = records[unit.out].get(unit.fold, {})
        job = {k: v for k, v in entry.items() if k != "unit"}
        local = fold_state(unit.out, unit.fold)  # done, damaged, running, pending
        queued = queue.get(job["job"]) if "job" in job else None
        if local == "done":
            state = "finished"
        elif queued is not None:
            state = queued.lower()
        elif local in ("damaged", "running"):  # a damaged file, or a process here holds it
            state = local
        else:
            state = "failed" if "job" in job else "not submitted"
        states.append((unit, state, job))
    return states


def submit_slurm(units: Iterable[Unit], folder: str | os.PathLike, options: SlurmOptions,
                 *, log: Callable[[str], None] = print) -> list[str]:
    """Submit the units that are neither finished nor queued or running as one job array;
    returns its task ids (``["123_0", "123_1"]``). Each run folder records its units' tasks
    in ``slurm-jobs.json``; submitit's scripts and logs go to ``folder``."""
    submitit = _submitit()
    states = unit_states(units)
    active = ("pending", "running", "configuring", "completing", "requeued", "resizing",
              "suspended")
    todo = [u for u, state, _ in states if state not in ("finished", *active)]
    counts: dict[str, int] = {}
    for _, state, _ in states:
        counts[state] = counts.get(state, 0) + 1
    log("units: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if not todo:
        log("nothing to submit")
        return []
    if shutil.which("sbatch") is None:
        raise SerlibError("sbatch not found: submit from a machine where SLURM's commands "
                          "are available (a cluster's login node)")
    executor = submitit.SlurmExecutor(folder=Path(folder).resolve() / "%j")
    executor.update_parameters(**options.parameters())
    try:
        jobs = executor.map_array(run_unit, todo)
    except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError) as e:
        raise SerlibError(f"sbatch refused the job array: {str(e).strip() or 'no message'} "
                          "(check --partition, --time, --gpus-per-job and --sbatch)") from None
    record_units(units)
    submitted: dict[str, dict] = {}
    for unit, job in zip(todo, jobs, strict=True):
        submitted.setdefault(unit.out, {})[unit.fold] = {
            "job": job.job_id, "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
            "submitted": time.strftime("%Y-%m-%d %H:%M:%S")}
    for out, entries in submitted.items():
        record = _read_jobs(out)
        for fold, job in entries.items():
            record["units"][fold].update(job)
        write_json(Path(out) / JOBS_FILE, record)
    log(f"submitted {len(todo)} units as job array {jobs[0].job_id.split('_')[0]} "
        f"(logs in {Path(folder).resolve()}); 'serlib status' shows their progress")
    return [job.job_id for job in jobs]


def run_units(units: list[Unit], launcher: str = "sequential", *,
              devices: list[int] | None = None, workers: int | None = None,
              slurm: SlurmOptions | None = None, folder: str | os.PathLike | None = None,
              gpu: int | None = None, progress: bool = True,
              log: Callable[[str], None] = print) -> list[str]:
    """Run units with a launcher (see the module's description): returns the fold files
    (``sequential``, ``local``), or the array tasks submitted (``slurm``, which returns at
    once). ``folder`` is where submitit keeps its scripts and logs (default: the first
    unit's run folder's ``slurm``)."""
    if launcher == "sequential":
        written = []
        for i, unit in enumerate(units, 1):
            done = unit.done
            log(f"[fold {i}/{len(units)}] {unit.name}"
                + (": done already, skipped" if done else ""))
            written.append(run_unit(unit, gpu=gpu, progress=progress, log=log))
        return written
    if launcher == "local":
        return run_local(units, devices=devices, workers=workers, log=log)
    if launcher == "slurm":
        if not units:
            return []
        folder = folder or Path(units[0].out) / "slurm"
        return submit_slurm(units, folder, slurm or SlurmOptions(), log=log)
    raise SerlibError(f"unknown launcher {launcher!r}; choose one of {list(LAUNCHERS)}")


def status_lines(units: Iterable[Unit]) -> list[str]:
    """A table of the units' states, with the log of each failed one."""
    lines = []
    for unit, state, job in unit_states(units):
        where = f" (job {job['job']})" if job and state != "finished" else ""
        lines.append(f"{unit.name:32s} {state}{where}")
        if state == "failed":
            lines.append(f"{'':32s} log: {job['stderr']}")
    return lines
