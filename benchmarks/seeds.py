"""The demo's results over training seeds: the range a single run is one draw of.

A one-minute training on a few hundred utterances amplifies small differences (another
training seed, or another CPU's order of summation) into several points of UA. This
script runs the demo's cross-validation (FCN+GAP with the quick settings, the thesis's 5
folds of the synthetic course corpus) with ``--repeats`` training seeds (QUICK.seed + r),
beside the two baselines on the same folds and repeats, and prints:

* each seed's WA and UA (mean over the 5 folds), and their range over seeds;
* for every demo draw (two consecutive seeds, what ``serlib demo`` runs with training seed
  QUICK.seed + r), the paired verdict in UA of each baseline against FCN+GAP, so that the
  README states only verdicts that hold over every draw.

    python benchmarks/seeds.py [--repeats 6] [--utterances 1500] [--seed 0] [--work DIR]

Its output is recorded in benchmarks/SEEDS.md.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from recipe import synthetic_store  # benchmarks/recipe.py, beside this script

from serlib.config import QUICK
from serlib.cv import run_cv
from serlib.demo import DemoConfig
from serlib.report import Run, load_runs, paired_difference

BASELINES = ("majority", "acoustic")


def cpu() -> str:
    """The CPU's model name, its core count and torch's version, for the record."""
    import os

    import torch

    name = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        name = next((line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                     if line.startswith("model name")), name)
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__}"


def only_repeats(run: Run, repeats: set[int]) -> Run:
    """``run`` with only the folds of the given repeat numbers (keys ``r{repeat}-{fold}``)."""
    return replace(run, folds={k: v for k, v in run.folds.items()
                               if int(k.split("-")[0][1:]) in repeats})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=6, help="training seeds (at least 5)")
    p.add_argument("--utterances", type=int, default=DemoConfig.utterances)
    p.add_argument("--seed", type=int, default=DemoConfig.seed, help="of the synthetic corpus")
    p.add_argument("--work", type=Path, default=None, help="keep the corpus and runs here")
    p.add_argument("--num_epochs", type=int, default=QUICK.num_epochs,
                   help="fewer only to check the script itself")
    args = p.parse_args()
    quick = replace(QUICK, num_epochs=args.num_epochs)
    if args.repeats < DemoConfig.repeats + 1:
        p.error(f"--repeats must be at least {DemoConfig.repeats + 1}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        index, store = synthetic_store(work, args.utterances, args.seed)
        folders, seconds = {}, {}
        for name in ("alexnet_gap", *BASELINES):
            config = quick if name == "alexnet_gap" else replace(quick, ser_model=name)
            folders[name] = work / f"runs-{args.seed}-{args.utterances}" / name
            start = time.perf_counter()
            run_cv(store, "5fold", config, folders[name], repeats=args.repeats, label=name,
                   progress=False, log=lambda _: None)
            seconds[name] = time.perf_counter() - start
        runs = dict(zip(folders, load_runs(list(folders.values())), strict=True))
    cnn = runs["alexnet_gap"].table()
    per_seed = cnn.groupby("repeat")[["WA", "UA"]].mean()
    lines = [f"Corpus: synthetic, {args.utterances} turns, seed {args.seed}; "
             f"`improvised-4`: {len(index.table)} utterances; the thesis's 5 folds; "
             f"FCN+GAP with the quick settings, training seeds {QUICK.seed} to "
             f"{QUICK.seed + args.repeats - 1}; {cpu()}, "
             f"{seconds['alexnet_gap'] / 60:.1f} min for its {5 * args.repeats} folds.", "",
             "| training seed | WA (%) | UA (%) | lowest fold UA (%) |", "|---|---|---|---|"]
    for repeat, row in per_seed.iterrows():
        lowest = cnn[cnn["repeat"] == repeat]["UA"].min()
        lines.append(f"| {QUICK.seed + repeat} | {row['WA']:.1f} | {row['UA']:.1f} | "
                     f"{lowest:.1f} |")
    lines += ["", f"Range over the {args.repeats} seeds: WA {per_seed['WA'].min():.1f} to "
                  f"{per_seed['WA'].max():.1f}, UA {per_seed['UA'].min():.1f} to "
                  f"{per_seed['UA'].max():.1f} (mean {per_seed['UA'].mean():.1f})."]
    for name in BASELINES:
        table = runs[name].table()
        same = table.groupby("fold")["UA"].nunique().max() == 1
        lines.append(f"{name}: WA {table['WA'].mean():.1f}, UA {table['UA'].mean():.1f} "
                     f"({'the same' if same else 'not the same'} on every seed).")
    draws = DemoConfig.repeats
    lines += ["", f"Each demo draw ({draws} consecutive seeds, 5 x {draws} pairs): the paired UA "
                  "difference of each baseline from FCN+GAP and its verdict.", "",
              "| demo with training seed | FCN+GAP UA (%) | " + " | ".join(
                  f"{b} ΔUA [95 %] | {b} verdict" for b in BASELINES) + " |",
              "|---|---|" + "---|---|" * len(BASELINES)]
    verdicts: dict[str, set[str]] = {b: set() for b in BASELINES}
    for first in range(args.repeats - draws + 1):
        chosen = set(range(first, first + draws))
        reference = only_repeats(runs["alexnet_gap"], chosen)
        cells = [f"{QUICK.seed + first}", f"{reference.table()['UA'].mean():.1f}"]
        for name in BASELINES:
            paired = paired_difference(reference, only_repeats(runs[name], chosen), "UA")
            verdicts[name].add(paired.verdict)
            cells += [f"{paired.mean:+.1f} [{paired.low:+.1f}, {paired.high:+.1f}]",
                      paired.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"{name} against FCN+GAP, over every draw: "
                     f"{' or '.join(sorted(v))}." for name, v in verdicts.items()]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
