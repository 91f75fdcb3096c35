# Two set-up commands for a fresh machine with Python 3.11: `make demo`, `make test`.
# `make test-core`: the tests again in a venv of their own without the torch extra
# (a numpy-only install), where every torch test must skip rather than fail.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
# under build/ (ignored by git, removed by `make clean`)
CORE := build/venv-core
CORE_BIN := $(CORE)/bin

.PHONY: demo test test-core doc bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(PIP) -e ".[demo]"
	touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml ci/constraints.txt
	$(PIP) -c ci/constraints.txt -e ".[test,demo,torch,distributed,ray]"
	touch $@

$(VENV)/.doc: $(BIN)/python pyproject.toml ci/constraints.txt
	$(PIP) -c ci/constraints.txt -e ".[docs,torch]"
	touch $@

demo: $(VENV)/.demo
	$(BIN)/python doc/examples/plot_quickstart.py

test: $(VENV)/.test
	$(BIN)/python -m pytest -n 2 --cov=skmtl --cov-branch \
		--cov-report=term-missing:skip-covered $(PYTEST_ARGS)

$(CORE_BIN)/python:
	$(PYTHON) -m venv $(CORE)

# Nothing in the test extra may pull torch: the install is checked for it.
$(CORE)/.test: $(CORE_BIN)/python pyproject.toml ci/constraints.txt
	$(CORE_BIN)/python -m pip install --disable-pip-version-check -q \
		-c ci/constraints.txt -e ".[test]"
	@if $(CORE_BIN)/python -c "import torch" 2>/dev/null; then \
		echo "test-core: torch is importable in $(CORE): the test extra pulled it in"; \
		exit 1; fi
	touch $@

# The doctests of skmtl.nn and skmtl.meta (the torch backend) need torch to import.
test-core: $(CORE)/.test
	@if $(CORE_BIN)/python -c "import torch" 2>/dev/null; then \
		echo "test-core: torch is importable in $(CORE)"; exit 1; fi
	$(CORE_BIN)/python -m pytest -n 2 --ignore=skmtl/nn --ignore=skmtl/meta \
		$(PYTEST_ARGS)

doc: $(VENV)/.doc
	$(MAKE) -C doc html SPHINXBUILD=$(abspath $(BIN))/sphinx-build

bench: $(VENV)/.test
	$(BIN)/python benchmarks/bench_l21.py

clean:
	rm -rf $(VENV) build *.egg-info
