# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: demo test lint notebooks clean help

help:
	@echo "make demo   - create $(VENV), install serlib, run the main job on the synthetic corpus"
	@echo "make test   - create $(VENV) with the dev extras and run the whole test suite"
	@echo "make lint   - ruff over the package, tests and benchmarks"
	@echo "make notebooks - execute the course's notebooks in place (their outputs are committed)"

# A stamp per extra: pyproject.toml changing re-runs the install, nothing else does.
$(VENV)/.stamp-base: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.stamp-base
	$(BIN)/serlib demo

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest tests $(if $(NOTEBOOKS),--nbval-lax --nbval-current-env $(NOTEBOOKS))

# Executes in order (later notebooks reuse what earlier ones made), then drops progress-bar
# widgets, which show a stale "0%" where the repository is browsed.
notebooks: $(VENV)/.stamp-dev
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=1200 $(NOTEBOOKS)
	$(BIN)/python tools/clean_notebooks.py $(NOTEBOOKS)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check serlib tests benchmarks tools

clean:
	rm -rf $(VENV) data/synth-* data/demo .pytest_cache
