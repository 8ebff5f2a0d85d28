"""The seeds benchmark repeats the notebooks' own runs, so its configurations must not drift
from theirs: the same labels, settings that the package accepts, the same folds."""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import replace
from pathlib import Path

from serlib.config import TrainConfig
from serlib.cv import THESIS_TEST_SPEAKERS

ROOT = Path(__file__).resolve().parents[1]


def _notebook_seeds(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # it imports seeds.py beside it
    spec = importlib.util.spec_from_file_location("notebook_seeds",
                                                  ROOT / "benchmarks" / "notebook_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code(number: int) -> str:
    path = next((ROOT / "notebooks").glob(f"{number:02d}_*.ipynb"))
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_configuration_is_one_of_notebook_9_or_10_with_valid_settings(monkeypatch):
    bench = _notebook_seeds(monkeypatch)
    code = _code(9) + _code(10)
    for label, (changes, _noisy, folds) in bench.CONFIGS.items():
        assert f'"{label}"' in code, f"{label} is not a run of notebook 9 or 10"
        replace(TrainConfig(), **changes)  # raises on an unknown field or model
        # the script runs the thesis's 5fold protocol: a fold is one of its test speakers
        assert folds is None or set(folds) <= set(THESIS_TEST_SPEAKERS)
    # stability training reads notebook 6's noisy copies, as notebook 9 does
    assert [label for label, c in bench.CONFIGS.items() if c[1]] == ["alexnet_gap+stability"]


def test_the_slower_backbones_use_notebook_10s_folds(monkeypatch):
    bench = _notebook_seeds(monkeypatch)
    match = re.search(r"SOME_FOLDS = (\[[^\]]*\]) if QUICK", _code(10))
    assert match, "notebook 10 no longer names SOME_FOLDS"
    assert list(bench.SOME_FOLDS) == json.loads(match.group(1))
    for label in ("resnet18_gap", "regnet_y_400mf_gap"):
        assert bench.CONFIGS[label][2] == bench.SOME_FOLDS
