"""The project's set-up: dependencies in agreement, CI = make test, code ruff-clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the package itself needs 3.10

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"pysoundfile": "soundfile"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + sum(extras.values(), [])}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        else:
            listed.add(CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    assert listed - {"python", "pip"} == wanted


def test_ci_runs_make_test_only():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "make test"


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


@pytest.mark.skipif(shutil.which("ruff") is None and not (ROOT / ".venv/bin/ruff").exists(),
                    reason="ruff not installed")
def test_code_is_ruff_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv/bin/ruff")
    r = subprocess.run([ruff, "check", "serlib", "tests", "benchmarks", "tools"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _locked() -> dict[str, list[tuple[str, str]]]:
    """requirements.lock as ``name -> [(version, marker)]`` (one entry per marker fork)."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line or line.startswith((" ", "#", "-")):
            continue
        spec, _, marker = line.partition(";")
        name, _, version = spec.strip().partition("==")
        assert version, f"requirements.lock: {line!r} is not pinned with =="
        pins.setdefault(name.lower().replace("_", "-"), []).append((version, marker.strip()))
    return pins


def test_the_lock_pins_every_dependency_within_pyproject_ranges():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = _locked()
    for text in project["dependencies"] + sum(extras.values(), []):
        req = Requirement(text)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock"
        for version, marker in pins[name]:
            assert req.specifier.contains(version, prereleases=True), \
                f"requirements.lock pins {name}=={version} ({marker}), outside {req.specifier}"


def test_the_lock_pins_torch_and_torchvision_as_a_matching_pair():
    pins = _locked()
    (torch, _), = pins["torch"]
    (vision, _), = pins["torchvision"]
    major, minor = (int(v) for v in torch.split("+")[0].split(".")[:2])
    assert major == 2 and vision.startswith(f"0.{minor + 15}."), (torch, vision)
    constraints = (ROOT / "lock-constraints.txt").read_text()
    assert f"torch=={torch}" in constraints and f"torchvision=={vision}" in constraints
    assert "requirements.lock" in (ROOT / "Makefile").read_text()


@pytest.mark.skipif(not sys.prefix.startswith(str(ROOT / ".venv")),
                    reason="only the project's .venv is made from the lock")
def test_the_development_environment_is_the_lock():
    import importlib.metadata

    from packaging.markers import Marker

    wrong = []
    for name, forks in _locked().items():
        for version, marker in forks:
            if marker and not Marker(marker).evaluate():
                continue
            try:
                installed = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                wrong.append(f"{name} missing")
                continue
            if installed.split("+")[0] != version.split("+")[0]:
                wrong.append(f"{name} {installed} (locked {version})")
    assert not wrong, "rerun make after a lock change: " + ", ".join(wrong)


def test_every_stage_is_an_attribute_of_the_package():
    """Notebooks write ``serlib.cli.train_flags`` after a bare ``import serlib``."""
    import serlib

    modules = {p.stem for p in (ROOT / "serlib").glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.name for p in (ROOT / "serlib").iterdir() if (p / "__init__.py").exists()}
    missing = sorted(m for m in modules if m not in dir(serlib))
    assert not missing, f"add {missing} to serlib._SUBMODULES"
    assert serlib.cli.train_flags is not None
