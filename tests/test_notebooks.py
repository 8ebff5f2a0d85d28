"""The course's notebooks as committed: order, Colab set-up, outputs nbval can check, size.

nbval itself executes them (``make test``); these tests check what a reader sees
where the repository is browsed, and the rules nbval relies on.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from serlib.course import REPOSITORY

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ORDER = ["00_setup_and_data", "01_corpora", "02_features", "03_alexnet_finetuning",
         "04_fcn_gap", "05_mixup", "06_stability_training", "07_cross_validation",
         "08_your_own_recording", "09_putting_it_together", "10_beyond_alexnet"]
TRAINING = {"03_alexnet_finetuning", "04_fcn_gap", "05_mixup", "06_stability_training",
            "07_cross_validation", "09_putting_it_together", "10_beyond_alexnet"}
IMAGE = ("image/png", "image/jpeg")


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_the_notebooks_exist_in_reading_order():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == ORDER


@pytest.mark.parametrize("name", ORDER)
def test_each_opens_with_a_colab_badge_and_a_guarded_install(name):
    cells = read(name).cells
    number = int(name[:2])
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# {number}.")
    badge = (f"https://colab.research.google.com/github/{REPOSITORY.split('github.com/')[1]}"
             f"/blob/main/notebooks/{name}.ipynb")
    assert badge in cells[0].source and "What this notebook teaches" in cells[0].source
    install = cells[1].source
    assert cells[1].cell_type == "code" and '"google.colab" in sys.modules' in install
    # Installed only when the import fails (rerunning does not reinstall), then Drive is
    # mounted where the course folder lives.
    assert re.search(r"try:\n\s+import serlib\nexcept ImportError:.*\n\s+%pip install .*"
                     + re.escape(REPOSITORY), install)
    assert 'drive.mount("/content/drive")' in install and "restart_needed()" in install
    if number:
        assert "course = serlib.course.load()" in cells[2].source
    assert any("import serlib" in c.source for c in cells if c.cell_type == "code")
    assert cells[-1].cell_type == "markdown" and "## Exercises" in cells[-1].source


@pytest.mark.parametrize("name", ORDER)
def test_outputs_are_stored_as_nbval_expects_and_small(name):
    nb = read(name)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.outputs:  # nbval's rule: a stored output needs an execution count
            assert cell.execution_count is not None, cell.source[:60]
        for out in cell.outputs:
            assert out.output_type != "error", cell.source[:60]
            text = out.get("data", {}).get("text/plain", "")
            assert "it/s]" not in text and "0%|" not in text  # stale progress bars
            assert "Traceback" not in out.get("text", ""), cell.source[:60]
    assert "widgets" not in nb.metadata
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < 1_200_000


@pytest.mark.parametrize("name", ORDER[1:])
def test_every_stage_shows_its_figures(name):
    images = [o for c in read(name).cells if c.cell_type == "code" for o in c.outputs
              if any(k in o.get("data", {}) for k in IMAGE)]
    assert images, f"{name} stores no figure"


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_training_notebooks_have_one_marked_settings_cell(name):
    cells = read(name).cells
    marked = [c for c in cells if c.cell_type == "markdown" and "⚙️ Settings" in c.source]
    assert len(marked) == 1
    settings = [c for c in cells if c.cell_type == "code" and "course.settings(" in c.source]
    # The tier of notebook 0, defined in the package and shared by every notebook; never a
    # switch on the device.
    assert len(settings) == 1 and f"course.settings({int(name[:2])}" in settings[0].source
    code = "".join(c.source for c in cells if c.cell_type == "code")
    assert "cuda" not in code and "course.full" not in code and "FULL" not in code
    assert "TrainConfig(" not in "".join(c.source for c in cells if c.cell_type == "code")


def _texts(cells) -> str:
    """Every text a notebook's code cells show: streams, plain text, Markdown and HTML."""
    parts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts += [data.get(k, "") for k in ("text/plain", "text/markdown", "text/html")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_every_trained_model_is_shown_beside_the_baselines(name):
    text = _texts(read(name).cells)
    assert "majority" in text and "acoustic" in text, f"{name} shows no baseline"
    assert "recall" in text, f"{name} shows no per-class recall"


def test_deterministic_cells_are_checked_by_nbval():
    checked = {name: sum("# NBVAL_CHECK_OUTPUT" in c.source for c in read(name).cells
                         if c.cell_type == "code") for name in ORDER}
    for name in ("00_setup_and_data", "01_corpora", "02_features", "03_alexnet_finetuning",
                 "04_fcn_gap", "05_mixup", "07_cross_validation"):
        assert checked[name] >= 1, name


def test_the_course_ends_with_its_own_results_table_and_confusion_matrix():
    cells = read("07_cross_validation").cells
    outputs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    tables = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert tables and "| alexnet_gap |" in tables[0] and "| alexnet_gap+mixup |" in tables[0]
    assert "Paired differences" in tables[0] and "| majority |" in tables[0]
    confusion = [c for c in cells if "confusion_figure" in c.source]
    assert confusion and all(any(k in o.get("data", {}) for o in c.outputs for k in IMAGE)
                             for c in confusion)


def test_resources_are_linked_from_the_readme_and_notebook_0():
    assert (ROOT / "RESOURCES.md").is_file()
    assert "RESOURCES.md" in (ROOT / "README.md").read_text()
    assert "../RESOURCES.md" in "".join(c.source for c in read("00_setup_and_data").cells)
    text = (ROOT / "RESOURCES.md").read_text()
    for needed in ("AlexNet", "Network in network", "Attention based fully convolutional",
                   "mixup", "stability training", "IEMOCAP", "emoDB", "RAVDESS", "CREMA-D",
                   "TESS", "MSP-Podcast", "wav2vec 2.0", "How to improve model performance"):
        assert needed.lower() in text.lower(), needed


def test_clean_notebooks_drops_progress_bars_and_widget_state(tmp_path):
    spec = importlib.util.spec_from_file_location("clean", ROOT / "tools" / "clean_notebooks.py")
    clean = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(clean)
    widget = {"model_id": "x", "version_major": 2, "version_minor": 0}
    stale = "epoch 1:  0%|   | 0/9 [00:00<?, ?batch/s]"
    bar = nbformat.v4.new_output("display_data", {clean.WIDGET: widget, "text/plain": stale})
    explorer = nbformat.v4.new_output("display_data", {clean.WIDGET: widget,
                                                       "text/plain": "interactive(children=…)"})
    figure = nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo=",
                                                     "text/plain": "<Figure>"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", execution_count=1,
                                                                   outputs=[bar, explorer,
                                                                            figure])])
    nb.metadata["widgets"] = {"state": {"x": 1}}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert clean.clean(str(path)) == 1
    after = nbformat.read(path, as_version=4)
    assert after.cells[0].outputs == [explorer, figure] and "widgets" not in after.metadata


def test_notebook_9_puts_the_thesis_table_together():
    cells = read("09_putting_it_together").cells
    text = _texts(cells)
    for run in ("| majority |", "| acoustic |", "| alexnet |", "| alexnet_gap |",
                "| alexnet_gap+mixup |", "| alexnet_gap+oversampling |",
                "| alexnet_gap+stability |"):
        assert run in text, run
    assert "Paired differences against **alexnet_gap**" in text
    sources = "".join(c.source for c in cells)
    assert "74.0" in sources and "62.6" in sources  # the thesis's table, to compare with


def test_notebooks_that_assert_claims_are_run_in_the_quick_tier_by_the_suite():
    """A notebook whose cells assert the text's claims (``if course.text_applies:``) must be
    one that tests/test_claims.py runs in the quick tier; nbval's check tier skips them."""
    from test_claims import CLAIMS

    claiming = {name for name in ORDER
                if any("course.text_applies" in c.source and "assert " in c.source
                       for c in read(name).cells if c.cell_type == "code")}
    assert claiming and claiming == set(CLAIMS)


def test_the_readmes_course_table_lists_every_notebook():
    """A learner finds the course through the README's table: no notebook is left out."""
    readme = (ROOT / "README.md").read_text()
    rows = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert notebooks and notebooks <= rows, sorted(notebooks - rows)
