"""OpenTelemetry export (optional extra `buildrunner[otel]`): spans and metrics over OTLP/HTTP.

A collector listener turns the event stream into a trace per session:
`session <name>` (session_started .. session_completed/failed) → `task <id>` per attempt
(task_started .. task_completed/failed) → one span per model call (GenAI naming: `chat <model>`,
or `invoke_agent claude-code` for a Claude Code run; span kind CLIENT, start = end − latency).
Attributes are the events' fields under their OpenTelemetry names (`genai.py`). Model calls also
feed the GenAI client metrics, histograms with the conventions' buckets:
`gen_ai.client.token.usage` (input and output tokens) and `gen_ai.client.operation.duration`.
Spans go to `<endpoint>/v1/traces`, metrics to `<endpoint>/v1/metrics` (batched, and flushed
when the collector closes); export failures are logged by the SDK, never raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from buildrunner.telemetry import genai
from buildrunner.telemetry.events import Event

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
    """OpenTelemetry accepts scalars and lists of one scalar type; other values are left out."""
    return {
        key: value
        for key, value in genai.otel_attributes(event).items()
        if _scalar(value)
        or (
            isinstance(value, list)
            and value
            and _scalar(value[0])
            and len({type(item) for item in value}) == 1
        )
    }


def _scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


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
        metric_exporter: MetricExporter | None = None,
        metric_interval_s: float = 30.0,
    ) -> None:
        if exporter is None or metric_exporter is None:
            if not endpoint:
                raise ValueError("an OTLP endpoint or both exporters are required")
            base = endpoint.rstrip("/")
            exporter = exporter or OTLPSpanExporter(
                endpoint=f"{base}/v1/traces", headers=dict(headers or {}), timeout=int(timeout_s)
            )
            metric_exporter = metric_exporter or OTLPMetricExporter(
                endpoint=f"{base}/v1/metrics", headers=dict(headers or {}), timeout=timeout_s
            )
        resource = Resource.create({"service.name": service_name})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("buildrunner.telemetry")
        reader = PeriodicExportingMetricReader(
            metric_exporter,
            export_interval_millis=metric_interval_s * 1000,
            export_timeout_millis=timeout_s * 1000,
        )
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = self.meter_provider.get_meter("buildrunner.telemetry")
        self.token_usage = meter.create_histogram(
            genai.TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=genai.TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            genai.OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=genai.DURATION_BUCKETS_S,
        )
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
                start_time=_ns(event.ts),
                attributes=_attributes(event),
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
                f"task {event.task_id}",
                context=self._context(event.session_id),
                start_time=_ns(event.ts),
                attributes=_attributes(event),
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
                f"task {event.task_id}",
                context=self._context(event.session_id),
                start_time=_ns(event.ts - duration_ms / 1000),
            )
        span.set_attributes(_attributes(event))
        if event.type == "task_failed":
            span.set_status(Status(StatusCode.ERROR, getattr(event, "error", "")))
        span.end(end_time=_ns(event.ts))

    def _model_call(self, event: Event) -> None:
        parent = self._tasks.get((event.session_id, event.task_id))
        context = (
            trace.set_span_in_context(parent)
            if parent is not None
            else self._context(event.session_id)
        )
        latency_ms = getattr(event, "latency_ms", None) or 0.0
        span = self.tracer.start_span(
            genai.span_name(event),
            context=context,
            kind=SpanKind.CLIENT,
            start_time=_ns(event.ts - latency_ms / 1000),
            attributes=_attributes(event),
        )
        if event.type == "model_call_failed":
            span.set_status(Status(StatusCode.ERROR, getattr(event, "error", "")))
        span.end(end_time=_ns(event.ts))
        self._record_metrics(event, latency_ms)

    def _record_metrics(self, event: Event, latency_ms: float) -> None:
        attributes = genai.metric_attributes(event)
        if getattr(event, "latency_ms", None) is not None:
            self.operation_duration.record(latency_ms / 1000, attributes)
        if event.type == "model_call_completed":  # usage is known for answered calls only
            self.token_usage.record(
                genai.input_tokens(event), {**attributes, "gen_ai.token.type": "input"}
            )
            self.token_usage.record(
                int(getattr(event, "output_tokens", 0) or 0),
                {**attributes, "gen_ai.token.type": "output"},
            )

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
        self.meter_provider.shutdown()  # exports the metrics one last time
