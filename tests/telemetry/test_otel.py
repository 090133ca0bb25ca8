"""Spans over OTLP/HTTP to a real receiver on 127.0.0.1 (protobuf decoded as a collector would)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from buildrunner.config import TelemetrySettings
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.collector import Collector

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2"
)
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from buildrunner.telemetry.otel import OtelExporter  # noqa: E402


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[Any]]]:
    spans: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/traces":
                request = trace_service.ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        spans.extend((resource_spans.resource, span)
                                     for span in scope_spans.spans)
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
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()
        server.server_close()


def attributes(span: Any) -> dict[str, Any]:
    found = {}
    for item in span.attributes:
        value = item.value
        found[item.key] = getattr(value, value.WhichOneof("value"))
    return found


def test_a_session_becomes_a_trace(db_path: Path) -> None:
    t0 = 1_700_000_000.0
    with otlp_receiver() as (endpoint, spans):
        settings = TelemetrySettings(otlp_endpoint=endpoint, batch_size=1000,
                                     flush_interval_s=3600)
        collector = Collector(db_path, settings, apply_retention=False)
        for event in (
            ev.SessionStarted(ts=t0, session_id="s1", name="demo"),
            ev.TaskStarted(ts=t0 + 1, session_id="s1", task_id="build", kind="agent"),
            ev.ModelCallCompleted(ts=t0 + 3, session_id="s1", task_id="build", model="sonnet",
                                  input_tokens=1200, output_tokens=300, latency_ms=1500),
            ev.TaskFailed(ts=t0 + 4, session_id="s1", task_id="build", kind="agent",
                          duration_ms=3000, error_type="exit_code", error="tests failed"),
            ev.SessionFailed(ts=t0 + 5, session_id="s1", error="1 task failed"),
        ):
            collector.emit(event)
        collector.close()  # flushes, exports, shuts the exporter down
    by_name = {span.name: (resource, span) for resource, span in spans}
    assert set(by_name) == {"session demo", "task build", "chat sonnet"}
    resource, session = by_name["session demo"]
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == (
        "buildrunner")
    _, task = by_name["task build"]
    _, call = by_name["chat sonnet"]
    assert task.parent_span_id == session.span_id and call.parent_span_id == task.span_id
    assert len({session.trace_id, task.trace_id, call.trace_id}) == 1
    assert (task.start_time_unix_nano, task.end_time_unix_nano) == (
        int((t0 + 1) * 1e9), int((t0 + 4) * 1e9))
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
