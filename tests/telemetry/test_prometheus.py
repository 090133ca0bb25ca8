"""`/metrics` scraped over real HTTP on 127.0.0.1, in-process and from `br telemetry serve`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from buildrunner.store.db import Store, connect
from buildrunner.telemetry import events as ev
from tests.conftest import BR, run_br

from .conftest import write_events
from .tools import free_port, require_tool

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
    write_events(
        db_path,
        [
            ev.TaskCompleted(ts=now - 30, kind="command", duration_ms=2000.0),
            ev.TaskCompleted(ts=now - 20, kind="command", duration_ms=4000.0),
            ev.TaskFailed(ts=now - 10, kind="agent", duration_ms=1000.0, error_type="timeout"),
            ev.ModelCallCompleted(
                ts=now - 5,
                model="sonnet",
                input_tokens=100,
                output_tokens=20,
                cost_usd=0.25,
                latency_ms=500.0,
            ),
            ev.TaskQueued(ts=now - 7200, kind="command"),
        ],
    )
    conn = connect(db_path)
    conn.execute(
        "INSERT INTO alerts(threshold, level, status, message) VALUES"
        " ('hourly_cost', 'error', 'firing', 'x'), ('old', 'info', 'resolved', 'y')"
    )
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
    assert (
        samples[
            ("buildrunner_task_attempts_total", (("kind", "command"), ("outcome", "succeeded")))
        ]
        == 2
    )
    assert (
        samples[("buildrunner_errors_total", (("error_type", "timeout"), ("source", "task")))] == 1
    )
    assert samples[("buildrunner_model_cost_usd_total", (("model", "sonnet"),))] == 0.25
    assert (
        samples[("buildrunner_model_tokens_total", (("direction", "output"), ("model", "sonnet")))]
        == 20
    )
    assert samples[("buildrunner_ratio", (("name", "task_success"),))] == pytest.approx(
        2 / 3, abs=1e-4
    )
    assert samples[("buildrunner_task_duration_seconds", (("quantile", "0.5"),))] == 2.0
    assert (
        samples[("buildrunner_alerts_firing", (("level", "error"), ("threshold", "hourly_cost")))]
        == 1
    )
    assert not any(
        key[0] == "buildrunner_alerts_firing" and ("threshold", "old") in key[1] for key in samples
    )


def test_br_telemetry_serve_runs_until_ctrl_c(project: Path) -> None:
    Store(project).connect().close()
    seed(Store(project).db_path)
    process = subprocess.Popen(
        [*BR, "telemetry", "serve", "--port", "0", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or not lines[-1].startswith("}"):
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line)
        url = json.loads("".join(lines))["url"]
        samples = scrape(url)
        assert (
            samples[
                ("buildrunner_model_calls_total", (("model", "sonnet"), ("outcome", "succeeded")))
            ]
            == 1
        )
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert "Traceback" not in err
    assert process.returncode in (0, 130)


def mixed_events(now: float) -> list[ev.Event]:
    """Rows that share a label set but not every rollup key: the old exporter repeated series."""
    return [
        ev.TaskFailed(
            ts=now - 50, session_id="s1", kind="agent", duration_ms=1000.0, error_type="timeout"
        ),
        ev.TaskFailed(
            ts=now - 40, session_id="s2", kind="agent", duration_ms=3000.0, error_type="exit_code"
        ),
        ev.TaskCompleted(ts=now - 35, session_id="s1", kind="agent", duration_ms=2000.0),
        ev.TaskCompleted(ts=now - 30, session_id="s2", kind="command", duration_ms=500.0),
        ev.ModelCallCompleted(
            ts=now - 20,
            session_id="s1",
            model="sonnet",
            input_tokens=100,
            output_tokens=20,
            cost_usd=0.25,
            latency_ms=500.0,
        ),
        ev.ModelCallFailed(
            ts=now - 15, session_id="s1", model="sonnet", error_type="overloaded", latency_ms=100.0
        ),
        ev.ModelCallFailed(
            ts=now - 10, session_id="s2", model="sonnet", error_type="rate_limit", latency_ms=200.0
        ),
    ]


def metrics_text(db_path: Path) -> str:
    from buildrunner.telemetry.prometheus import serve

    server, _ = serve(db_path, "127.0.0.1", 0, window_s=3600)
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{server.server_port}/metrics", timeout=10
        ) as response:
            return str(response.read().decode())
    finally:
        server.shutdown()
        server.server_close()


def test_every_series_once_and_promtool_is_clean(db_path: Path) -> None:
    promtool = require_tool("promtool", "prometheus.sh")
    write_events(db_path, mixed_events(time.time()))
    text = metrics_text(db_path)
    series = [line.split(" ")[0] for line in text.splitlines() if line and line[0] != "#"]
    assert len(series) == len(set(series)), sorted(s for s in series if series.count(s) > 1)
    assert 'buildrunner_task_attempts_total{kind="agent",outcome="failed"} 2.0' in text
    assert 'buildrunner_model_calls_total{model="sonnet",outcome="failed"} 2.0' in text
    assert "# TYPE buildrunner_task_duration_seconds summary" in text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def test_promtool_rejects_what_the_old_exporter_sent() -> None:
    """The check above can fail: promtool flags a quantile label on a gauge."""
    promtool = require_tool("promtool", "prometheus.sh")
    old = '# HELP x_seconds d\n# TYPE x_seconds gauge\nx_seconds{quantile="0.5"} 1.0\n'
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=old, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode != 0 and "quantile" in checked.stdout + checked.stderr


@contextmanager
def prometheus_scraping(target: str, workdir: Path) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 scraping `target` (host:port) every second."""
    binary = require_tool("prometheus", "prometheus.sh")
    config = workdir / "prometheus.yml"
    port = free_port()
    config.write_text(  # itself too: its own counters say whether it dropped duplicate samples
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: buildrunner\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
        "  - job_name: prometheus\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=5):
                    break
            except OSError:  # not listening yet, or 503 while it starts
                assert time.monotonic() < deadline, "Prometheus never got ready"
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prom_query(base: str, expression: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def prom_value(base: str, expression: str) -> float:
    (sample,) = prom_query(base, expression)
    return float(sample["value"][1])


def test_a_real_prometheus_scrape_agrees_with_the_summary(project: Path) -> None:
    Store(project).connect().close()
    write_events(Store(project).db_path, mixed_events(time.time()))
    summary = json.loads(run_br("telemetry", "summary", "--json", cwd=project).stdout)
    process = subprocess.Popen(
        [*BR, "telemetry", "serve", "--port", "0", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = json.loads("".join(iter(process.stdout.readline, "}\n")) + "}")["url"]
        target = url.removeprefix("http://").removesuffix("/metrics")
        with prometheus_scraping(target, project) as prometheus:
            deadline = time.monotonic() + 60
            while len(prom_query(prometheus, "up == 1")) < 2 or not prom_query(
                prometheus, "prometheus_target_scrapes_sample_duplicate_timestamp_total"
            ):
                assert time.monotonic() < deadline, "Prometheus never scraped br and itself"
                time.sleep(0.5)
            time.sleep(1.5)  # one more round of both scrapes
            assert (
                prom_value(prometheus, "prometheus_target_scrapes_sample_duplicate_timestamp_total")
                == 0
            )
            failed = prom_value(
                prometheus, 'sum(buildrunner_task_attempts_total{outcome="failed"})'
            )
            succeeded = prom_value(
                prometheus, 'sum(buildrunner_task_attempts_total{outcome="succeeded"})'
            )
            calls = prom_value(prometheus, "sum(buildrunner_model_calls_total)")
            calls_failed = prom_value(
                prometheus, 'sum(buildrunner_model_calls_total{outcome="failed"})'
            )
            cost = prom_value(prometheus, "sum(buildrunner_model_cost_usd_total)")
            tokens_in = prom_value(
                prometheus, 'sum(buildrunner_model_tokens_total{direction="input"})'
            )
            errors = prom_value(prometheus, 'sum(buildrunner_errors_total{source="task"})')
            p95 = prom_value(prometheus, 'buildrunner_task_duration_seconds{quantile="0.95"}')
            timed = prom_value(prometheus, "buildrunner_task_duration_seconds_count")
            success = prom_value(prometheus, 'buildrunner_ratio{name="task_success"}')
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert (failed, succeeded) == (summary["tasks_failed"], summary["tasks_succeeded"]) == (2, 2)
    assert (
        (calls, calls_failed) == (summary["model_calls"], summary["model_calls_failed"]) == (3, 2)
    )
    assert cost == pytest.approx(summary["cost_usd"]) and tokens_in == summary["input_tokens"]
    assert errors == sum(n for key, n in summary["errors"].items() if key.startswith("task:"))
    assert p95 == pytest.approx(summary["task_latency"]["p95_ms"] / 1000)
    assert timed == summary["task_latency"]["count"]
    assert success == pytest.approx(summary["task_success_rate"] / 100)
