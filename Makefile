# Two set-up commands for a fresh machine with Python 3.11: `make demo`, `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: demo test doc bench clean

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

doc: $(VENV)/.doc
	$(MAKE) -C doc html SPHINXBUILD=$(abspath $(BIN))/sphinx-build

bench: $(VENV)/.test
	$(BIN)/python benchmarks/bench_l21.py

clean:
	rm -rf $(VENV) build *.egg-info
