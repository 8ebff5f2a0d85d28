"""Probing the quick recipe: which short CPU training learns on every fold?

The demo and the notebooks' quick settings must learn on every fold in a few
minutes of CPU, on any synthetic corpus. This script measures candidate
recipes side by side on one or more corpora, with the same 5 folds, next to the two
baselines, and writes what docs/REFERENCE.md's recipe section cites:

    python benchmarks/recipe.py [--utterances 1500] [--seeds 1,2] [--recipes a,b] [--repeats 1]

A recipe is chosen on **development corpora** (synthetic seeds other than the course's
seed 0, whose folds the course reports), never on the corpus it is then reported on:
``--seeds 1,2`` pools the folds of both corpora into one paired comparison per recipe.

Each recipe is the settings before the probe with some fields changed
(``RECIPES``; ``quick`` is ``serlib.config.QUICK``). The Markdown it prints: mean
WA, UA and macro-F1, the lowest fold UA, the number of collapsed folds, wall time,
and the paired UA difference from the first recipe with the 95 % interval of a
sign-flip test (``serlib.report``; none below 6 pairs), beside the two baselines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from serlib.config import QUICK, FeatureConfig, TrainConfig
from serlib.corpora import index_corpus, synthesize
from serlib.cv import run_cv
from serlib.extract import extract_features
from serlib.features import load_features
from serlib.report import Run, format_difference, load_runs, paired_table

#: The quick settings before this probe: FCN+GAP from scratch, 10 epochs, 128 px, lr 1e-3,
#: the thesis's scaler, the best epoch chosen by validation WA.
BEFORE = TrainConfig(ser_model="alexnet_gap", num_epochs=10, batch_size=32, image_size=128)
#: Each recipe: the fields it changes from BEFORE. "quick" is serlib.config.QUICK; the ones
#: after it ("quick-...") change one thing of it. Names hold no comma: --recipes splits on it.
RECIPES: dict[str, dict] = {
    "before": {},
    "select-ua": {"select_by": "ua"},
    "lr3e-4-ua-balanced": {"lr": 3e-4, "select_by": "ua", "class_weight": "balanced"},
    "quick": {f: getattr(QUICK, f) for f in ("num_epochs", "image_size", "lr", "select_by",
                                              "scaler", "class_weight")},
    "quick-thesis-scaler": {"num_epochs": 15, "image_size": 64, "lr": 3e-4,
                               "select_by": "ua"},
    "quick-balanced-loss": {"num_epochs": 15, "image_size": 64, "lr": 3e-4, "select_by": "ua",
                             "scaler": "speaker", "class_weight": "balanced"},
    "quick-10-epochs": {"num_epochs": 10, "image_size": 64, "lr": 3e-4, "select_by": "ua",
                         "scaler": "speaker"},
    "quick-128px": {"num_epochs": 15, "image_size": 128, "lr": 3e-4, "select_by": "ua",
                      "scaler": "speaker"},
    "quick-lr1e-3": {"num_epochs": 15, "image_size": 64, "lr": 1e-3, "select_by": "ua",
                       "scaler": "speaker"},
    "quick-select-wa": {"num_epochs": 15, "image_size": 64, "lr": 3e-4,
                                "select_by": "wa", "scaler": "speaker"},
    # For small corpora (about 24 utterances per speaker), where quick collapsed on 2 folds:
    # more optimizer steps, by smaller batches or more epochs.
    "quick-batch16": {"num_epochs": 15, "batch_size": 16, "image_size": 64, "lr": 3e-4,
                      "select_by": "ua", "scaler": "speaker"},
    "quick-25-epochs": {"num_epochs": 25, "image_size": 64, "lr": 3e-4, "select_by": "ua",
                        "scaler": "speaker"},
}
BASELINES = ("majority", "acoustic")


def synthetic_store(work: Path, utterances: int, seed: int):
    """The synthetic IEMOCAP corpus of this size and seed, indexed and extracted under
    ``work`` with the default features: ``(index, store)``."""
    root = synthesize(work / f"synth-{seed}-{utterances}", "iemocap", utterances, seed,
                      progress=False)
    index = index_corpus("iemocap", root, progress=False)
    store = load_features(extract_features(index, FeatureConfig(),
                                           work / f"store-{seed}-{utterances}", progress=False))
    return index, store


def pooled(runs: list[Run], seed: int) -> list[Run]:
    """``runs`` with each fold named after its corpus (``{seed}/1M``), so that the folds of
    several corpora pool into one run per recipe without two corpora's 1M meeting."""
    return [replace(run, folds={f"{seed}/{key}": {**r, "fold": f"{seed}/{r['fold']}"}
                                for key, r in run.folds.items()}) for run in runs]


def merge(parts: list[list[Run]]) -> list[Run]:
    """One run per recipe from the per-corpus runs of :func:`pooled` (same order)."""
    return [replace(group[0], folds={k: v for run in group for k, v in run.folds.items()})
            for group in zip(*parts, strict=True)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--utterances", type=int, default=1500)
    p.add_argument("--seeds", "--seed", default="0",
                   help="of the synthetic corpora, comma-separated: several pool their folds")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--work", type=Path, default=None, help="keep the corpus and runs here")
    args = p.parse_args()
    names = [n for n in args.recipes.split(",") if n]
    unknown = sorted(set(names) - set(RECIPES) - set(BASELINES))
    if unknown:
        p.error(f"unknown recipe(s) {unknown}; choose from {list(RECIPES)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    seconds: dict[str, float] = dict.fromkeys([*names, *BASELINES], 0.0)
    parts, sizes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for seed in seeds:
            index, store = synthetic_store(work, args.utterances, seed)
            sizes.append(len(index.table))
            folders = []
            for name in seconds:
                config = replace(BEFORE, ser_model=name) if name in BASELINES else \
                    replace(BEFORE, **RECIPES[name])
                out = work / f"runs-{seed}-{args.utterances}" / name
                start = time.perf_counter()
                run_cv(store, "5fold", config, out, repeats=args.repeats, label=name,
                       progress=False, log=lambda _: None)
                seconds[name] += time.perf_counter() - start
                folders.append(out)
                print(f"seed {seed}, {name}: {time.perf_counter() - start:.0f} s",
                      file=sys.stderr, flush=True)
            parts.append(pooled(load_runs(folders), seed))
    runs = merge(parts)
    paired = paired_table(runs).set_index("run")
    corpora = ", ".join(f"seed {s} ({n} utterances)" for s, n in zip(seeds, sizes, strict=True))
    lines = [f"Corpora: synthetic, {args.utterances} turns, `improvised-4`: {corpora}; "
             f"5 folds x {args.repeats} repeat(s) each, pooled. ΔUA: paired difference from "
             f"`{runs[0].label}` [95 % interval] and the sign-flip test's p over all "
             f"{len(runs[0].folds)} pairs.", "",
             "| recipe | WA (%) | UA (%) | UA per corpus (%) | lowest fold UA | collapsed "
             "| ΔUA | p | time |", "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        t = run.table()
        t["corpus"] = t["fold"].str.split("/").str[0]
        per_corpus = " / ".join(f"{v:.1f}" for v in t.groupby("corpus", sort=False)["UA"].mean())
        fold_ua = t.groupby("fold")["UA"].mean()
        delta, p_value = ("–", "–") if run.label not in paired.index else (
            format_difference(*paired.loc[run.label, ["dUA", "dUA_low", "dUA_high"]]),
            f"{paired.loc[run.label, 'p UA']:.3f}")
        lines.append(f"| {run.label} | {t['WA'].mean():.1f} | {t['UA'].mean():.1f} | "
                     f"{per_corpus} | {fold_ua.min():.1f} ({fold_ua.idxmin()}) | "
                     f"{int(t['collapsed'].sum())} of {len(t)} | {delta} | {p_value} | "
                     f"{seconds[run.label]:.0f} s |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
