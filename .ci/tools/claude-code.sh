#!/usr/bin/env bash
# Installs the real Claude Code CLI (pinned) into .tools/claude-code for the tests that run it
# against the local fake Messages API server (tests/executors/test_claude_code_real.py).
# Idempotent: returns at once when the pinned version is already there. Prints the executable's path.
set -euo pipefail
VERSION=2.1.197
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="$ROOT/.tools"
PREFIX="$TOOLS/claude-code"
EXECUTABLE="$PREFIX/node_modules/.bin/claude"

mkdir -p "$TOOLS"
[ -e "$TOOLS/.gitignore" ] || printf '*\n' > "$TOOLS/.gitignore"  # never committed

if [ -x "$EXECUTABLE" ] && [ "$(cat "$PREFIX/.version" 2>/dev/null)" = "$VERSION" ]; then
    echo "$EXECUTABLE"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "claude-code.sh: npm is needed to install @anthropic-ai/claude-code" >&2
    exit 1
fi
mkdir -p "$PREFIX"
[ -e "$PREFIX/package.json" ] || printf '{"name": "br-test-claude-code", "private": true}\n' > "$PREFIX/package.json"
# DISABLE_AUTOUPDATER etc. only matter at run time; the install itself needs the registry once.
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    --save-exact "@anthropic-ai/claude-code@$VERSION" >&2
"$EXECUTABLE" --version >/dev/null
echo "$VERSION" > "$PREFIX/.version"
echo "$EXECUTABLE"
