"""Every exercise's worked solution runs, on a small synthetic course with one-epoch
training, and gives an answer of the right kind (the notebooks' exercises name them)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm

import serlib
from serlib import course as courses
from serlib import solutions

ROOT = Path(__file__).resolve().parent.parent
#: A training exercise's code is checked, not its answer: one epoch on small images.
SHORT = {"num_epochs": 1, "batch_size": 16, "image_size": 64, "pretrained": False}
SOLVED = [(n, k) for n, count in solutions.EXERCISES.items() for k in range(1, count + 1)]

pytestmark = pytest.mark.slow  # a course of its own, and some training


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    data = tmp_path_factory.mktemp("course")
    with pytest.MonkeyPatch.context() as mp:
        for var in (*serlib.corpora.ENV_VARS.values(), "SERLIB_SETTINGS",
                    "SERLIB_COLAB_CONTENT"):
            mp.delenv(var, raising=False)
        mp.setenv("SERLIB_DATA", str(data))
        chosen = courses.use("synthetic", utterances=200, tier="quick", progress=False)
        yield chosen


def test_every_exercise_in_the_notebooks_has_a_solution():
    for notebook, count in solutions.EXERCISES.items():
        path = next((ROOT / "notebooks").glob(f"{notebook:02d}_*.ipynb"))
        last = json.loads(path.read_text())["cells"][-1]
        numbers = re.findall(r"^(\d+)\. ", "".join(last["source"]), re.M)
        assert numbers == [str(k) for k in range(1, count + 1)], path.name
        assert "serlib.solutions" in "".join(last["source"]), path.name


@pytest.mark.parametrize("notebook,number", SOLVED)
def test_each_solution_runs_and_answers(course, notebook, number, tmp_path, capsys):
    function = solutions.solution(notebook, number)
    parameters = inspect.signature(function).parameters
    kwargs = dict(SHORT) if "changes" in parameters else {}  # **changes: the short training
    if "utterances" in parameters:
        kwargs["utterances"] = 120
    if "weights" in parameters:  # stand-in ImageNet weights: random, in torchvision's format
        kwargs["weights"] = str(tmp_path / "alexnet.pth")
        torch.save(tvm.alexnet().state_dict(), kwargs["weights"])
    answer = solutions.run(notebook, number, course, **kwargs)
    assert answer is not None and capsys.readouterr().out.strip()
    assert json.loads((course.data / "course.json").read_text())["utterances"] == 200


def test_show_prints_the_code_and_unknown_exercises_are_named(capsys):
    solutions.show(3, 3)
    assert "def exercise_3(course)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="notebook 3 has no exercise 9"):
        solutions.solution(3, 9)
