"""Notebook 7, cross-validation."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pandas as pd

import serlib


def _cv(course, config, name: str, protocol: str = "5fold", store=None):
    store = store or course.features("logspec", progress=False)
    serlib.run_cv(store, protocol, config, course.work / "cv" / name, progress=False,
                  log=lambda line: None)
    return course.work / "cv" / name


def exercise_1(course, **changes) -> pd.DataFrame:
    """Oversampling over the five folds, paired with FCN+GAP fold by fold (the folds
    notebook 7 trained are not trained again). Read its interval: outside the noise only
    if it excludes 0, and five pairs are few."""
    config = course.settings(7, **changes)
    folders = [_cv(course, config, "alexnet_gap"),
               _cv(course, replace(config, oversampling=True), "alexnet_gap+oversampling")]
    paired = serlib.report.paired_table(serlib.report.load_runs(folders))
    print(paired.to_string())
    return paired


def exercise_2(course, **changes) -> pd.DataFrame:
    """Leave-one-session-out: each fold tests on both speakers of one session and keeps no
    validation speaker (the last epoch is taken)."""
    store = course.features("logspec", progress=False)
    folds = serlib.cv.make_folds("loso", list(store))
    table = pd.DataFrame([{"fold": f.name, "test": ",".join(f.test_ids),
                           "validation": ",".join(f.val_ids) or "none"} for f in folds])
    print(table.to_string(index=False))
    config = course.settings(7, **changes)
    run = serlib.report.load_runs([_cv(course, config, "loso-alexnet_gap", "loso")])[0]
    print(run.table().round(1).to_string())
    return table


def exercise_3(course, **changes) -> dict:
    """One run split over two processes (``--folds``), each into its own folder, then both
    folders in one report: the same fold results as one process's run, fold by fold."""
    store = course.features("logspec", progress=False)
    config = course.settings(7, **changes)
    flags = serlib.cli.train_flags(config)
    parts = {"1M,2F,3M": course.work / "cv-split-a", "4F,5F": course.work / "cv-split-b"}
    processes = [subprocess.Popen([sys.executable, "-m", "serlib", "cv", str(store.path), *flags,
                                   "--folds", folds, "--out", str(out), "--no-progress"],
                                  stdout=subprocess.DEVNULL)
                 for folds, out in parts.items()]
    if any(p.wait() for p in processes):
        raise RuntimeError("a serlib cv process failed")
    split = serlib.report.load_runs(list(parts.values()))[0].table()
    whole = serlib.report.load_runs([_cv(course, config, "alexnet_gap")])[0].table()
    same = split.equals(whole)
    print(split.round(1).to_string())
    print("the same table as one process's run:", same)
    return {"same": same, "folds": len(split)}
