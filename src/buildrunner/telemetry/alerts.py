"""The alert engine: evaluates thresholds as events arrive, keeps alert state in the store.

Like a Prometheus rule, a breached threshold is first `pending`; once it has stayed breached for
`for_s` seconds it is `firing` (fired once); when the metric recovers it is `resolved` (resolved
once). A pending alert that recovers before `for_s` is deleted: it never fired. State lives in the
`alerts` table and each transition is decided inside one write transaction, so two processes
watching the same project never fire the same alert twice. Fired and resolved alerts are sent
to the notifiers on a delivery thread, so a slow webhook never holds up the collector.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from buildrunner.config import TelemetrySettings
from buildrunner.store.db import BUSY_TIMEOUT_S, connect, transaction
from buildrunner.telemetry.events import AlertFired, AlertResolved, Event
from buildrunner.telemetry.notifiers import Notifier
from buildrunner.telemetry.thresholds import (
    Threshold,
    metric_snapshot,
    thresholds_from_settings,
)

log = logging.getLogger(__name__)


class EventEmitter(Protocol):
    def emit(self, event: Event) -> None: ...

    def subscribe(self, listener: Callable[[Sequence[Event]], None]) -> None: ...

    def unsubscribe(self, listener: Callable[[Sequence[Event]], None]) -> None: ...

    def on_close(self, callback: Callable[[], None]) -> None: ...


@dataclass(frozen=True)
class AlertChange:
    """An alert that fired or resolved during one evaluation."""

    alert_id: int
    threshold: str
    status: str  # firing | resolved
    level: str
    message: str
    value: float | None
    threshold_value: float
    ts: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertEngine:
    """Watches the metrics behind the thresholds; fire once, resolve once, deliver."""

    def __init__(
        self,
        db_path: Path,
        settings: TelemetrySettings | None = None,
        notifiers: Iterable[Notifier] = (),
        clock: Callable[[], float] = time.time,
        *,
        min_interval_s: float = 1.0,
        tick_s: float | None = 5.0,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.db_path = Path(db_path)
        self.settings = settings or TelemetrySettings()
        self.thresholds: list[Threshold] = thresholds_from_settings(self.settings)
        self.notifiers = list(notifiers)
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.tick_s = tick_s
        self.busy_timeout_s = busy_timeout_s
        self.last_evaluated_at: float | None = None
        self.delivery_errors = 0
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._collector: EventEmitter | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._deliveries: queue.Queue[AlertChange | None] = queue.Queue()
        self._deliverer: threading.Thread | None = None

    # -- wiring ----------------------------------------------------------------------------
    def attach(self, collector: EventEmitter) -> None:
        """Evaluate after every persisted batch (and every `tick_s` while attached).

        Closing the collector closes the engine too (queued deliveries are sent first).
        """
        self._collector = collector
        collector.subscribe(self.on_batch)
        collector.on_close(self.close)
        if self.tick_s and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(
                target=self._tick, name="buildrunner-alerts", daemon=True
            )
            self._ticker.start()

    def detach(self) -> None:
        """Stop listening and ticking (pending deliveries still go out)."""
        if self._collector is not None:
            self._collector.unsubscribe(self.on_batch)
            self._collector = None
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=10)
        self._ticker = None

    def close(self, timeout_s: float = 30.0) -> None:
        """Detach, wait for queued deliveries (up to `timeout_s`), release the connection."""
        self.detach()
        if self._deliverer is not None:
            self._deliveries.put(None)
            self._deliverer.join(timeout=timeout_s)
            self._deliverer = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def on_batch(self, batch: Sequence[Event]) -> None:
        """Collector listener: evaluate unless we did so less than `min_interval_s` ago."""
        if all(isinstance(event, AlertFired | AlertResolved) for event in batch):
            return  # our own alert events change no threshold metric worth re-reading
        now = self.clock()
        if (
            self.last_evaluated_at is not None
            and now - self.last_evaluated_at < self.min_interval_s
        ):
            return
        self.evaluate(now)

    def _tick(self) -> None:
        assert self.tick_s is not None
        while not self._stop.wait(self.tick_s):
            try:
                self.evaluate()
            except Exception:
                log.exception("alert evaluation failed")

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, now: float | None = None) -> list[AlertChange]:
        """Check every threshold now; return the alerts that fired or resolved."""
        with self._lock:
            now = self.clock() if now is None else now
            self.last_evaluated_at = now
            conn = self._connection()
            if conn is None:
                return []
            try:
                metrics = metric_snapshot(conn, now, self.settings.window_s)
                with transaction(conn):
                    changes = [
                        change
                        for threshold in self.thresholds
                        if (change := self._step(conn, threshold, metrics, now)) is not None
                    ]
            except Exception as exc:  # the store may be busy: try again next time
                log.warning("alert evaluation skipped: %s", exc)
                return []
        for change in changes:
            self._announce(change)
        return changes

    def _step(
        self,
        conn: sqlite3.Connection,
        threshold: Threshold,
        metrics: dict[str, float | None],
        now: float,
    ) -> AlertChange | None:
        value = metrics.get(threshold.metric)
        breached = threshold.breached(metrics)
        row = conn.execute(
            "SELECT id, status, pending_since FROM alerts WHERE threshold = ?"
            " AND status IN ('pending', 'firing') ORDER BY id DESC LIMIT 1",
            (threshold.name,),
        ).fetchone()
        message = threshold.message(value)
        if breached and row is None:
            status = "firing" if threshold.for_s <= 0 else "pending"
            cursor = conn.execute(
                "INSERT INTO alerts(threshold, level, status, message, value, threshold_value,"
                " pending_since, fired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    threshold.name,
                    threshold.level,
                    status,
                    message,
                    value,
                    threshold.value,
                    now,
                    now if status == "firing" else None,
                ),
            )
            if status == "firing":
                return self._change(cursor.lastrowid, threshold, "firing", message, value, now)
            return None
        if breached and row is not None:
            if row["status"] == "pending" and now - row["pending_since"] >= threshold.for_s:
                conn.execute(
                    "UPDATE alerts SET status = 'firing', fired_at = ?, value = ?, message = ?"
                    " WHERE id = ?",
                    (now, value, message, row["id"]),
                )
                return self._change(row["id"], threshold, "firing", message, value, now)
            conn.execute(
                "UPDATE alerts SET value = ?, message = ? WHERE id = ?", (value, message, row["id"])
            )
            return None
        if row is None:
            return None
        if row["status"] == "pending":
            conn.execute("DELETE FROM alerts WHERE id = ?", (row["id"],))
            return None
        resolved = f"resolved: {message}"
        conn.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = ?, value = ? WHERE id = ?",
            (now, value, row["id"]),
        )
        return self._change(row["id"], threshold, "resolved", resolved, value, now)

    @staticmethod
    def _change(
        alert_id: int | None,
        threshold: Threshold,
        status: str,
        message: str,
        value: float | None,
        now: float,
    ) -> AlertChange:
        return AlertChange(
            int(alert_id or 0),
            threshold.name,
            status,
            threshold.level,
            message,
            value,
            threshold.value,
            now,
        )

    # -- consequences ----------------------------------------------------------------------
    def _announce(self, change: AlertChange) -> None:
        if self._collector is not None:
            cls = AlertFired if change.status == "firing" else AlertResolved
            self._collector.emit(
                cls(
                    ts=change.ts,
                    threshold=change.threshold,
                    level=change.level,
                    value=change.value,
                    threshold_value=change.threshold_value,
                    message=change.message,
                )
            )
        if (
            change.status == "firing"
            and change.level == "critical"
            and (self.settings.pause_on_critical)
        ):
            self._pause_running_sessions(change)
        if any(notifier.wants(change.level) for notifier in self.notifiers):
            self._start_deliverer()
            self._deliveries.put(change)

    def _pause_running_sessions(self, change: AlertChange) -> None:
        with self._lock:  # the connection is shared with the evaluating threads
            conn = self._connection()
            if conn is None:
                return
            try:
                with transaction(conn):
                    conn.execute(
                        "INSERT INTO control_requests(session_id, action, created_at)"
                        " SELECT id, 'pause', ? FROM sessions WHERE status = 'running'",
                        (change.ts,),
                    )
            except Exception as exc:
                log.warning("cannot pause sessions on critical alert %s: %s", change.threshold, exc)

    def _start_deliverer(self) -> None:
        if self._deliverer is None or not self._deliverer.is_alive():
            self._deliverer = threading.Thread(
                target=self._deliver_loop, name="buildrunner-alert-delivery", daemon=True
            )
            self._deliverer.start()

    def _deliver_loop(self) -> None:
        while True:
            change = self._deliveries.get()
            if change is None:
                return
            try:
                self.deliver(change)
            except Exception:
                log.exception("alert delivery crashed")

    def deliver(self, change: AlertChange) -> bool:
        """Send one alert to every interested notifier; record the outcome on its row."""
        errors = []
        for notifier in self.notifiers:
            if not notifier.wants(change.level):
                continue
            try:
                notifier.send(change.to_dict())
            except Exception as exc:
                errors.append(str(exc))
                self.delivery_errors += 1
                log.warning("alert %s not delivered: %s", change.threshold, exc)
        self._record_delivery(change.alert_id, "; ".join(errors) or None)
        return not errors

    def _record_delivery(self, alert_id: int, error: str | None) -> None:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute(
                    "UPDATE alerts SET delivered = ?, delivery_error = ? WHERE id = ?",
                    (0 if error else 1, error, alert_id),
                )
            except sqlite3.Error as exc:
                log.warning("cannot record delivery of alert %d: %s", alert_id, exc)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            try:
                self._conn = connect(self.db_path, busy_timeout_s=self.busy_timeout_s)
            except Exception as exc:
                log.warning("alerts: cannot open %s: %s", self.db_path, exc)
        return self._conn
