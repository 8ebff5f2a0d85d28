"""The notebooks' claims about training, checked on the machine that runs the suite.

nbval runs every notebook in the check tier (2 epochs), where no claim about training can
hold, so the cells that assert the text's claims (``if course.text_applies:``) are skipped
there. Here the notebooks in ``CLAIMS`` run as a learner runs them, in the quick tier on the
course's own synthetic corpus, each in a fresh course folder after notebook 0: an
``assert`` that fails (a claim that stopped holding on this machine) fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: The notebooks whose text states results of training as facts, backed by asserts.
CLAIMS = ["07_cross_validation"]


def execute(name: str, out: Path, env: dict) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>.ipynb`` headless into ``out`` (as ``make notebooks`` does)."""
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                           "--execute", "--ExecutePreprocessor.timeout=3000", "--output-dir",
                           str(out), str(NOTEBOOKS / f"{name}.ipynb")],
                          cwd=NOTEBOOKS, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-4000:]
    return nbformat.read(out / f"{name}.ipynb", as_version=4)


@pytest.mark.slow
@pytest.mark.parametrize("name", CLAIMS)
def test_the_notebooks_claims_hold_in_the_quick_tier(name, tmp_path):
    env = {**os.environ, "SERLIB_DATA": str(tmp_path / "data"), "SERLIB_SETTINGS": "quick"}
    execute("00_setup_and_data", tmp_path, env)  # chooses the course, as a learner does
    nb = execute(name, tmp_path, env)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "settings tier: quick (from SERLIB_SETTINGS)" in printed
    claims = [c for c in nb.cells if c.cell_type == "code" and "course.text_applies" in c.source]
    assert claims and all(c.get("execution_count") for c in claims)  # they ran, and passed
