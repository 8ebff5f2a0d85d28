"""Notebook 0, setup and data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd


def exercise_1(course, utterances: int = 3000) -> dict:
    """A larger synthetic corpus: its counts table, and the share of its turns that the
    ``improvised-4`` preset keeps (improvised turns of the four classes only)."""
    from serlib import course as courses

    bigger = courses.use("synthetic", utterances=utterances, tier=course.tier, progress=False)
    try:
        index = bigger.index("improvised-4")
        print(index.counts())
        share = len(index.table) / utterances
        print(f"improvised-4 keeps {len(index.table)} of {utterances} turns ({100 * share:.0f} %)")
    finally:
        course.save()  # the course switches back to the corpus chosen before
    return {"kept": len(index.table), "turns": utterances, "share": share}


def exercise_2(course, utterances: int = 40) -> pd.DataFrame:
    """``serlib synth --layout emodb``, then the meaning of its file names: speaker (2
    digits), text (3 characters), emotion (one German initial), version."""
    from serlib import index_corpus

    out = course.data / "synth-emodb"
    subprocess.run([sys.executable, "-m", "serlib", "synth", "--layout", "emodb", "--out",
                    str(out), "--utterances", str(utterances)], check=True, capture_output=True)
    names = sorted(p.name for p in Path(out).rglob("*.wav"))
    print("files:", ", ".join(names[:6]), "...")
    table = index_corpus("emodb", out, progress=False).table
    parsed = table[["utt_id", "speaker", "emotion", "label"]].head()
    print(parsed.to_string(index=False))
    return parsed


def exercise_3(course) -> str:
    """The speaker with the fewest happy utterances (on IEMOCAP, or on whatever corpus the
    course uses), counted over every speaker, also those with none."""
    table = course.index().table
    counts = pd.crosstab(table["speaker"], table["label"])
    happy = counts.get("happiness", pd.Series(0, index=counts.index))
    fewest = str(happy.idxmin())
    print(happy.sort_values().to_string())
    print(f"fewest happy utterances: {fewest} ({happy.min()})")
    return fewest
