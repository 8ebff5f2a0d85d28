"""Execute one notebook in a fresh kernel of this Python, as a Colab runtime would, and write
it with its outputs (tests/test_colab_path.py). Usage: run_notebook.py IN.ipynb OUT.ipynb

A cell that shows widgets can leave nbclient waiting for a kernel that is already idle
(jupyter/nbclient#312, open; seen here in notebooks 2 and 8 while other jobs shared the two
cores, not in a walk alone). Both hangs were at the notebooks' two widget cells (the
explorer of notebook 2 and the upload of notebook 8), with the kernel idle and nbclient
still waiting for the cell's reply (py-spy). A cell that imports ipywidgets, which takes
seconds, times out after ``COLAB_STUB_WIDGET_TIMEOUT`` seconds (default 240), any other after
``COLAB_STUB_CELL_TIMEOUT`` (default 1200, above any cell's time: at 600 s, notebook 10's
training cell timed out once while other jobs shared the cores); then the notebook is run
once more from the start in a fresh kernel, and what it kept on the Drive is reused, as in
any rerun. The retry is printed, so the test's log shows it."""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

source, target = map(Path, sys.argv[1:3])
timeout = int(os.environ.get("COLAB_STUB_CELL_TIMEOUT", "1200"))
widget_timeout = int(os.environ.get("COLAB_STUB_WIDGET_TIMEOUT", "240"))


def cell_timeout(cell) -> int:
    return widget_timeout if "ipywidgets" in cell.source else timeout


for attempt in (1, 2):
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=timeout, timeout_func=cell_timeout,
                            kernel_name="python3",
                            resources={"metadata": {"path": str(Path.cwd())}})
    try:
        client.execute()
    except CellTimeoutError as error:
        if attempt == 2:
            nbformat.write(nb, target)
            print(error, file=sys.stderr)
            sys.exit(1)
        print(f"{source.name}: a cell hung past its timeout (nbclient#312); run again",
              flush=True)
        continue
    except CellExecutionError as error:
        nbformat.write(nb, target)
        print(error, file=sys.stderr)
        sys.exit(1)
    break
nbformat.write(nb, target)
