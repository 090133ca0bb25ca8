"""Prometheus `/metrics` for a project's store (optional extra: `buildrunner[prometheus]`).

Each scrape reads the database: counters over everything stored (from the per-minute rollups:
events, task attempts, model calls, cost, tokens, errors) and gauges over the last `window_s`
seconds (success and error ratios, duration and latency quantiles, firing alerts). Units follow
Prometheus conventions: seconds, ratios in 0..1, dollars.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from buildrunner.store.db import connect
from buildrunner.telemetry.metrics import Latency, summarize

OUTCOMES = {"task_completed": "succeeded", "task_failed": "failed",
            "model_call_completed": "succeeded", "model_call_failed": "failed"}


class StoreCollector:
    """A prometheus_client collector that reads the BuildRunner store on every scrape."""

    def __init__(
        self, db_path: Path, window_s: float = 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.db_path = Path(db_path)
        self.window_s = window_s
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        conn = connect(self.db_path)
        try:
            yield from self._counters(conn)
            yield from self._gauges(conn)
        finally:
            conn.close()

    def _counters(self, conn: Any) -> Iterator[Metric]:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "event_rollups" not in tables:
            return
        events = CounterMetricFamily("buildrunner_events", "Events stored, by type.", labels=["type"])
        tasks = CounterMetricFamily("buildrunner_task_attempts", "Finished task attempts.",
                                    labels=["kind", "outcome"])
        calls = CounterMetricFamily("buildrunner_model_calls", "Model calls.",
                                    labels=["model", "outcome"])
        cost = CounterMetricFamily("buildrunner_model_cost_usd", "Model cost in US dollars.",
                                   labels=["model"])
        tokens = CounterMetricFamily("buildrunner_model_tokens", "Model tokens.",
                                     labels=["model", "direction"])
        errors = CounterMetricFamily("buildrunner_errors", "Failures by error type.",
                                     labels=["source", "error_type"])
        by_type: dict[str, int] = {}
        for event_type, model, kind, error_type, count, micro, tokens_in, tokens_out in conn.execute(
            "SELECT type, model, kind, error_type, SUM(events), SUM(cost_micro_usd),"
            " SUM(input_tokens), SUM(output_tokens) FROM event_rollups"
            " GROUP BY type, model, kind, error_type HAVING SUM(events) > 0"
        ):
            by_type[event_type] = by_type.get(event_type, 0) + count
            if event_type in ("task_completed", "task_failed"):
                tasks.add_metric([kind, OUTCOMES[event_type]], count)
            if event_type in ("model_call_completed", "model_call_failed"):
                calls.add_metric([model, OUTCOMES[event_type]], count)
                cost.add_metric([model], micro / 1_000_000)
                tokens.add_metric([model, "input"], tokens_in)
                tokens.add_metric([model, "output"], tokens_out)
            if event_type in ("task_failed", "model_call_failed"):
                errors.add_metric([event_type.split("_")[0], error_type or "unknown"], count)
        for event_type, count in sorted(by_type.items()):
            events.add_metric([event_type], count)
        yield from (events, tasks, calls, cost, tokens, errors)

    def _gauges(self, conn: Any) -> Iterator[Metric]:
        now = self.clock()
        total = summarize(conn, now - self.window_s, now + 1e-6).total
        window = f"last {self.window_s:g} s"
        ratios = GaugeMetricFamily("buildrunner_ratio", f"Ratios over the {window}.",
                                   labels=["name"])
        for name, percent in (("task_success", total.task_success_rate),
                              ("model_success", total.model_success_rate),
                              ("error", total.error_rate)):
            if percent is not None:
                ratios.add_metric([name], percent / 100)
        yield ratios
        yield _quantiles("buildrunner_task_duration_seconds",
                         f"Task attempt duration quantiles over the {window}.", total.task_latency)
        yield _quantiles("buildrunner_model_latency_seconds",
                         f"Model call latency quantiles over the {window}.", total.model_latency)
        alerts = GaugeMetricFamily("buildrunner_alerts_firing", "Alerts firing now (1 each).",
                                   labels=["threshold", "level"])
        for threshold, level in conn.execute(
            "SELECT threshold, level FROM alerts WHERE status = 'firing'"
        ):
            alerts.add_metric([threshold, level], 1)
        yield alerts


def _quantiles(name: str, documentation: str, latency: Latency) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["quantile"])
    for quantile, value in (("0.5", latency.p50_ms), ("0.95", latency.p95_ms),
                            ("0.99", latency.p99_ms)):
        if value is not None:
            family.add_metric([quantile], value / 1000)
    return family


def serve(
    db_path: Path, host: str = "127.0.0.1", port: int = 9464, window_s: float = 3600.0
) -> tuple[WSGIServer, threading.Thread]:
    """Start serving `/metrics` on a daemon thread; returns the server (port 0: any free port)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db_path, window_s))
    return start_http_server(port, addr=host, registry=registry)
