"""How the orchestrator hands events to telemetry: plain dicts in, typed events in the store.

The orchestrator and workers describe events as dicts (`{"type": "task_started", ...}`); the sink
turns them into typed telemetry events and gives them to the batched collector, whose listeners
evaluate alert thresholds as events arrive.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from buildrunner.config import Settings
from buildrunner.store.db import Store

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def emit(self, event: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class CollectorSink:
    """Forwards event dicts to the telemetry collector (and its alert engine)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        from buildrunner.telemetry.collector import Collector

        self.collector = Collector(store.db_path, settings.telemetry)
        self.alerts = _attach_alerts(self.collector, store, settings)

    def emit(self, event: dict[str, Any]) -> None:
        from buildrunner.telemetry.events import event_from_dict

        try:
            typed = event_from_dict(event)
        except Exception as exc:  # a malformed event must never stop a build
            log.warning("dropping malformed event %s: %s", event.get("type"), exc)
            return
        self.collector.emit(typed)

    def flush(self) -> None:
        """Persist what is buffered and evaluate the thresholds on it (the end of a build)."""
        self.collector.flush()
        if self.alerts is not None:
            self.alerts.evaluate()

    def close(self) -> None:
        self.collector.close()


def _attach_alerts(collector: Any, store: Store, settings: Settings) -> Any:
    """Thresholds are evaluated as batches are persisted; alerts go to the configured notifiers."""
    from buildrunner.telemetry.alerts import AlertEngine
    from buildrunner.telemetry.notifiers import notifiers_from_settings

    engine = AlertEngine(
        store.db_path, settings.telemetry, notifiers_from_settings(settings.telemetry)
    )
    engine.attach(collector)
    return engine


def open_sink(store: Store, settings: Settings) -> EventSink:
    """The event sink for a build in this project."""
    return CollectorSink(store, settings)
