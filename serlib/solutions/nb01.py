"""Notebook 1, corpora."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def exercise_1(course) -> pd.DataFrame:
    """The hardest test set for happiness: the speaker with the fewest happy utterances in
    the preset the course trains on. With n of them, one utterance moves happiness recall by
    100/n points, so that speaker's recall is the noisiest, and a model that misses a few
    loses most there."""
    table = course.index().table
    happy = table[table["label"] == "happiness"].groupby("speaker").size()
    happy = happy.reindex(sorted(table["speaker"].unique()), fill_value=0)
    out = pd.DataFrame({"happy utterances": happy,
                        "share of the speaker's (%)": (100 * happy / table.groupby(
                            "speaker").size()).round(1),
                        "recall step (points)": (100 / happy.where(happy > 0)).round(1)})
    print(out.sort_values("happy utterances").to_string())
    print("hardest for happiness:", out["happy utterances"].idxmin())
    return out


def exercise_2(course) -> pd.Series:
    """A two-class preset, anger against sadness: how balanced it is (the larger class's
    count over the smaller's)."""
    index = course.index("ang=anger,sad=sadness")
    counts = index.table["label"].value_counts()
    print(counts.to_string())
    print(f"imbalance: {counts.max() / counts.min():.2f} to 1")
    return counts


def exercise_3(course) -> dict:
    """Durations per speaker instead of per emotion: the spread of the speakers' median
    durations against the spread of the classes' medians (in seconds)."""
    table = course.index().table
    by_speaker = table.groupby("speaker")["duration_s"].median()
    by_label = table.groupby("label")["duration_s"].median()
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    for speaker, group in table.groupby("speaker"):
        ax.hist(group["duration_s"], bins=20, histtype="step", label=speaker)
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("utterances")
    ax.set_title("Utterance durations per speaker")
    ax.legend(ncol=2, fontsize="small")
    spread = {"speakers": float(by_speaker.max() - by_speaker.min()),
              "classes": float(by_label.max() - by_label.min())}
    print(f"median durations range over {spread['speakers']:.2f} s between speakers and "
          f"{spread['classes']:.2f} s between classes")
    return {**spread, "figure": fig}
