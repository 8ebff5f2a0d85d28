"""Worked solutions to the course's exercises, one module per notebook (``nb03`` for
notebook 3), one function per exercise (``exercise_1``).

Each takes the course (``serlib.course.load()``) and computes and prints its answer on the
corpus and settings tier in force, so the answer is this run's, not a number copied from
somewhere else. Training exercises take ``**changes``, settings applied on top of the tier
(the tests pass ``num_epochs=1`` to check the code in seconds). In a notebook::

    serlib.solutions.show(3, 2)          # print the solution's code
    serlib.solutions.run(3, 2, course)   # run it
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

#: Exercises per notebook, as numbered in each notebook's last cell.
EXERCISES = {0: 3, 1: 3, 2: 3, 3: 4, 4: 4, 5: 3, 6: 3, 7: 3, 8: 3, 9: 3, 10: 5}


def solution(notebook: int, number: int) -> Callable:
    """The function that solves exercise ``number`` of notebook ``notebook``."""
    if number not in range(1, EXERCISES.get(notebook, 0) + 1):
        raise ValueError(f"notebook {notebook} has no exercise {number} with a solution here; "
                         f"solved: {EXERCISES}")
    return getattr(importlib.import_module(f"{__name__}.nb{notebook:02d}"), f"exercise_{number}")


def show(notebook: int, number: int) -> None:
    """Print the solution's code."""
    print(inspect.getsource(solution(notebook, number)))


def run(notebook: int, number: int, course, **kwargs):
    """Run the solution on ``course`` and return what it computed."""
    return solution(notebook, number)(course, **kwargs)
