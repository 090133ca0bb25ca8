"""OpenTelemetry export (optional extra `buildrunner[otel]`): events become spans over OTLP/HTTP.

A collector listener turns the event stream into a trace per session:
`session <name>` (session_started .. session_completed/failed) → `task <id>` per attempt
(task_started .. task_completed/failed) → `<operation> <model>` per model call (GenAI naming:
span kind CLIENT, start = end − latency). Attributes are the events' fields under their
OpenTelemetry names (`gen_ai.*`, `error.type`, else `buildrunner.*`). Spans are batched by the
SDK and sent to `<endpoint>/v1/traces`; export failures are logged by the SDK, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from buildrunner.telemetry.events import Event, otel_attributes

log = logging.getLogger(__name__)

SESSION_ENDS = ("session_completed", "session_failed")
TASK_ENDS = ("task_completed", "task_failed")
MODEL_CALLS = ("model_call_completed", "model_call_failed")


class Subscribable(Protocol):
    def subscribe(self, listener: Callable[[Sequence[Event]], None]) -> None: ...

    def on_close(self, callback: Callable[[], None]) -> None: ...


def _ns(ts: float) -> int:
    return int(ts * 1_000_000_000)


def _attributes(event: Event) -> dict[str, Any]:
    return {key: value for key, value in otel_attributes(event).items()
            if isinstance(value, str | bool | int | float)}


class OtelExporter:
    """Turns events into spans and exports them; use `attach(collector)`."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        service_name: str = "buildrunner",
        timeout_s: float = 5.0,
        exporter: SpanExporter | None = None,
    ) -> None:
        if exporter is None:
            if not endpoint:
                raise ValueError("an OTLP endpoint or an exporter is required")
            exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces",
                                        headers=dict(headers or {}), timeout=int(timeout_s))
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("buildrunner.telemetry")
        self._lock = threading.Lock()
        self._sessions: dict[str | None, Span] = {}
        self._tasks: dict[tuple[str | None, str | None], Span] = {}
        self._closed = False

    def attach(self, collector: Subscribable) -> None:
        """Export every batch the collector persists; shut down when it closes."""
        collector.subscribe(self.on_batch)
        collector.on_close(self.close)

    def on_batch(self, batch: Sequence[Event]) -> None:
        with self._lock:
            for event in batch:
                try:
                    self._handle(event)
                except Exception:  # one odd event must not stop the export of the others
                    log.exception("cannot export event %s as a span", event.type)

    def _handle(self, event: Event) -> None:
        kind = event.type
        if kind == "session_started":
            self._sessions[event.session_id] = self.tracer.start_span(
                f"session {getattr(event, 'name', '') or event.session_id}",
                start_time=_ns(event.ts), attributes=_attributes(event),
            )
        elif kind in SESSION_ENDS:
            span = self._sessions.pop(event.session_id, None)
            if span is not None:
                span.set_attributes(_attributes(event))
                if kind == "session_failed":
                    span.set_status(Status(StatusCode.ERROR, getattr(event, "error", "")))
                span.end(end_time=_ns(event.ts))
        elif kind == "task_started":
            self._tasks[(event.session_id, event.task_id)] = self.tracer.start_span(
                f"task {event.task_id}", context=self._context(event.session_id),
                start_time=_ns(event.ts), attributes=_attributes(event),
            )
        elif kind in TASK_ENDS:
            self._end_task(event)
        elif kind in MODEL_CALLS:
            self._model_call(event)

    def _context(self, session_id: str | None) -> Any:
        parent = self._sessions.get(session_id)
        return trace.set_span_in_context(parent) if parent is not None else None

    def _end_task(self, event: Event) -> None:
        span = self._tasks.pop((event.session_id, event.task_id), None)
        if span is None:  # started before we were listening: rebuild it from the duration
            duration_ms = getattr(event, "duration_ms", None) or 0.0
            span = self.tracer.start_span(
                f"task {event.task_id}", context=self._context(event.session_id),
                start_time=_ns(event.ts - duration_ms / 1000),
            )
        span.set_attributes(_attributes(event))
        if event.type == "task_failed":
            span.set_status(Status(StatusCode.ERROR, getattr(event, "error", "")))
        span.end(end_time=_ns(event.ts))

    def _model_call(self, event: Event) -> None:
        parent = self._tasks.get((event.session_id, event.task_id))
        context = (trace.set_span_in_context(parent) if parent is not None
                   else self._context(event.session_id))
        latency_ms = getattr(event, "latency_ms", None) or 0.0
        span = self.tracer.start_span(
            f"{getattr(event, 'operation', 'chat')} {getattr(event, 'model', '')}".strip(),
            context=context, kind=SpanKind.CLIENT, start_time=_ns(event.ts - latency_ms / 1000),
            attributes=_attributes(event),
        )
        if event.type == "model_call_failed":
            span.set_status(Status(StatusCode.ERROR, getattr(event, "error", "")))
        span.end(end_time=_ns(event.ts))

    def close(self) -> None:
        """End spans left open (an interrupted build), flush and shut the exporter down."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for span in [*self._tasks.values(), *self._sessions.values()]:
                span.set_attribute("buildrunner.interrupted", True)
                span.end()
            self._tasks.clear()
            self._sessions.clear()
        self.provider.shutdown()
