# Two commands set everything up on a fresh machine with Python >= 3.11 and make:
#   make demo   installs BuildRunner into .venv and runs the demo build (examples/demo)
#   make test   installs the dev extras and runs ruff, mypy, the repo's pre-commit hooks and
#               pytest on PYTEST_WORKERS processes with coverage (the floor is in pyproject.toml)
# More: CONTRIBUTING.md.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PIP := $(BIN)/python -m pip
WORKERS ?= 4
PYTEST_WORKERS ?= 3
# Write bytecode even where the environment says not to (CI images often set it): the suite starts
# hundreds of Python processes, and each would compile br, and pytest rewrite every test module,
# again (half of a collection's time).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo test install dev tools lint typecheck hooks unit ray-tests main-tests coverage-all slow clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

# the dev install holds the plain one: one pip run, not two
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev,ray,prometheus,otel]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: install
	cd examples/demo && BR_PROJECT_DIR=. PATH="$(BIN):$$PATH" br run plan.yaml --workers $(WORKERS)

lint: dev
	$(BIN)/ruff check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

tools:
	@for script in .ci/tools/*.sh; do [ -e "$$script" ] || continue; bash "$$script" || exit 1; done

# The repo's own hooks (.pre-commit-config.yaml: br's secret check, ruff, ruff format) on every file.
hooks: dev
	PATH="$(BIN):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

# Tests marked slow (tests/slow: the long fuzz run; two more random-build seeds) are left to
# `make slow`. Tests that start a local Ray cluster (marked ray) run on their own, one at a time:
# two clusters at once, or a cluster beside the rest of the suite, starve each other on a small
# machine. They run first (`make test` type-checks beside them: mypy takes one core); the main
# run adds its coverage to theirs and enforces the floor (pyproject.toml, [tool.coverage.report]
# fail_under) on the total. Byte-compiling first matters where PYTHONDONTWRITEBYTECODE is set (CI
# images often set it): each `br` process a test starts would compile the package again.
unit: dev tools
	$(MAKE) --no-print-directory ray-tests
	$(MAKE) --no-print-directory main-tests

ray-tests: dev tools
	rm -f .coverage .coverage.* coverage.json
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest -m "ray and not slow" --cov=buildrunner --cov-report= --cov-fail-under=0 \
		--durations=5

main-tests: dev tools
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow and not ray" --cov=buildrunner \
		--cov-append --cov-report=term:skip-covered --cov-report=json --durations=15

# Coverage with every subprocess measured too (92.6% without the Ray tests on 2026-11-30):
# about a third slower than `make unit`, for maintainers.
coverage-all: dev tools
	rm -f .coverage .coverage.* coverage.json
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not ray" --cov=buildrunner \
		--cov-config=.ci/coverage-all.toml --cov-report= --cov-fail-under=0
	$(BIN)/pytest -m "ray and not slow" --cov=buildrunner --cov-config=.ci/coverage-all.toml \
		--cov-append --cov-report=term:skip-covered --cov-fail-under=0

slow: dev
	$(BIN)/pytest -m slow

test: lint hooks
	@$(BIN)/mypy > .mypy.log 2>&1 & mypy=$$!; status=0; \
	$(MAKE) --no-print-directory ray-tests || status=$$?; \
	wait $$mypy || status=1; echo "--- mypy:"; cat .mypy.log; rm -f .mypy.log; exit $$status
	$(MAKE) --no-print-directory main-tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* coverage.json
