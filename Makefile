# Two entry points for a fresh machine: `make demo` and `make test`.
# Each does its own set-up; a stamp file skips steps already done.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The package alone: enough to render files.
$(VENV)/.base: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

# Everything for development: the Qt extra and the test tools.
$(VENV)/.dev: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[qt,test]'
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(BIN)/optrace run configs/seed.yaml --gif seed.gif

system-deps:
	bash scripts/install-system-deps.sh

test: system-deps $(VENV)/.dev
	$(BIN)/ruff check optrace tests benchmarks
	$(BIN)/ruff format --check optrace tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest --durations=15

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/bench_export.py
