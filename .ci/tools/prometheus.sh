#!/usr/bin/env bash
# Prometheus and promtool for the exporter tests (tests/telemetry/test_prometheus_real.py):
# Debian's `prometheus` package (promtool comes with it). Only the binaries are used: the tests
# start their own server on 127.0.0.1 with a temporary config and data folder, so the package's
# own service is not needed. Idempotent: returns at once when both are installed.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101: the package must not start its own service during the install
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    trap '$SUDO rm -f "$POLICY"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v prometheus promtool
