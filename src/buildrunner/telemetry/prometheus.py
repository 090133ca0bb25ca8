"""Prometheus `/metrics` for a project's store (optional extra: `buildrunner[prometheus]`).

Each scrape reads the database: counters over everything stored (from the per-minute rollups:
events, task attempts, model calls, cost, tokens, errors), two summaries (task duration and
model latency: quantiles over the last `window_s` seconds, `_count` and `_sum` over everything
stored, as a client library's summary has them) and gauges over the window (success and error
ratios, firing alerts). Units follow Prometheus conventions: seconds, ratios in 0..1, dollars.

Every series is emitted once: the rollups are summed per label set in Python, because the rows
are keyed by more columns (session, error type, model) than a family has labels, and a repeated
series is dropped by Prometheus (it keeps one sample) and rejected by `promtool check metrics`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from buildrunner.store.db import connect
from buildrunner.telemetry.metrics import MODEL_OUTCOMES, TASK_OUTCOMES, Latency, summarize
from buildrunner.telemetry.queries import list_alerts

OUTCOMES = {
    "task_completed": "succeeded",
    "task_failed": "failed",
    "model_call_completed": "succeeded",
    "model_call_failed": "failed",
}
QUANTILES = (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms"))


@dataclass(frozen=True)
class Family:
    """One counter family: its name (without `_total`), help text and label names."""

    name: str
    documentation: str
    labels: tuple[str, ...]


COUNTERS = (
    Family("buildrunner_events", "Events stored, by type.", ("type",)),
    Family("buildrunner_task_attempts", "Finished task attempts.", ("kind", "outcome")),
    Family("buildrunner_model_calls", "Model calls.", ("model", "outcome")),
    Family("buildrunner_model_cost_usd", "Model cost in US dollars.", ("model",)),
    Family("buildrunner_model_tokens", "Model tokens.", ("model", "direction")),
    Family("buildrunner_errors", "Failures by error type.", ("source", "error_type")),
)
SUMMARIES = {  # name -> (help, outcome event types, the window's Latency field of Stats)
    "buildrunner_task_duration_seconds": (
        "Task attempt duration: quantiles over the window, count and sum over all stored.",
        TASK_OUTCOMES,
        "task_latency",
    ),
    "buildrunner_model_latency_seconds": (
        "Model call latency: quantiles over the window, count and sum over all stored.",
        MODEL_OUTCOMES,
        "model_latency",
    ),
}

Series = dict[tuple[str, tuple[str, ...]], float]  # (family name, label values) -> value


def counter_series(conn: Any) -> tuple[Series, dict[str, tuple[int, float]]]:
    """Every counter series (one value per label set) and, per summary, (count, sum in ms)."""
    series: Series = defaultdict(float)
    durations: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in SUMMARIES}
    for (
        event_type,
        model,
        kind,
        error_type,
        count,
        micro,
        tokens_in,
        tokens_out,
        timed,
        total_ms,
    ) in conn.execute(
        "SELECT type, model, kind, error_type, SUM(events), SUM(cost_micro_usd),"
        " SUM(input_tokens), SUM(output_tokens), SUM(durations), SUM(duration_sum)"
        " FROM event_rollups GROUP BY type, model, kind, error_type HAVING SUM(events) > 0"
    ):
        series[("buildrunner_events", (event_type,))] += count
        if event_type in TASK_OUTCOMES:
            series[("buildrunner_task_attempts", (kind, OUTCOMES[event_type]))] += count
        if event_type in MODEL_OUTCOMES:
            series[("buildrunner_model_calls", (model, OUTCOMES[event_type]))] += count
            series[("buildrunner_model_cost_usd", (model,))] += micro / 1_000_000
            series[("buildrunner_model_tokens", (model, "input"))] += tokens_in
            series[("buildrunner_model_tokens", (model, "output"))] += tokens_out
        if event_type in ("task_failed", "model_call_failed"):
            source = event_type.split("_")[0]
            series[("buildrunner_errors", (source, error_type or "unknown"))] += count
        for name, (_, types, _) in SUMMARIES.items():
            if event_type in types:
                seen, summed = durations[name]
                durations[name] = (seen + timed, summed + total_ms)
    return series, durations


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
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            series, durations = (
                counter_series(conn)
                if "event_rollups" in tables
                else ({}, {name: (0, 0.0) for name in SUMMARIES})
            )
            yield from self._counters(series)
            yield from self._window(conn, durations)
        finally:
            conn.close()

    def _counters(self, series: Series) -> Iterator[Metric]:
        for family in COUNTERS:
            metric = CounterMetricFamily(
                family.name, family.documentation, labels=list(family.labels)
            )
            for (name, labels), value in sorted(series.items()):
                if name == family.name:
                    metric.add_metric(list(labels), value)
            yield metric

    def _window(self, conn: Any, durations: dict[str, tuple[int, float]]) -> Iterator[Metric]:
        now = self.clock()
        total = summarize(conn, now - self.window_s, now + 1e-6).total
        window = f"last {self.window_s:g} s"
        ratios = GaugeMetricFamily(
            "buildrunner_ratio", f"Ratios over the {window}.", labels=["name"]
        )
        for name, percent in (
            ("task_success", total.task_success_rate),
            ("model_success", total.model_success_rate),
            ("error", total.error_rate),
        ):
            if percent is not None:
                ratios.add_metric([name], percent / 100)
        yield ratios
        for name, (documentation, _, field) in SUMMARIES.items():
            count, total_ms = durations[name]
            yield _summary(
                name, f"{documentation} Window: {window}.", getattr(total, field), count, total_ms
            )
        alerts = GaugeMetricFamily(
            "buildrunner_alerts_firing",
            "Alerts firing now (1 each).",
            labels=["threshold", "level"],
        )
        firing: dict[tuple[str, str], int] = defaultdict(int)
        for alert in list_alerts(conn, statuses=("firing",)):
            firing[(alert["threshold"], alert["level"])] += 1
        for labels, count in sorted(firing.items()):
            alerts.add_metric(list(labels), count)
        yield alerts


def _summary(name: str, documentation: str, window: Latency, count: int, total_ms: float) -> Metric:
    """A summary: window quantiles (seconds), then the all-time `_count` and `_sum`."""
    metric = Metric(name, documentation, "summary")
    for quantile, field in QUANTILES:
        value = getattr(window, field)
        if value is not None:
            metric.add_sample(name, {"quantile": quantile}, value / 1000)
    metric.add_sample(f"{name}_count", {}, count)
    metric.add_sample(f"{name}_sum", {}, total_ms / 1000)
    return metric


def serve(
    db_path: Path, host: str = "127.0.0.1", port: int = 9464, window_s: float = 3600.0
) -> tuple[WSGIServer, threading.Thread]:
    """Start serving `/metrics` on a daemon thread; returns the server (port 0: any free port)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db_path, window_s))
    return start_http_server(port, addr=host, registry=registry)
