"""Keep executed notebooks small and readable where the repository is browsed.

``make notebooks`` executes the notebooks in place, then runs this on them. It
drops what only a live kernel can show: tqdm's progress-bar widgets (their
stored text is a stale "0%") and the saved widget state. Everything else,
figures included, stays.

    python tools/clean_notebooks.py notebooks/*.ipynb
"""

from __future__ import annotations

import sys

import nbformat

WIDGET = "application/vnd.jupyter.widget-view+json"


def is_progress_bar(output: dict) -> bool:
    """A tqdm bar rendered as an ipywidget: a widget view whose text looks like a bar."""
    data = output.get("data", {})
    text = data.get("text/plain", "")
    return WIDGET in data and ("it/s]" in text or "%|" in text or "utt/s]" in text
                               or "batch/s]" in text)


def clean(path: str) -> int:
    """Clean one notebook in place; returns the number of outputs dropped."""
    nb = nbformat.read(path, as_version=4)
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = [o for o in cell.outputs if not is_progress_bar(o)]
        dropped += len(cell.outputs) - len(kept)
        cell.outputs = kept
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return dropped


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {clean(name)} progress bar(s) dropped")
