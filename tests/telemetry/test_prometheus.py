"""`/metrics` scraped over real HTTP on 127.0.0.1, in-process and from `br telemetry serve`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from buildrunner.store.db import Store, connect
from buildrunner.telemetry import events as ev
from tests.conftest import BR

from .conftest import write_events

parser = pytest.importorskip("prometheus_client.parser")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def seed(db_path: Path) -> None:
    now = time.time()
    write_events(db_path, [
        ev.TaskCompleted(ts=now - 30, kind="command", duration_ms=2000.0),
        ev.TaskCompleted(ts=now - 20, kind="command", duration_ms=4000.0),
        ev.TaskFailed(ts=now - 10, kind="agent", duration_ms=1000.0, error_type="timeout"),
        ev.ModelCallCompleted(ts=now - 5, model="sonnet", input_tokens=100, output_tokens=20,
                              cost_usd=0.25, latency_ms=500.0),
        ev.TaskQueued(ts=now - 7200, kind="command"),
    ])
    conn = connect(db_path)
    conn.execute("INSERT INTO alerts(threshold, level, status, message) VALUES"
                 " ('hourly_cost', 'error', 'firing', 'x'), ('old', 'info', 'resolved', 'y')")
    conn.close()


def test_metrics_reflect_the_store(db_path: Path) -> None:
    from buildrunner.telemetry.prometheus import serve

    seed(db_path)
    server, _ = serve(db_path, "127.0.0.1", 0, window_s=3600)
    try:
        samples = scrape(f"http://127.0.0.1:{server.server_port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert samples[("buildrunner_events_total", (("type", "task_queued"),))] == 1  # all time
    assert samples[("buildrunner_task_attempts_total",
                    (("kind", "command"), ("outcome", "succeeded")))] == 2
    assert samples[("buildrunner_errors_total", (("error_type", "timeout"), ("source", "task")))] == 1
    assert samples[("buildrunner_model_cost_usd_total", (("model", "sonnet"),))] == 0.25
    assert samples[("buildrunner_model_tokens_total",
                    (("direction", "output"), ("model", "sonnet")))] == 20
    assert samples[("buildrunner_ratio", (("name", "task_success"),))] == pytest.approx(2 / 3, abs=1e-4)
    assert samples[("buildrunner_task_duration_seconds", (("quantile", "0.5"),))] == 2.0
    assert samples[("buildrunner_alerts_firing", (("level", "error"),
                                                   ("threshold", "hourly_cost")))] == 1
    assert not any(key[0] == "buildrunner_alerts_firing" and ("threshold", "old") in key[1]
                   for key in samples)


def test_br_telemetry_serve_runs_until_ctrl_c(project: Path) -> None:
    Store(project).connect().close()
    seed(Store(project).db_path)
    process = subprocess.Popen([*BR, "telemetry", "serve", "--port", "0", "--json"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("}"):
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line)
        url = json.loads("".join(lines))["url"]
        samples = scrape(url)
        assert samples[("buildrunner_model_calls_total",
                        (("model", "sonnet"), ("outcome", "succeeded")))] == 1
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    assert process.returncode in (0, 130)
