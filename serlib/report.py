"""Reports: cross-validation folders in, tables and figures that diagnose out.

Folders of the same run (the same configuration, e.g. folds run as separate
jobs) are merged; different runs are compared side by side. For every run and
every fold: WA, UA, macro-F1 and each class's precision and recall, all
computed from the fold's confusion matrix. A fold that answers one class for
90 % or more of its test utterances, or whose UA is within 5 points of chance,
is flagged as **collapsed**: the model did not learn to tell the classes apart
there, whatever its WA says. A class found in under 10 % of its test utterances,
summed over the folds, is flagged as **missed**, though no fold collapsed.

Runs that share folds and repeats are compared **paired**: the difference in
UA and WA fold by fold and repeat by repeat, its mean, and a sign-flip permutation
test (:mod:`serlib.stats`) against a reference run (the first one by default), whose
false-alarm rate is 5 % by construction and measured in tests/test_stats.py. Its 95 %
interval holds 0 when the difference is within the noise of these folds and seeds;
below 6 pairs (5 folds x 1 repeat) no verdict is possible and the report says
"too few folds to tell".
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .errors import SerlibError
from .files import check_writable, claim_folder
from .metrics import COLLAPSE_MARGIN, COLLAPSE_SHARE, MISSED_RECALL, fold_scores
from .runs import CONFIG_FILE, DamagedFold, read_config, read_fold, write_json
from .stats import SignFlip, sign_flip_test


@dataclass
class Run:
    """One configuration's fold results, from one or more folders."""

    label: str
    identity: dict
    folders: list[Path] = field(default_factory=list)
    folds: dict[str, dict] = field(default_factory=dict)  # key "r0-1M" -> result
    speakers: list[str] = field(default_factory=list)      # the store's, where recorded

    @property
    def classes(self) -> list[str]:
        return self.identity["classes"]

    @property
    def model(self) -> str:
        return self.identity["train_config"]["ser_model"]

    def table(self) -> pd.DataFrame:
        """One row per fold and repeat: fold, repeat, test speakers, WA and UA (%) as the fold
        file gives them, macro-F1, per-class precision and recall, and the collapse flag."""
        rows = []
        for _, r in sorted(self.folds.items()):
            scores = fold_scores(np.array(r["test"]["confusion"]), self.classes)
            scores.update(WA=100 * r["test"]["wa"], UA=100 * r["test"]["ua"])
            rows.append({"fold": r["fold"], "repeat": r["repeat"],
                         "test": ",".join(r["test_ids"]), **scores})
        return pd.DataFrame(rows)

    def confusion(self) -> np.ndarray:
        """The test confusion matrices summed over folds and repeats ``(K, K)``."""
        return np.sum([np.array(r["test"]["confusion"]) for r in self.folds.values()], axis=0)

    def num_params(self) -> int:
        return next(iter(self.folds.values()))["num_params"]

    def tested(self) -> list[str]:
        """The test speakers of its folds, in order."""
        return list(dict.fromkeys(s for r in self.folds.values() for s in r["test_ids"]))


def load_runs(folders: list[str | os.PathLike], warn=None) -> list[Run]:
    """Read ``serlib cv`` folders, merging those of the same configuration. A damaged fold
    file is left out with a warning through ``warn`` (default: printed to stderr); runs
    that share a label get their folder's name added, so that every row and figure of a
    report names one run."""
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    runs: list[Run] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise SerlibError(f"{folder}: no such folder (give 'serlib cv' output folders)")
        meta = read_config(folder)
        if meta is None:
            raise SerlibError(f"{folder} is not a 'serlib cv' output folder (no {CONFIG_FILE})")
        run = next((r for r in runs if r.identity == meta["identity"]), None)
        if run is None:
            run = Run(meta["label"], meta["identity"], speakers=meta.get("speakers", []))
            runs.append(run)
        run.folders.append(folder)
        for path in sorted(folder.glob("fold-*.json")):
            try:
                record = read_fold(path)
            except DamagedFold as e:
                warn(f"{e}; left out of the report ('serlib cv' with the same options trains "
                     "it again)")
                continue
            run.folds.setdefault(path.stem.removeprefix("fold-"), record)
    empty = [r.label for r in runs if not r.folds]
    if empty:
        raise SerlibError(f"no finished fold in the folder(s) of run {', '.join(empty)}")
    _distinct_labels(runs)
    return runs


def _distinct_labels(runs: list[Run]) -> None:
    """Give runs that share a label their first folder's name, then a number, as a suffix."""
    for label in {r.label for r in runs}:
        same = [r for r in runs if r.label == label]
        if len(same) < 2:
            continue
        for run in same:
            run.label = f"{label} ({run.folders[0].name})"
        if len({r.label for r in same}) < len(same):
            for i, run in enumerate(same, 1):
                run.label = f"{label} ({i})"


def file_stem(label: str) -> str:
    """A run's label as part of a file name: letters, digits, ``.``, ``_`` and ``-`` only
    (``fcn/gap: v2`` -> ``fcn_gap_v2``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "run"


def _mean_std(values: pd.Series) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summary_table(runs: list[Run]) -> pd.DataFrame:
    """The thesis's results table: one row per run, WA, UA and macro-F1 as mean ± std over
    every fold and repeat, the number of collapsed folds, and WA and UA per fold."""
    rows = []
    for run in runs:
        t = run.table()
        row = {"run": run.label, "model": run.model, "params": run.num_params(),
               "protocol": run.identity["protocol"], "folds": len(t)}
        for metric in ("WA", "UA", "F1"):
            row[metric], row[f"{metric}_std"] = _mean_std(t[metric])
        row["collapsed"] = int(t["collapsed"].sum())
        per_fold = t.groupby("fold", sort=False)[["WA", "UA"]].mean()
        for fold, scores in per_fold.iterrows():
            row[f"WA {fold}"], row[f"UA {fold}"] = scores["WA"], scores["UA"]
        rows.append(row)
    return pd.DataFrame(rows)


def scores_table(evaluations: dict[str, object], classes: list[str] | tuple[str, ...]
                 ) -> pd.DataFrame:
    """Models side by side on one test set: a row per name with WA, UA, macro-F1, each
    class's recall (%), the most predicted class and whether it collapsed.

    ``evaluations`` maps a name to anything with a ``confusion`` matrix ``(K, K)`` (a
    :class:`~serlib.metrics.Evaluation`, e.g. ``result.test``), a ``FoldResult`` (its test
    evaluation), or a confusion matrix itself.
    """
    rows = {}
    for name, ev in evaluations.items():
        ev = getattr(ev, "test", ev)
        s = fold_scores(np.asarray(getattr(ev, "confusion", ev)), list(classes))
        rows[name] = {"WA": s["WA"], "UA": s["UA"], "macro-F1": s["F1"],
                      **{f"recall {c}": s[f"recall {c}"] for c in classes},
                      "most predicted": f"{s['top_class']} ({s['top_share']:.0f} %)",
                      "collapsed": "⚠ yes" if s["collapsed"] else "no"}
    return pd.DataFrame.from_dict(rows, orient="index").round(1)


def class_table(runs: list[Run]) -> pd.DataFrame:
    """Each run's precision and recall per class (%), from the confusion summed over folds,
    and whether the class was **missed** (recall below ``MISSED_RECALL``)."""
    rows = []
    for run in runs:
        scores = fold_scores(run.confusion(), run.classes)
        for name in run.classes:
            recall = scores[f"recall {name}"]
            rows.append({"run": run.label, "class": name,
                         "precision": scores[f"precision {name}"], "recall": recall,
                         "missed": bool(recall < MISSED_RECALL)})
    return pd.DataFrame(rows)


def missed_note(runs: list[Run]) -> str | None:
    """One line naming each run's missed classes with their recall, or None when no run
    missed one: a run can miss a class without any of its folds collapsing."""
    table = class_table(runs)
    missed = table[table["missed"]]
    if missed.empty:
        return None
    parts = [f"{run}: " + ", ".join(f"{r['class']} ({r['recall']:.0f} %)"
                                    for _, r in rows.iterrows())
             for run, rows in missed.groupby("run", sort=False)]
    return (f"⚠ missed: classes found in under {MISSED_RECALL:.0f} % of their test utterances, "
            f"summed over the folds: {'; '.join(parts)}.")


@dataclass(frozen=True)
class Paired(SignFlip):
    """The paired difference ``run - reference`` in one metric (percentage points): the
    outcome of :func:`serlib.stats.sign_flip_test` (mean, interval, p, pairs, folds,
    verdict) with what was compared."""

    run: str = ""
    reference: str = ""
    metric: str = "UA"


def paired_difference(reference: Run, run: Run, metric: str = "UA", *,
                      seed: int = 0) -> Paired | None:
    """``run - reference`` in ``metric`` over the folds both have; None when they share none.

    Within a fold, repeats with the same number are paired; a fold whose repeats do
    not match contributes the difference of its means. The estimate is the mean over
    folds of each fold's mean difference; p-value, interval and verdict are the sign-flip
    test's (:mod:`serlib.stats`): "too few folds to tell" below 6 pairs or 3 folds.
    """
    a, b = reference.table(), run.table()
    groups = []
    for fold in dict.fromkeys(a["fold"]):
        fa = a[a["fold"] == fold].set_index("repeat")[metric]
        fb = b[b["fold"] == fold].set_index("repeat")[metric]
        if fb.empty:
            continue
        common = fa.index.intersection(fb.index)
        groups.append((fb[common] - fa[common]).to_numpy() if len(common)
                      else np.array([fb.mean() - fa.mean()]))
    if not groups:
        return None
    return Paired(**asdict(sign_flip_test(groups, seed=seed)), run=run.label,
                  reference=reference.label, metric=metric)


def paired_table(runs: list[Run], reference: str | None = None) -> pd.DataFrame:
    """Every run against ``reference`` (a run's label; default the first run): the mean
    paired difference in UA and WA with its 95 % interval, and the folds it rests on."""
    if not runs:
        return pd.DataFrame()
    ref = runs[0] if reference is None else next((r for r in runs if r.label == reference),
                                                 None)
    if ref is None:
        raise SerlibError(f"--reference {reference!r} is not one of the runs: "
                          f"{', '.join(r.label for r in runs)}")
    rows = []
    for run in runs:
        if run is ref:
            continue
        ua, wa = paired_difference(ref, run, "UA"), paired_difference(ref, run, "WA")
        if ua is None:
            continue
        rows.append({"run": run.label, "reference": ref.label, "folds": ua.folds,
                     "pairs": ua.pairs, "dUA": ua.mean, "dUA_low": ua.low, "dUA_high": ua.high,
                     "dWA": wa.mean, "dWA_low": wa.low, "dWA_high": wa.high,
                     "p UA": ua.p, "UA verdict": ua.verdict})
    return pd.DataFrame(rows)


def _params(n: int) -> str:
    if not n:
        return "–"
    return f"{n:,}" if n < 100_000 else f"{n / 1e6:.2f} M"


def format_difference(value: float, low: float, high: float) -> str:
    """``+5.0 [+1.2, +8.8]``, or ``+5.0`` alone when the pairs are too few for an interval."""
    if np.isnan(low):
        return f"{value:+.1f}"
    return f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"


def markdown(table: pd.DataFrame, paired: pd.DataFrame | None = None,
             runs: list[Run] | None = None) -> str:
    """The summary as Markdown: the results table (mean ± std in %), WA / UA per fold with
    collapsed folds marked, the paired comparison, and which speakers were tested."""
    lines = ["| run | model | params | protocol | folds | WA (%) | UA (%) | macro-F1 (%) | "
             "collapsed folds |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['run']} | {r['model']} | {_params(r['params'])} | {r['protocol']} "
                     f"| {r['folds']} | {r['WA']:.1f} ± {r['WA_std']:.1f} | "
                     f"{r['UA']:.1f} ± {r['UA_std']:.1f} | {r['F1']:.1f} ± {r['F1_std']:.1f} | "
                     f"{r['collapsed']} of {r['folds']} |")
    fold_cols = [c for c in table.columns if c.startswith(("WA ", "UA "))]
    if fold_cols:
        folds = list(dict.fromkeys(c.split(" ", 1)[1] for c in fold_cols))
        collapsed = {run.label: set(run.table().query("collapsed")["fold"]) for run in runs or []}
        lines += ["", "| run | " + " | ".join(f"{f} WA / UA" for f in folds) + " |",
                  "|---|" + "---|" * len(folds)]
        for _, r in table.iterrows():
            cells = [f"{r[f'WA {f}']:.1f} / {r[f'UA {f}']:.1f}"
                     + (" ⚠" if f in collapsed.get(r["run"], ()) else "")
                     if pd.notna(r.get(f"WA {f}")) else "–" for f in folds]
            lines.append(f"| {r['run']} | " + " | ".join(cells) + " |")
        if any(collapsed.values()):
            lines += ["", f"⚠ collapsed (in at least one repeat): one class for "
                          f"{100 * COLLAPSE_SHARE:.0f} % or more of the test utterances, or "
                          f"UA within {COLLAPSE_MARGIN:.0f} points of chance."]
        missed = missed_note(runs) if runs else None
        if missed:
            lines += ["", missed]
    if paired is not None and len(paired):
        ref = paired["reference"].iloc[0]
        lines += ["", f"Paired differences against **{ref}** (percentage points, mean over "
                      "folds [95 % interval of a sign-flip test over the fold-and-repeat "
                      "pairs]; below 6 pairs no verdict is possible):", "",
                  "| run | folds (pairs) | ΔWA | ΔUA | p (UA) | UA |", "|---|---|---|---|---|---|"]
        for _, p in paired.iterrows():
            lines.append(f"| {p['run']} | {p['folds']} ({p['pairs']}) | "
                         f"{format_difference(p['dWA'], p['dWA_low'], p['dWA_high'])} | "
                         f"{format_difference(p['dUA'], p['dUA_low'], p['dUA_high'])} | "
                         f"{p['p UA']:.3f} | {p['UA verdict']} |")
    if runs:
        lines += ["", tested_note(runs)]
    return "\n".join(lines)


def tested_note(runs: list[Run]) -> str:
    """Which speakers the runs were tested on, and how many the store had."""
    tested = list(dict.fromkeys(s for run in runs for s in run.tested()))
    speakers = next((run.speakers for run in runs if run.speakers), [])
    text = f"Tested speakers: {', '.join(tested)}"
    if speakers:
        text += f" ({len(tested)} of the store's {len(speakers)})"
    if any(run.identity["protocol"] == "5fold" for run in runs):
        text += (". The thesis's 5-fold protocol tests one speaker per session, half of "
                 "IEMOCAP's ten; `--protocol 10fold` tests every speaker")
    return text + "."


def details_markdown(runs: list[Run]) -> str:
    """Per run and per fold: WA, UA, macro-F1, per-class recall and precision, collapse."""
    lines = []
    for run in runs:
        t = run.table()
        classes = run.classes
        lines += ["", f"### {run.label}", "",
                  "| fold | repeat | test | WA | UA | macro-F1 | "
                  + " | ".join(f"{c} P / R" for c in classes) + " | most predicted | collapsed |",
                  "|---|---|---|---|---|---|" + "---|" * len(classes) + "---|---|"]
        for _, r in t.iterrows():
            pr = [f"{r[f'precision {c}']:.0f} / {r[f'recall {c}']:.0f}".replace("nan", "–")
                  for c in classes]
            lines.append(f"| {r['fold']} | {r['repeat']} | {r['test']} | {r['WA']:.1f} | "
                         f"{r['UA']:.1f} | {r['F1']:.1f} | " + " | ".join(pr) +
                         f" | {r['top_class']} ({r['top_share']:.0f} %) | "
                         f"{'⚠ ' + r['why'] if r['collapsed'] else 'no'} |")
        ct = class_table([run])
        lines += ["", "Summed over folds: " + ", ".join(
            f"{r['class']} P {r['precision']:.0f} / R {r['recall']:.0f}".replace("nan", "–")
            for _, r in ct.iterrows()) + " (%)."]
    return "\n".join(lines)


#: The marker of a report folder: what it was made from, and the files it holds.
REPORT_FILE = "report.json"


#: The files a report writes (a folder of only these is a report of an older serlib).
REPORT_PATTERNS = ("results.md", "results.csv", "folds.csv", "classes.csv", "paired.csv",
                   "confusion-*", "curves-*", "comparison.*", ".*.tmp")


def _is_report(folder: Path) -> bool:
    if (folder / REPORT_FILE).is_file():
        return True
    entries = set(folder.iterdir())
    own = {p for pattern in REPORT_PATTERNS for p in folder.glob(pattern)}
    return bool(entries) and (folder / "results.md").is_file() and entries <= own


def write_report(folders: list[str | os.PathLike], out: str | os.PathLike, *,
                 reference: str | None = None, echo: bool = True, warn=None
                 ) -> dict[str, list]:
    """Tables (Markdown, CSV) and figures (PNG, PDF) of the runs in ``folders``, with paired
    comparisons against ``reference`` (a run's label; default the first run); prints the
    summary unless ``echo=False``.

    ``out`` must be new, empty, or a report that serlib wrote (its ``report.json``): a
    report is made from its runs, so it is replaced whole (files of the old report that
    the new one lacks are removed); any other folder is refused.
    """
    out = Path(out)
    runs = load_runs(folders, warn)  # the runs are read (and checked) before anything is written
    previous = claim_folder(out, ours=_is_report, what="a report")
    check_writable(out, "--out")
    old_files = []
    if previous:
        try:
            old_files = [out / name for name in json.loads(
                (out / REPORT_FILE).read_text()).get("files", [])]
        except (OSError, ValueError, AttributeError):
            old_files = []
    out.mkdir(parents=True, exist_ok=True)
    table = summary_table(runs)
    paired = paired_table(runs, reference)
    written: dict[str, list] = {"tables": [], "figures": []}
    text = markdown(table, paired, runs)
    (out / "results.md").write_text(
        text + "\n\n## Per fold: precision (P) and recall (R) per class, in %\n"
        + details_markdown(runs) + "\n")
    table.to_csv(out / "results.csv", index=False)
    folds = pd.concat([r.table().assign(run=r.label) for r in runs])
    folds.to_csv(out / "folds.csv", index=False)
    class_table(runs).to_csv(out / "classes.csv", index=False)
    paired.to_csv(out / "paired.csv", index=False)
    written["tables"] += [out / name for name in ("results.md", "results.csv", "folds.csv",
                                                  "classes.csv", "paired.csv")]
    for i, run in enumerate(runs):
        stem = f"{i:02d}-{file_stem(run.label.replace('+', '_'))}"
        t = run.table()
        flagged = f"; {int(t['collapsed'].sum())} collapsed" if t["collapsed"].any() else ""
        fig = plots.confusion_figure(run.confusion(), run.classes,
                                     f"{run.label}, {len(run.folds)} folds{flagged}")
        written["figures"] += plots.save(fig, out / f"confusion-{stem}")
        histories = [r["history"] for r in run.folds.values() if r.get("history")]
        if histories:
            fig = plots.curves_figure(histories, run.label)
            written["figures"] += plots.save(fig, out / f"curves-{stem}")
    fig = plots.comparison_figure(folds, paired)
    written["figures"] += plots.save(fig, out / "comparison")
    files = [p.name for p in written["tables"] + written["figures"]]
    for stale in old_files:  # the old report's figures of runs no longer in it
        if stale.name not in files and stale.parent == out and stale.is_file():
            stale.unlink()
    write_json(out / REPORT_FILE, {"format": "serlib-report", "runs": [str(f) for f in folders],
                                   "files": files})
    if echo:
        print(text)
    return written
