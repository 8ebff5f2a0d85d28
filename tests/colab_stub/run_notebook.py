"""Execute one notebook in a fresh kernel of this Python, as a Colab runtime would, and write
it with its outputs (tests/test_colab_path.py). Usage: run_notebook.py IN.ipynb OUT.ipynb"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, target = map(Path, sys.argv[1:3])
nb = nbformat.read(source, as_version=4)
client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                        resources={"metadata": {"path": str(Path.cwd())}})
try:
    client.execute()
except CellExecutionError as error:
    nbformat.write(nb, target)
    print(error, file=sys.stderr)
    sys.exit(1)
nbformat.write(nb, target)
