#!/usr/bin/env bash
# Prometheus and promtool for the exporter tests (tests/telemetry/test_prometheus.py): Debian's
# `prometheus` package (promtool comes with it). Only the binaries are used: the tests start their
# own server on 127.0.0.1 with a temporary config and data folder, so the package's service is
# not started. Idempotent: returns at once when both are installed.
set -euo pipefail
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && exit 0
"$(dirname "$0")/apt-install" prometheus
command -v prometheus promtool
