#!/usr/bin/env bash
# The short CI job on the newest Python with the oldest `anthropic` SDK pyproject.toml allows (one
# venv for both corners of the matrix): the fast core of the suite (settings, plans, pre-flight,
# the store), the provider and agent-loop tests against the fake Messages API
# (what the SDK floor must pass, .ci/sdk-floor.sh alone), and the demo build.
# It works in a copy of the tree (made first), so it can run beside `make test` from the start
# without the two touching each other's files.
# usage: .ci/newest-python.sh /path/to/python3.13
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=  # write bytecode (see the Makefile)
PY="$1"
VENV="$PWD/.venv-$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
tar --exclude=./.git --exclude='./.venv*' --exclude=./.buildrunner --exclude='*.egg-info' \
    --exclude=__pycache__ -cf - . | tar -xf - -C "$copy"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
floor=$(sed -n 's/^ *"anthropic>=\([0-9][0-9.]*\)".*/\1/p' pyproject.toml)
# only what these tests need (the full dev extra is the main job's): a short job stays short
"$VENV/bin/python" -m pip install -q "$copy" "anthropic==$floor" pytest pytest-timeout \
    pytest-xdist hypothesis
"$VENV/bin/python" -c "import anthropic; print('ci: anthropic', anthropic.__version__, '(the floor)')"
"$VENV/bin/python" -m buildrunner --version
cd "$copy"
"$VENV/bin/pytest" -q -n 2 -m "not slow" -p no:cacheprovider \
    tests/test_config.py tests/parallel/test_plan.py tests/parallel/test_preflight.py \
    tests/store tests/cli/test_tables.py \
    tests/routing/test_providers.py tests/executors/test_agent.py
(cd examples/demo && BR_PROJECT_DIR=. PATH="$VENV/bin:$PATH" br run plan.yaml --workers 2 --json > /dev/null)
echo "ci: $(basename "$VENV") passed"
