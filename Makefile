# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: demo test test-fast lint notebooks lock clean help

help:
	@echo "make demo   - create $(VENV), install serlib, run the main job on the synthetic corpus"
	@echo "make test   - create $(VENV) with the dev extras and run the whole test suite"
	@echo "make test-fast - the unit and behaviour tests only (no notebooks, cluster, browser)"
	@echo "make lint   - ruff over the package, tests and benchmarks"
	@echo "make notebooks - execute the course's notebooks in place (their outputs are committed)"
	@echo "make lock   - refresh requirements.lock from pyproject.toml (needs the network)"

# The development environment is locked: every package at the version in requirements.lock
# (torch and torchvision as a matching pair), so that a fresh clone prints the README's
# figures. Only a change of the lock or of pyproject.toml re-runs the install.
$(VENV)/.stamp-lock: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Refreshing the lock: every extra, for every platform and Python >= 3.10, with the torch pair
# of lock-constraints.txt. tests/test_packaging.py checks that it agrees with pyproject.toml.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra acoustic --extra onnx --extra cluster --extra course --extra dev --universal \
		--python-version 3.10 --constraint lock-constraints.txt --no-header \
		--output-file requirements.lock

demo: $(VENV)/.stamp-lock
	$(BIN)/serlib demo

# Every run works in a course folder of its own (tests/conftest.py sets SERLIB_DATA), so a
# second run does exactly the work of the first.
test: $(VENV)/.stamp-lock
	$(BIN)/python -m pytest --durations=25 tests $(if $(NOTEBOOKS),--nbval-lax --nbval-current-env $(NOTEBOOKS))

# The inner loop: everything but the tests marked slow and the notebooks.
test-fast: $(VENV)/.stamp-lock
	$(BIN)/python -m pytest --durations=25 -m "not slow" tests

# Executes in order (later notebooks reuse what earlier ones made), then drops progress-bar
# widgets, which show a stale "0%" where the repository is browsed.
notebooks: $(VENV)/.stamp-lock
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=1200 $(NOTEBOOKS)
	$(BIN)/python tools/clean_notebooks.py $(NOTEBOOKS)

lint: $(VENV)/.stamp-lock
	$(BIN)/ruff check serlib tests benchmarks tools

clean:
	rm -rf $(VENV) data/synth-* data/demo .pytest_cache
