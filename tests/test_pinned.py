"""Behaviour unchanged by a refactor: one small run against the results pinned before it.

tests/data/pinned.json was written by ``tools/pin_results.py`` with the code of commit
3bb0283, before feature types carried their computation and before the CLI came from the
dataclasses; regenerate it (and say why in the commit) only when results are meant to
change.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # about a minute: a corpus, a store, two baselines, a CNN


def _pin_module():
    spec = importlib.util.spec_from_file_location("pin_results", ROOT / "tools" /
                                                  "pin_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_small_run_gives_the_pinned_results(tmp_path):
    pin = _pin_module()
    pinned = json.loads((ROOT / "tests" / "data" / "pinned.json").read_text())
    now = pin.pinned_results(tmp_path)
    # Any machine: the same segments (librosa's float sums differ in the last bits at most)
    # and the majority baseline, which counts.
    assert now["features"].keys() == pinned["features"].keys()
    for speaker, (n, mean, std) in pinned["features"].items():
        assert now["features"][speaker][0] == n
        assert now["features"][speaker][1:] == pytest.approx([mean, std], abs=1e-4)
    assert now["models"]["majority"] == pinned["models"]["majority"]
    if (now["cpu"], now["torch"]) != (pinned["cpu"], pinned["torch"]):
        pytest.skip(f"trained results pinned on {pinned['cpu']} with torch {pinned['torch']}; "
                    f"this {now['cpu']} sums in another order, which training amplifies")
    for name in ("acoustic", "alexnet_gap"):
        assert now["models"][name]["confusion"] == pinned["models"][name]["confusion"], name
        assert now["models"][name]["wa"] == pytest.approx(pinned["models"][name]["wa"])
        assert now["models"][name]["ua"] == pytest.approx(pinned["models"][name]["ua"])
    assert now["predictions"].keys() == pinned["predictions"].keys()
    for name, probs in pinned["predictions"].items():
        np.testing.assert_allclose(now["predictions"][name], probs, atol=1e-6, err_msg=name)
