"""Notebook 9, putting it together."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

import serlib


def _table(course, config, repeats: int, runs: dict, name: str) -> pd.DataFrame:
    """Each run's cross-validation with ``repeats`` (finished folds are not trained again),
    paired with the first run."""
    folders = []
    for label, changes in runs.items():
        out = course.work / name / label
        serlib.run_cv(course.features("logspec", progress=False), "5fold",
                      replace(config, **changes), out, repeats=repeats, progress=False,
                      log=lambda line: None)
        folders.append(out)
    return serlib.report.paired_table(serlib.report.load_runs(folders))


RUNS = {"alexnet_gap": {}, "alexnet_gap+oversampling": {"oversampling": True}}


def exercise_1(course, repeats: int = 3, **changes) -> pd.DataFrame:
    """One repeat, then ``repeats`` (only the new ones train): the paired interval of
    oversampling against FCN+GAP, its width, and its verdict. More pairs narrow it when the
    folds agree; a verdict that flips was never a finding."""
    config = course.settings(9, **changes)
    rows = []
    for n in (1, repeats):
        paired = _table(course, config, n, RUNS, "cv").iloc[0]
        rows.append({"repeats": n, "pairs": paired["pairs"], "dUA": paired["dUA"],
                     "width": paired["dUA_high"] - paired["dUA_low"],
                     "verdict": paired["UA verdict"]})
    table = pd.DataFrame(rows)
    print(table.round(1).to_string(index=False))
    return table


def exercise_2(course, seed: int = 1, utterances: int | None = None, **changes) -> pd.DataFrame:
    """The same comparison on another synthetic corpus (another ``seed``, its own folders):
    which differences keep their sign. The course switches back afterwards."""
    from serlib import course as courses

    config = course.settings(9, **changes)
    signs = {}
    other = courses.use("synthetic", utterances=utterances or course.utterances, seed=seed,
                        tier=course.tier, progress=False)
    try:
        for name, chosen in (("this corpus", course), (f"seed {seed}", other)):
            paired = _table(chosen, config, 1, RUNS, "cv")
            signs[name] = paired.set_index("run")["dUA"]
    finally:
        course.save()
    table = pd.DataFrame(signs)
    table["same sign"] = (table.iloc[:, 0] > 0) == (table.iloc[:, 1] > 0)
    print(table.round(1).to_string())
    return table


def exercise_3(course, **changes) -> pd.DataFrame:
    """The thesis tier's table (run it overnight on a GPU with IEMOCAP): AlexNet with
    stability training and FCN+GAP, paired, beside the thesis's 74.0 / 64.4 and
    73.2 / 62.6 (WA / UA). ``changes`` shorten it for a check."""
    tier = serlib.tiers.TIERS["thesis"]
    config = replace(tier.config, **changes)
    store = course.features("logspec", mixnoise=1, progress=False)
    folders = []
    for label, extra in (("alexnet_gap", {}), ("alexnet+stability",
                                               {"ser_model": "alexnet", "stability": True})):
        out = course.work / "cv-thesis" / label
        serlib.run_cv(store, "5fold", replace(config, **extra), out,
                      repeats=tier.repeats if not changes else 1, progress=False,
                      log=lambda line: None)
        folders.append(out)
    runs = serlib.report.load_runs(folders)
    for run in runs:
        table = run.table()
        print(f"{run.label}: WA {table['WA'].mean():.1f} %, UA {table['UA'].mean():.1f} %")
    paired = serlib.report.paired_table(runs)
    print(paired.round(1).to_string(index=False))
    return paired
