#!/usr/bin/env bash
# The oldest `anthropic` SDK that pyproject.toml allows (its `anthropic>=X` floor) must pass the
# provider and agent-loop tests against the local fake Messages API server: a second, minimal CI
# job (the main job runs the newest SDK). The floor is read from pyproject.toml, its one source.
#   bash .ci/sdk-floor.sh            # PYTHON=python3.11 and SDK_FLOOR_VENV=DIR are optional
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
floor=$(sed -n 's/^ *"anthropic>=\([0-9][0-9.]*\)".*/\1/p' pyproject.toml)
if [ -z "$floor" ]; then
    echo "sdk-floor: no \"anthropic>=X\" dependency in pyproject.toml" >&2
    exit 1
fi
venv="${SDK_FLOOR_VENV:-${TMPDIR:-/tmp}/buildrunner-sdk-floor}"
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' "anthropic==$floor"
installed=$("$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)')
if ! "$venv/bin/python" -c "import sys; from packaging.version import Version as V; sys.exit(V('$installed') != V('$floor'))"; then
    echo "sdk-floor: wanted anthropic $floor, got $installed" >&2
    exit 1
fi
echo "sdk-floor: anthropic $installed (the floor in pyproject.toml)"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/routing/test_providers.py tests/executors/test_agent.py
