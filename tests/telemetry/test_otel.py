"""Spans and metrics over OTLP/HTTP to a real receiver on 127.0.0.1 (protobuf decoded as a
collector would, with opentelemetry-proto)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from buildrunner.config import TelemetrySettings
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
metrics_service = pytest.importorskip(
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2"
)
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from buildrunner.telemetry.otel import OtelExporter  # noqa: E402


@dataclass
class Received:
    spans: list[Any] = field(default_factory=list)  # (resource, span)
    metrics: list[Any] = field(default_factory=list)  # every Metric of every request


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[Any]]]:
    with otlp_server() as (endpoint, received):
        yield endpoint, received.spans


@contextmanager
def otlp_server() -> Iterator[tuple[str, Received]]:
    received = Received()
    spans = received.spans

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/traces":
                request = trace_service.ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        spans.extend((resource_spans.resource, span) for span in scope_spans.spans)
            elif self.path == "/v1/metrics":
                request = metrics_service.ExportMetricsServiceRequest()
                request.ParseFromString(body)
                for resource_metrics in request.resource_metrics:
                    for scope_metrics in resource_metrics.scope_metrics:
                        received.metrics.extend(scope_metrics.metrics)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def attributes(span: Any) -> dict[str, Any]:
    found = {}
    for item in span.attributes:
        value = item.value
        kind = value.WhichOneof("value")
        if kind == "array_value":
            found[item.key] = [getattr(v, v.WhichOneof("value")) for v in value.array_value.values]
        else:
            found[item.key] = getattr(value, kind)
    return found


def export_through_a_collector(db_path: Path, endpoint: str, events: list[ev.Event]) -> None:
    """Emit `events` through a collector configured for OTLP; closing it flushes the export."""
    settings = TelemetrySettings(otlp_endpoint=endpoint, batch_size=1000, flush_interval_s=3600)
    collector = Collector(db_path, settings, apply_retention=False)
    for event in events:
        collector.emit(event)
    collector.close()  # flushes, exports, shuts the exporters down


def test_a_session_becomes_a_trace(db_path: Path) -> None:
    t0 = 1_700_000_000.0
    with otlp_receiver() as (endpoint, spans):
        export_through_a_collector(
            db_path,
            endpoint,
            [
                ev.SessionStarted(ts=t0, session_id="s1", name="demo"),
                ev.TaskStarted(ts=t0 + 1, session_id="s1", task_id="build", kind="agent"),
                ev.ModelCallCompleted(
                    ts=t0 + 3,
                    session_id="s1",
                    task_id="build",
                    model="sonnet",
                    input_tokens=1200,
                    output_tokens=300,
                    latency_ms=1500,
                ),
                ev.TaskFailed(
                    ts=t0 + 4,
                    session_id="s1",
                    task_id="build",
                    kind="agent",
                    duration_ms=3000,
                    error_type="exit_code",
                    error="tests failed",
                ),
                ev.SessionFailed(ts=t0 + 5, session_id="s1", error="1 task failed"),
            ],
        )
    by_name = {span.name: (resource, span) for resource, span in spans}
    assert set(by_name) == {"session demo", "task build", "chat sonnet"}
    resource, session = by_name["session demo"]
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == (
        "buildrunner"
    )
    _, task = by_name["task build"]
    _, call = by_name["chat sonnet"]
    assert task.parent_span_id == session.span_id and call.parent_span_id == task.span_id
    assert len({session.trace_id, task.trace_id, call.trace_id}) == 1
    assert (task.start_time_unix_nano, task.end_time_unix_nano) == (
        int((t0 + 1) * 1e9),
        int((t0 + 4) * 1e9),
    )
    assert call.end_time_unix_nano - call.start_time_unix_nano == pytest.approx(1.5e9, rel=1e-6)
    assert call.kind == 3  # SPAN_KIND_CLIENT
    call_attributes = attributes(call)
    assert call_attributes["gen_ai.request.model"] == "sonnet"
    assert call_attributes["gen_ai.usage.input_tokens"] == 1200
    assert attributes(task)["error.type"] == "exit_code"
    assert task.status.code == 2 and session.status.code == 2  # STATUS_CODE_ERROR


def test_unreachable_endpoint_never_breaks_the_collector(db_path: Path) -> None:
    with otlp_receiver() as (endpoint, _):
        dead = endpoint  # closed when the block ends
    settings = TelemetrySettings(batch_size=1000, flush_interval_s=3600)
    collector = Collector(db_path, settings, apply_retention=False)
    OtelExporter(dead, timeout_s=1).attach(collector)
    collector.emit(ev.ModelCallCompleted(model="m", latency_ms=5))
    collector.close()
    assert collector.stats.persisted == 1


def test_genai_conventions_on_spans_and_metrics(db_path: Path) -> None:
    t0 = 1_700_000_000.0
    with otlp_server() as (endpoint, received):
        export_through_a_collector(
            db_path,
            endpoint,
            [
                ev.TaskStarted(ts=t0, session_id="s1", task_id="fix", kind="agent"),
                ev.ModelCallCompleted(
                    ts=t0 + 2,
                    session_id="s1",
                    task_id="fix",
                    model="sonnet",
                    input_tokens=100,
                    cache_read_tokens=900,
                    cache_write_tokens=20,
                    output_tokens=50,
                    latency_ms=1500,
                    finish_reason="end_turn",
                ),
                ev.ModelCallFailed(
                    ts=t0 + 3,
                    session_id="s1",
                    task_id="fix",
                    model="opus",
                    error_type="overloaded",
                    latency_ms=300,
                ),
                ev.event_from_dict(
                    {  # what the Claude Code executor sends for one CLI run
                        "type": "model_call_completed",
                        "ts": t0 + 9,
                        "session_id": "s1",
                        "task_id": "fix",
                        "model": "claude-sonnet-4-5",
                        "provider": "claude-code",
                        "input_tokens": 10,
                        "cache_read_tokens": 5000,
                        "output_tokens": 700,
                        "latency_ms": 6000,
                        "finish_reason": "success",
                        "turns": 4,
                    }
                ),
                ev.TaskCompleted(
                    ts=t0 + 10, session_id="s1", task_id="fix", kind="agent", duration_ms=10_000
                ),
            ],
        )
    by_name = {span.name: span for _, span in received.spans}
    assert set(by_name) == {"task fix", "chat sonnet", "chat opus", "invoke_agent claude-code"}
    chat = attributes(by_name["chat sonnet"])
    assert chat["gen_ai.usage.input_tokens"] == 1020
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 900
    assert chat["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert (chat["gen_ai.operation.name"], chat["gen_ai.provider.name"]) == ("chat", "anthropic")
    agent = attributes(by_name["invoke_agent claude-code"])
    assert (
        agent["gen_ai.operation.name"],
        agent["gen_ai.provider.name"],
        agent["gen_ai.agent.name"],
    ) == ("invoke_agent", "anthropic", "claude-code")
    assert agent["gen_ai.usage.input_tokens"] == 5010 and agent["buildrunner.turns"] == 4
    assert by_name["invoke_agent claude-code"].kind == 3  # CLIENT

    metrics = {metric.name: metric for metric in received.metrics}
    assert set(metrics) == {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    points = {
        (attributes(p)["gen_ai.operation.name"], attributes(p)["gen_ai.token.type"]): p
        for p in usage.histogram.data_points
    }
    assert {key: (p.count, p.sum) for key, p in points.items()} == {
        ("chat", "input"): (1, 1020),
        ("chat", "output"): (1, 50),
        ("invoke_agent", "input"): (1, 5010),
        ("invoke_agent", "output"): (1, 700),
    }
    assert list(points[("chat", "input")].explicit_bounds) == [
        1,
        4,
        16,
        64,
        256,
        1024,
        4096,
        16384,
        65536,
        262144,
        1048576,
        4194304,
        16777216,
        67108864,
    ]
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    by_model = {attributes(p)["gen_ai.request.model"]: p for p in duration.histogram.data_points}
    assert by_model["sonnet"].sum == pytest.approx(1.5)
    assert attributes(by_model["opus"])["error.type"] == "overloaded"
    assert by_model["claude-sonnet-4-5"].sum == pytest.approx(6.0)
    assert list(by_model["sonnet"].explicit_bounds)[:3] == [0.01, 0.02, 0.04]
