#!/usr/bin/env bash
# Headless Chromium for the report tests (tests/telemetry/test_report_browser.py): Debian's
# `chromium` package at /usr/bin/chromium. Idempotent: returns at once when it is installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
