"""Notebooks 9's and 10's configurations over training seeds, compared with FCN+GAP.

Notebooks 9 and 10 train each configuration once (one training seed, five folds), so
their tables are one draw and every paired comparison reads "too few folds to tell".
This script runs the same configurations, with the course's settings tier, on the same
folds (all five; notebook 10's ResNet-18 and RegNet on its three) with ``--repeats``
training seeds (the tier's seed + r), and prints for each:

* its mean WA and UA for every seed, and the range over seeds;
* the paired UA difference from FCN+GAP over the folds x seeds (the report's sign-flip
  test, whose false-alarm rate ``tests/test_stats.py`` measures) and its verdict;
* each class's recall (summed over the folds) for every seed.

    SERLIB_DATA=DIR python benchmarks/notebook_seeds.py [--repeats 5] [--configs a b ...]

It reads the course of ``SERLIB_DATA`` (chosen in notebook 0; a fresh folder gets the
default synthetic course) and writes its runs under ``DIR/course/cv-seeds/``, never into
the notebooks' own ``cv/`` folders. Runs resume: copy a notebook's ``cv/LABEL`` folder to
``cv-seeds/LABEL`` first and its stored seed is reused, not trained again. Configurations
print as each finishes, so an interrupted run reports what it has. Its output is recorded
in benchmarks/SEEDS.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from seeds import cpu, only_repeats  # benchmarks/seeds.py, beside this script

import serlib
from serlib.report import Run, class_table, load_runs, paired_difference

REFERENCE = "alexnet_gap"
# notebook 10 trains its slower backbones on these folds only in the quick tier
SOME_FOLDS = ("1M", "3M", "5F")
# label -> (changes to the tier's settings, whether it reads notebook 6's noisy copies,
# its folds: None for all five); notebook 9's configurations, then notebook 10's
CONFIGS = {
    "majority": ({"ser_model": "majority"}, False, None),
    REFERENCE: ({}, False, None),
    "alexnet_gap+mixup": ({"mixup": True}, False, None),
    "alexnet_gap+stability": ({"stability": True}, True, None),
    "alexnet_gap+oversampling": ({"oversampling": True}, False, None),
    "alexnet_att": ({"ser_model": "alexnet_att"}, False, None),
    "alexnet_gap+specaugment": ({"specaugment": True}, False, None),
    "alexnet": ({"ser_model": "alexnet"}, False, None),
    "resnet18_gap": ({"ser_model": "resnet18_gap"}, False, SOME_FOLDS),
    "regnet_y_400mf_gap": ({"ser_model": "regnet_y_400mf_gap"}, False, SOME_FOLDS),
}


def seed_lines(run: Run, label: str, seed: int, reference: Run | None) -> list[str]:
    """One configuration's per-seed means, range, paired comparison and class recalls."""
    table = run.table()
    per_seed = table.groupby("repeat")[["WA", "UA"]].mean()
    lines = [f"### {label}", "", "| training seed | WA (%) | UA (%) | lowest fold UA (%) |",
             "|---|---|---|---|"]
    for repeat, row in per_seed.iterrows():
        lowest = table[table["repeat"] == repeat]["UA"].min()
        lines.append(f"| {seed + repeat} | {row['WA']:.1f} | {row['UA']:.1f} | {lowest:.1f} |")
    lines += ["", f"Range over {len(per_seed)} seeds: WA {per_seed['WA'].min():.1f} to "
                  f"{per_seed['WA'].max():.1f}, UA {per_seed['UA'].min():.1f} to "
                  f"{per_seed['UA'].max():.1f} (mean {per_seed['UA'].mean():.1f})."]
    if reference is not None:  # on the folds the run has
        paired = paired_difference(reference, run, "UA")
        lines.append(f"Against FCN+GAP over {paired.pairs} pairs ({paired.folds} folds): "
                     f"ΔUA {paired.mean:+.1f} [{paired.low:+.1f}, {paired.high:+.1f}], "
                     f"p {paired.p:.3f}: **{paired.verdict}**.")
    recalls = [class_table([only_repeats(run, {repeat})]).set_index("class")["recall"]
               for repeat in per_seed.index]
    lines += ["", "Recall summed over the folds, per seed: " + "; ".join(
        f"{name} {', '.join(f'{r[name]:.0f}' for r in recalls)}" for name in run.classes)
        + " (%).", ""]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="training seeds (at least 5)")
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                   help="in this order; FCN+GAP is always run, first after the majority")
    p.add_argument("--num_epochs", type=int, default=None,
                   help="fewer only to check the script itself")
    args = p.parse_args()
    course = serlib.course.load() if (serlib.course.data_dir() / "course.json").is_file() \
        else serlib.course.use("synthetic")
    config = course.settings()
    if args.num_epochs:
        config = replace(config, num_epochs=args.num_epochs)
    store = course.features("logspec", progress=False)
    noisy_store = None
    labels = list(dict.fromkeys(["majority", REFERENCE, *args.configs]))
    print(f"Course: {course.describe()}; the thesis's 5 folds; training seeds {config.seed} "
          f"to {config.seed + args.repeats - 1}; {cpu()}.\n")
    reference = None
    for label in labels:
        changes, noisy, folds = CONFIGS[label]
        if noisy and noisy_store is None:
            noisy_store = course.features("logspec", mixnoise=1, progress=False)
        folder = course.work / "cv-seeds" / label
        start = time.perf_counter()
        serlib.run_cv(noisy_store if noisy else store, "5fold", replace(config, **changes),
                      folder, repeats=args.repeats, folds=folds, label=label,
                      progress=False, log=lambda _: None)
        minutes = (time.perf_counter() - start) / 60
        run = load_runs([folder])[0]
        lines = seed_lines(run, label, config.seed, reference)
        lines.insert(1, f"\n({minutes:.1f} min for the folds not already there)")
        print("\n".join(lines), flush=True)
        if label == REFERENCE:
            reference = run


if __name__ == "__main__":
    main()
