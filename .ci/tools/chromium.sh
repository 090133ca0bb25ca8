#!/usr/bin/env bash
# Headless Chromium for the report tests (tests/telemetry/report/) and scripts/report_screenshot.py:
# Debian's `chromium` at /usr/bin/chromium, driven by Playwright (no browser download).
# Idempotent: returns at once when it is installed.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
"$(dirname "$0")/apt-install" chromium fonts-dejavu-core
command -v chromium
