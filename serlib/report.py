"""Reports: cross-validation folders in, tables and figures out.

Folders of the same run (the same configuration, e.g. folds run as separate
jobs) are merged; different runs are compared side by side. WA and UA are
given as mean ± standard deviation (ddof=1) over every fold and repeat, and
per fold (the mean over repeats).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .cv import CONFIG_FILE
from .errors import SerlibError


@dataclass
class Run:
    """One configuration's fold results, from one or more folders."""

    label: str
    identity: dict
    folders: list[Path] = field(default_factory=list)
    folds: dict[str, dict] = field(default_factory=dict)  # key "r0-1M" -> result

    @property
    def classes(self) -> list[str]:
        return self.identity["classes"]

    def table(self) -> pd.DataFrame:
        """One row per fold and repeat: fold, repeat, test speakers, WA, UA (%)."""
        rows = [{"fold": r["fold"], "repeat": r["repeat"], "test": ",".join(r["test_ids"]),
                 "WA": 100 * r["test"]["wa"], "UA": 100 * r["test"]["ua"]}
                for _, r in sorted(self.folds.items())]
        return pd.DataFrame(rows)

    def confusion(self) -> np.ndarray:
        """The test confusion matrices summed over folds and repeats ``(K, K)``."""
        return np.sum([np.array(r["test"]["confusion"]) for r in self.folds.values()], axis=0)

    def num_params(self) -> int:
        return next(iter(self.folds.values()))["num_params"]


def load_runs(folders: list[str | os.PathLike]) -> list[Run]:
    """Read ``serlib cv`` folders, merging those of the same configuration."""
    runs: list[Run] = []
    for folder in map(Path, folders):
        config = folder / CONFIG_FILE
        if not config.is_file():
            raise SerlibError(f"{folder} is not a 'serlib cv' output folder (no {CONFIG_FILE})")
        meta = json.loads(config.read_text())
        run = next((r for r in runs if r.identity == meta["identity"]), None)
        if run is None:
            run = Run(meta["label"], meta["identity"])
            runs.append(run)
        run.folders.append(folder)
        for path in sorted(folder.glob("fold-*.json")):
            run.folds.setdefault(path.stem.removeprefix("fold-"), json.loads(path.read_text()))
    empty = [r.label for r in runs if not r.folds]
    if empty:
        raise SerlibError(f"no finished fold in the folder(s) of run {', '.join(empty)}")
    return runs


def _mean_std(values: pd.Series) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summary_table(runs: list[Run]) -> pd.DataFrame:
    """The seed's results table: one row per run, WA and UA mean ± std and per fold."""
    rows = []
    for run in runs:
        t = run.table()
        (wa, wa_sd), (ua, ua_sd) = _mean_std(t["WA"]), _mean_std(t["UA"])
        row = {"run": run.label, "model": run.identity["train_config"]["ser_model"],
               "params": run.num_params(), "protocol": run.identity["protocol"],
               "folds": len(t), "WA": wa, "WA_std": wa_sd, "UA": ua, "UA_std": ua_sd}
        per_fold = t.groupby("fold", sort=False)[["WA", "UA"]].mean()
        for fold, scores in per_fold.iterrows():
            row[f"WA {fold}"], row[f"UA {fold}"] = scores["WA"], scores["UA"]
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """The summary as Markdown, WA and UA as ``mean ± std`` in %."""
    lines = ["| run | model | params | protocol | folds | WA (%) | UA (%) |",
             "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['run']} | {r['model']} | {r['params'] / 1e6:.2f} M | "
                     f"{r['protocol']} | {r['folds']} | {r['WA']:.1f} ± {r['WA_std']:.1f} | "
                     f"{r['UA']:.1f} ± {r['UA_std']:.1f} |")
    fold_cols = [c for c in table.columns if c.startswith(("WA ", "UA "))]
    if fold_cols:
        folds = list(dict.fromkeys(c.split(" ", 1)[1] for c in fold_cols))
        lines += ["", "| run | " + " | ".join(f"{f} WA / UA" for f in folds) + " |",
                  "|---|" + "---|" * len(folds)]
        for _, r in table.iterrows():
            cells = [f"{r[f'WA {f}']:.1f} / {r[f'UA {f}']:.1f}"
                     if pd.notna(r.get(f"WA {f}")) else "–" for f in folds]
            lines.append(f"| {r['run']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(folders: list[str | os.PathLike], out: str | os.PathLike, *,
                 echo: bool = True) -> dict[str, list]:
    """Tables (Markdown, CSV) and figures (PNG, PDF) of the runs in ``folders``; prints the
    Markdown table unless ``echo=False``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(folders)
    table = summary_table(runs)
    written: dict[str, list] = {"tables": [], "figures": []}
    text = markdown(table)
    (out / "results.md").write_text(text + "\n")
    table.to_csv(out / "results.csv", index=False)
    pd.concat([r.table().assign(run=r.label) for r in runs]).to_csv(out / "folds.csv",
                                                                     index=False)
    written["tables"] += [out / "results.md", out / "results.csv", out / "folds.csv"]
    for i, run in enumerate(runs):
        stem = f"{i:02d}-{run.label.replace('+', '_')}"
        fig = plots.confusion_figure(run.confusion(), run.classes,
                                     f"{run.label}, summed over {len(run.folds)} folds")
        written["figures"] += plots.save(fig, out / f"confusion-{stem}")
        fig = plots.curves_figure([r["history"] for r in run.folds.values()], run.label)
        written["figures"] += plots.save(fig, out / f"curves-{stem}")
    if len(runs) > 1:
        wa = list(zip(table["WA"], table["WA_std"], strict=True))
        ua = list(zip(table["UA"], table["UA_std"], strict=True))
        fig = plots.comparison_figure(list(table["run"]), wa, ua)
        written["figures"] += plots.save(fig, out / "comparison")
    if echo:
        print(text)
    return written
