"""A run folder: what ``serlib cv`` (and ``serlib evaluate``) write, read back with checks.

::

    OUT/cv.json                the run's record: label, identity (what must match for results
                               to be mixed), the store's speakers, the folds planned so far
    OUT/fold-r0-1M.json        one finished fold (one writer: :func:`write_fold`)
    OUT/.fold-r0-1M.lock       held while a process trains that fold
    OUT/fold-r0-1M.pth         its checkpoint (--keep-checkpoints)
    OUT/tensorboard/r0-1M/     its TensorBoard scalars
    OUT/slurm-jobs.json, slurm/   SLURM submissions (serlib.launch)

Nothing read back is trusted: a fold file that is not whole JSON of the expected shape is
*damaged* (:class:`DamagedFold`), reported, and trained again by the next ``serlib cv``; a
damaged ``cv.json`` is explained. A fold is trained by one process at a time: the runner
takes the fold's lock first (:func:`fold_lock`), so a second ``serlib cv`` on the same
folder takes the folds nobody holds and then waits for the others.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from .config import EXECUTION_ONLY, FEATURE_TYPES, TrainConfig, reads_noisy_copies
from .errors import SerlibError
from .files import FileLock, atomic_path, claim_folder

CONFIG_FILE = "cv.json"
#: The entries of a run folder that serlib writes (what ``overwrite`` may remove).
OWN_ENTRIES = ("cv.json", "fold-*.json", "fold-*.pth", ".fold-*.lock", ".cv.lock",
               "tensorboard", "slurm", "slurm-jobs.json", ".*.tmp")


class DamagedFold(SerlibError):
    """A fold file that is not what serlib writes (truncated, edited, another format)."""


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))


def fold_path(out: str | os.PathLike, key: str) -> Path:
    """Where a fold's result goes: ``OUT/fold-r0-1M.json`` for the key ``r0-1M``."""
    return Path(out) / f"fold-{key}.json"


def fold_lock(out: str | os.PathLike, key: str) -> FileLock:
    """The lock a process holds while it trains fold ``key`` of the run in ``out``."""
    return FileLock(Path(out) / f".fold-{key}.lock")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_evaluation(ev, k: int | None, where: str) -> None:
    if not isinstance(ev, dict):
        raise ValueError(f"{where} is not a table of scores")
    for key in ("wa", "ua"):
        if not _is_number(ev.get(key)) or not 0 <= ev[key] <= 1:
            raise ValueError(f"{where}.{key} is not a score between 0 and 1")
    c = ev.get("confusion")
    k = len(c) if k is None and isinstance(c, list) else k
    if not (isinstance(c, list) and k and len(c) == k and all(
            isinstance(row, list) and len(row) == k and
            all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in row)
            for row in c)):
        raise ValueError(f"{where}.confusion is not a square matrix of counts")


def check_fold(record) -> None:
    """Raise ``ValueError`` saying what is wrong unless ``record`` is a fold result as
    :func:`write_fold` writes it: what its readers use is there, of the right type."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    kinds = {"fold": str, "repeat": int, "test_ids": list}
    optional = {"seed": int, "classes": list, "model": str, "config": dict, "val_ids": list,
                "history": dict}
    for key, kind in [*kinds.items(), *optional.items()]:
        value = record.get(key)
        if (key in kinds or value is not None) and \
                (not isinstance(value, kind) or isinstance(value, bool)):
            raise ValueError(f"'{key}' is missing or not a {kind.__name__}")
    k = len(record["classes"]) if "classes" in record else None
    _check_evaluation(record.get("test"), k, "test")
    if record.get("val") is not None:
        _check_evaluation(record["val"], k, "val")


def read_fold(path: str | os.PathLike) -> dict:
    """A fold file, checked; :class:`DamagedFold` naming the file and the fault when it is
    not whole (a write cut by a full disk, an edit, another program's file)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        check_fold(record)
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError included
        reason = e.strerror if isinstance(e, OSError) else str(e).splitlines()[0]
        raise DamagedFold(f"{path}: damaged fold file ({reason})") from None
    return record


def fold_state(out: str | os.PathLike, key: str) -> str:
    """``done``, ``damaged``, ``running`` (another process holds its lock) or ``pending``."""
    path = fold_path(out, key)
    if path.exists():
        try:
            read_fold(path)
            return "done"
        except DamagedFold:
            return "damaged"
    return "running" if fold_lock(out, key).held_elsewhere() else "pending"


def write_fold(out: str | os.PathLike, key: str, record: dict) -> Path:
    """Write a fold's result atomically (checked first: what is written can be read back)."""
    check_fold(json.loads(json.dumps(record)))
    path = fold_path(out, key)
    write_json(path, record)
    return path


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a run folder (it has serlib's ``cv.json``)."""
    return (path / CONFIG_FILE).is_file()


def read_config(out: str | os.PathLike) -> dict | None:
    """``OUT/cv.json`` checked (None when there is none); a :class:`SerlibError` that
    explains a damaged one."""
    out = Path(out)
    path = out / CONFIG_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        identity = record.get("identity")
        if not isinstance(record.get("label"), str) or not isinstance(identity, dict) or \
                not {"protocol", "train_config", "classes"} <= set(identity):
            raise ValueError("no label or identity")
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e).splitlines()[0]
        folds = len(list(out.glob("fold-*.json")))
        raise SerlibError(
            f"{path} is damaged ({reason}): it records which configuration the run's "
            f"{folds} fold file(s) belong to, so they cannot be trusted or resumed; run "
            "again with --overwrite to start the run afresh, or move the folder aside") \
            from None
    return record


def clear_run(out: Path) -> None:
    """Remove a run's own entries (:data:`OWN_ENTRIES`) so that it starts afresh; refuses,
    removing nothing, when the folder holds anything else."""
    own = {p for pattern in OWN_ENTRIES for p in out.glob(pattern)}
    others = [p.name for p in out.iterdir() if p not in own]
    if others:
        raise SerlibError(f"{out} holds files that serlib did not make ({', '.join(others[:3])})"
                          "; --overwrite removes only a run's own files: move them first")
    for p in own:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def run_identity(store, protocol: str, config: TrainConfig, loso_val: bool = False) -> dict:
    """What must match for results to be mixed in one run folder: the code (serlib's
    version), the store's contents (:attr:`~serlib.store.FeatureStore.fingerprint`) and
    extraction settings, the protocol and the training settings (not the fold selection, nor
    how the work is executed: :data:`~serlib.config.EXECUTION_ONLY`). Resuming after a
    restart finds the same identity; a run of other code or on another store does not."""
    from . import __version__

    train = {k: v for k, v in asdict(config).items() if k not in EXECUTION_ONLY}
    features = store.config.to_dict()
    if not reads_noisy_copies(config, bool(store.noisy)):
        # The copies are not read, so a store with them trains exactly as one without: the
        # plain model notebook 6 trains on its noisy store is notebook 9's FCN+GAP fold.
        features.pop("mixnoise")
        if not FEATURE_TYPES[store.config.features].perturbed:  # lognrevspec's channels
            features.pop("noise")
    return {"serlib": __version__, "store": store.fingerprint, "protocol": protocol,
            "loso_val": loso_val, "train_config": train,
            "feature_config": features, "classes": list(store.classes),
            "corpus": store.meta.get("corpus"), "preset": store.meta.get("preset"),
            "num_segments": store.meta["shape"][0]}


def with_new_defaults(identity: dict) -> dict:
    """A recorded identity with the training options added since it was written (the
    batch transforms' options, say) at their defaults, so that a folder written by a
    development checkout of the same version still resumes."""
    if "train_config" not in identity:
        return identity
    defaults = {k: v for k, v in asdict(TrainConfig()).items() if k not in EXECUTION_ONLY}
    return {**identity, "train_config": {**defaults, **identity["train_config"]}}


def prepare_out(out: str | os.PathLike, identity: dict, label: str,
                speakers: list[str] | None = None, *, planned: list[str] | None = None,
                overwrite: bool = False) -> None:
    """Create ``out`` for this run, or check that it holds results of the same run;
    ``speakers`` (the store's, for the report) and the ``planned`` fold keys (for
    ``serlib status``) are recorded beside the identity. ``overwrite`` starts afresh a
    run folder of another configuration (or a damaged one)."""
    out = Path(out)
    exists = claim_folder(out, ours=is_run_folder, what="a cross-validation run")
    if exists and overwrite:
        try:
            recorded = read_config(out)
        except SerlibError:
            recorded = None
        if recorded is None or with_new_defaults(recorded["identity"]) != identity:
            clear_run(out)
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(out / ".cv.lock"):  # two processes starting together record one plan
        recorded = read_config(out)
        if recorded is not None:
            old = recorded["identity"]
            if with_new_defaults(old) != identity:
                diff = sorted(k for k in identity if old.get(k) != identity[k])
                code = (f"; its results come from serlib {old.get('serlib', 'before 0.1.0')}, "
                        f"this is {identity['serlib']}") if "serlib" in diff else ""
                raise SerlibError(f"{out} holds cross-validation results of another "
                                  f"configuration (differs in: {', '.join(diff) or 'format'}"
                                  f"{code}); use another --out, or add --overwrite to start "
                                  "it afresh")
            known = recorded.get("folds", [])
            if set(planned or []) <= set(known):
                return
            recorded["folds"] = sorted(set(known) | set(planned or []))
            write_json(out / CONFIG_FILE, recorded)
            return
        write_json(out / CONFIG_FILE, {"label": label, "identity": identity,
                                       "speakers": sorted(speakers or []),
                                       "folds": sorted(planned or [])})


def run_status_lines(out: str | os.PathLike) -> list[str]:
    """``serlib status`` of a run folder: a line per fold (planned so far, or found) with
    its state (:func:`fold_state`) and, when done, its test WA and UA."""
    out = Path(out)
    record = read_config(out) or {}
    found = [p.stem.removeprefix("fold-") for p in out.glob("fold-*.json")]
    keys = sorted(set(record.get("folds", [])) | set(found))
    states = {key: fold_state(out, key) for key in keys}
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no folds"
    folds = f"{len(keys)} fold" + ("s" if len(keys) != 1 else "")
    lines = [f"{out}: run {record.get('label', '?')!r}, {folds}: {summary}"]
    for key, state in states.items():
        detail = ""
        if state == "done":
            test = read_fold(fold_path(out, key))["test"]
            detail = f"  test WA {100 * test['wa']:.1f} UA {100 * test['ua']:.1f}"
        elif state == "damaged":
            detail = "  (trained again by the next 'serlib cv' with the same options)"
        lines.append(f"  {key:24s} {state}{detail}")
    return lines
