"""Sweep files: several cross-validation runs described in one small TOML file.

::

    # sweeps/thesis-table.toml: the thesis's table
    store = "data/iemocap/features-logspec"   # the default store of every run
    protocol = "5fold"
    repeats = 5
    out = "runs/thesis-table"                 # one folder per run inside it

    [train]                                   # options every run shares
    num_epochs = 100
    pretrained = true

    [runs.alexnet_gap]                        # a run: its name, then its own options
    ser_model = "alexnet_gap"

    [runs."alexnet_gap+stability"]
    ser_model = "alexnet_gap"
    stability = true
    store = "data/iemocap/features-logspec-mixnoise"

Options are :class:`~serlib.config.TrainConfig`'s fields, spelled as on the
command line (``num_epochs``, ``mixup``); relative paths are taken from the
current folder, as on the command line. Each run writes ``OUT/<name>``, which
``serlib report OUT/*`` sets side by side.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .config import CVRun, TrainConfig
from .cv import parse_protocol
from .errors import SerlibError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The keys of a sweep file's top level (besides ``[train]`` and ``[runs.NAME]``): the
#: default store, the folder of the runs, and :class:`~serlib.config.CVRun`'s fields but its
#: label (each run's is its name), with the types TOML gives them.
TOP_KEYS = {"store": str, "out": str,
            **{f.name: list if f.name == "folds" else type(f.default) for f in fields(CVRun)
               if f.name != "label"}}


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its name (the folder ``out/<name>`` and the report's label),
    store, and training configuration."""

    name: str
    store: Path
    config: TrainConfig
    out: Path


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file: how every run is cross-validated (``cv``: protocol, repeats,
    folds...), and the runs."""

    cv: CVRun
    runs: tuple[SweepRun, ...]


def _train_fields() -> dict[str, object]:
    return {f.name: f.default for f in fields(TrainConfig)}


def _check_options(path: Path, where: str, options: dict, allowed: dict[str, object]) -> None:
    """Unknown keys and values of the wrong type, named with their place in the file."""
    for key, value in options.items():
        if key not in allowed:
            raise SerlibError(f"{path}: [{where}] has an unknown option {key!r}; options: "
                              f"{', '.join(sorted(allowed))}")
        default = allowed[key]
        wanted = default if isinstance(default, type) else type(default)
        if wanted is type(None):  # no typed default: TrainConfig checks the value itself
            continue
        if isinstance(value, bool) and wanted is not bool:
            ok = False  # TOML's true is no number
        elif wanted is float:
            ok = isinstance(value, (int, float))
        else:
            ok = isinstance(value, wanted)
        if not ok:
            raise SerlibError(f"{path}: [{where}] {key} = {value!r}: expected "
                              f"{wanted.__name__}")


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read and check a sweep file (see the module's description)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise SerlibError(f"{path}: no such sweep file") from None
    except IsADirectoryError:
        raise SerlibError(f"{path} is a folder; give a sweep file (TOML)") from None
    except UnicodeDecodeError as e:
        raise SerlibError(f"{path}: not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})"
                          "; save the sweep file as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise SerlibError(f"{path}: not a valid TOML file: {e}") from None
    train_fields = _train_fields()
    top = {k: v for k, v in data.items() if k not in ("train", "runs")}
    _check_options(path, "top level", top, TOP_KEYS)
    shared = data.get("train", {})
    if not isinstance(shared, dict):
        raise SerlibError(f"{path}: train = {shared!r}: [train] must be a table of training "
                          "options, e.g. [train] then num_epochs = 100 on the next line")
    _check_options(path, "train", shared, train_fields)
    runs = data.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise SerlibError(f"{path}: no runs; add at least one [runs.NAME] table")
    if "out" not in top:
        raise SerlibError(f"{path}: say where the runs go with out = \"FOLDER\"")
    try:
        parse_protocol(top.get("protocol", "5fold"))
    except SerlibError as e:
        raise SerlibError(f"{path}: {e}") from None
    out = Path(top["out"])
    parsed = []
    for name, options in runs.items():
        if not isinstance(options, dict):
            raise SerlibError(f"{path}: runs.{name} must be a table ([runs.{name}])")
        if name in (".", "..") or "/" in name or os.sep in name:
            raise SerlibError(f"{path}: run name {name!r} cannot be a folder name")
        _check_options(path, f"runs.{name}", options, {**train_fields, "store": str})
        store = options.get("store", top.get("store"))
        if store is None:
            raise SerlibError(f"{path}: runs.{name} has no store (give store = \"FOLDER\" at "
                              "the top or in the run)")
        settings = {**shared, **{k: v for k, v in options.items() if k != "store"}}
        try:
            config = TrainConfig(**settings)
        except SerlibError as e:
            raise SerlibError(f"{path}: runs.{name}: {e}") from None
        parsed.append(SweepRun(name, Path(store), config, out / name))
    try:
        cv = CVRun(**{k: v for k, v in top.items() if k not in ("store", "out")})
    except SerlibError as e:
        raise SerlibError(f"{path}: {e}") from None
    return Sweep(cv, tuple(parsed))


def sweep_units(sweep: Sweep, *, log=print) -> list:
    """Every unit of every run of the sweep (:class:`serlib.launch.Unit`), each run's folder
    created or checked, in file order."""
    from .features import load_features
    from .launch import cv_units

    units = []
    for run in sweep.runs:
        store = load_features(run.store)
        units += cv_units(store, replace(sweep.cv, label=run.name), run.config, run.out,
                          log=log)
    return units
