# Two commands set everything up on a fresh machine with Python >= 3.11 and make:
#   make demo   installs BuildRunner into .venv and runs the demo build (examples/demo)
#   make test   installs the dev extras and runs ruff, mypy and pytest with coverage
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PIP := $(BIN)/python -m pip
WORKERS ?= 4

.PHONY: demo test install dev tools lint typecheck unit clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev,ray,prometheus,otel]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.installed $(VENV)/.installed-dev

demo: install
	cd examples/demo && BR_PROJECT_DIR=. PATH="$(BIN):$$PATH" br run plan.yaml --workers $(WORKERS)

lint: dev
	$(BIN)/ruff check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

tools:
	@for script in .ci/tools/*.sh; do [ -e "$$script" ] || continue; bash "$$script" || exit 1; done

unit: dev tools
	$(BIN)/pytest --cov=buildrunner --cov-report=term:skip-covered --cov-report=json

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage coverage.json
