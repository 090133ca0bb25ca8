"""The batched event collector: emit() buffers, a background thread writes batches to SQLite.

`emit` only appends to an in-memory buffer under a lock, so it is cheap and never touches the
database in the caller's thread (the caller may be holding its own write transaction). A
background thread writes the buffer in one transaction with `executemany` when `batch_size`
events are waiting or every `flush_interval_s`. `flush()` writes synchronously; `close()`
flushes and stops the thread; an `atexit` hook closes collectors left open (Ctrl-C included).
Listeners run after each batch is committed. Database trouble is logged, never raised: the
events stay buffered (bounded by `max_buffer`, oldest dropped first) and are retried.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from buildrunner.config import TelemetrySettings
from buildrunner.store.db import BUSY_TIMEOUT_S, connect
from buildrunner.telemetry.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[Event]], None]
EventFilter = Callable[[Event], bool]

INSERT_SQL = (
    "INSERT OR IGNORE INTO events(event_id, type, ts, schema_version, session_id, task_id,"
    " level, model, success, duration_ms, cost_micro_usd, input_tokens, output_tokens,"
    " error_type, kind, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def event_row(event: Event) -> tuple[Any, ...]:
    """The `events` row for one event (parameters of INSERT_SQL)."""
    return (
        event.event_id,
        event.type,
        event.ts,
        event.schema_version,
        event.session_id,
        event.task_id,
        *event.columns(),
        event.payload_json(),
    )


@dataclass
class CollectorStats:
    """Counters since the collector was opened."""

    emitted: int = 0
    filtered: int = 0
    persisted: int = 0
    dropped: int = 0
    failed_flushes: int = 0
    listener_errors: int = 0


class Collector:
    """Buffers events and persists them in batches; thread-safe."""

    def __init__(
        self,
        db_path: Path,
        settings: TelemetrySettings | None = None,
        clock: Callable[[], float] = time.time,
        *,
        drop_types: Iterable[str] = (),
        event_filter: EventFilter | None = None,
        max_buffer: int = 100_000,
        background: bool = True,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        apply_retention: bool = True,
    ) -> None:
        self.db_path = Path(db_path)
        self.settings = settings or TelemetrySettings()
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self.apply_retention = apply_retention
        self.batch_size = self.settings.batch_size
        self.flush_interval_s = self.settings.flush_interval_s
        self.drop_types = frozenset(drop_types) | frozenset(self.settings.drop_types)
        self.event_filter = event_filter
        self.max_buffer = max(max_buffer, self.batch_size)
        self.stats = CollectorStats()
        self.last_flush_at: float | None = None
        self._buffer: deque[Event] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._write_lock = threading.RLock()  # one writer at a time, batches stay in order
        self._listeners: list[Listener] = []
        self._close_callbacks: list[Callable[[], None]] = []
        self._conn: sqlite3.Connection | None = None
        self._closing = False  # the writer thread stops; emits still accepted until closed
        self._closed = False
        self._thread: threading.Thread | None = None
        self._open_connection()
        atexit.register(self.close)
        if self.settings.otlp_endpoint:
            self._attach_otel()
        if background:
            self._thread = threading.Thread(
                target=self._run, name="buildrunner-telemetry", daemon=True
            )
            self._thread.start()

    def _attach_otel(self) -> None:
        try:
            from buildrunner.telemetry.otel import OtelExporter
        except ImportError:
            log.warning(
                "telemetry.otlp_endpoint is set but OpenTelemetry is not installed:"
                " pip install 'buildrunner[otel]'"
            )
            return
        try:
            OtelExporter(self.settings.otlp_endpoint, headers=self.settings.otlp_headers).attach(
                self
            )
        except Exception as exc:  # a bad endpoint must not stop a build
            log.warning("cannot export telemetry over OTLP: %s", exc)

    # -- producer side ---------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Buffer one event (never blocks on the database, never raises)."""
        if self._closed:
            log.warning("telemetry collector is closed; dropping %s", event.type)
            return
        if event.type in self.drop_types or (
            self.event_filter is not None and not self._accepts(event)
        ):
            self.stats.filtered += 1
            return
        with self._cond:
            self._buffer.append(event)
            self.stats.emitted += 1
            self._drop_overflow()
            if len(self._buffer) >= self.batch_size:
                self._cond.notify()

    def _accepts(self, event: Event) -> bool:
        assert self.event_filter is not None
        try:
            return bool(self.event_filter(event))
        except Exception:
            log.exception("telemetry event filter failed; keeping %s", event.type)
            return True

    def pending(self) -> int:
        """Events buffered and not yet persisted."""
        with self._cond:
            return len(self._buffer)

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call `listener(batch)` after each batch is committed (on the writer thread)."""
        with self._write_lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling `listener`; unknown listeners are ignored."""
        with self._write_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once, after the final flush of `close()` (e.g. to stop an engine)."""
        self._close_callbacks.append(callback)

    # -- writing ---------------------------------------------------------------------------
    def flush(self) -> int:
        """Write every buffered event now; return how many were persisted."""
        with self._write_lock:
            with self._cond:
                batch = list(self._buffer)
                self._buffer.clear()
            if not batch:
                return 0
            try:
                written = self._write(batch)
            except BaseException:
                self._requeue(batch)  # e.g. Ctrl-C mid-write: nothing is lost
                raise
            if written is None:
                self._requeue(batch)
                return 0
            self._notify(written)
            return len(written)

    def _write(self, batch: list[Event]) -> list[Event] | None:
        rows, kept = [], []
        for event in batch:
            try:
                rows.append(event_row(event))
                kept.append(event)
            except Exception:  # an event that cannot serialize must not block the others
                log.exception("dropping unserializable telemetry event %s", event.type)
                self.stats.dropped += 1
        conn = self._conn or self._open_connection()
        if conn is None:
            self.stats.failed_flushes += 1
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(INSERT_SQL, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self.stats.failed_flushes += 1
            log.warning("telemetry: cannot write %d events to %s: %s", len(rows), self.db_path, exc)
            return None
        self.stats.persisted += len(rows)
        self.last_flush_at = self.clock()
        return kept

    def _drop_overflow(self) -> None:
        """Keep the buffer bounded (caller holds the lock): the oldest events go first."""
        overflow = len(self._buffer) - self.max_buffer
        if overflow > 0:
            for _ in range(overflow):
                self._buffer.popleft()
            self.stats.dropped += overflow
            log.warning("telemetry buffer full; dropped %d oldest events", overflow)

    def _requeue(self, batch: list[Event]) -> None:
        with self._cond:
            self._buffer.extendleft(reversed(batch))
            self._drop_overflow()

    def _notify(self, batch: Sequence[Event]) -> None:
        for listener in list(self._listeners):
            try:
                listener(batch)
            except Exception:
                self.stats.listener_errors += 1
                log.exception("telemetry listener %r failed", listener)

    def _open_connection(self) -> sqlite3.Connection | None:
        try:
            self._conn = connect(self.db_path, busy_timeout_s=self.busy_timeout_s)
        except Exception as exc:  # StoreError or an OS error: keep buffering, retry later
            log.warning("telemetry: cannot open %s: %s", self.db_path, exc)
            self._conn = None
        return self._conn

    def _prune_old_events(self) -> None:
        """Apply `retention_days` once per collector, on the writer thread."""
        from buildrunner.telemetry.retention import prune

        with self._write_lock:
            if self._conn is None:
                return
            try:
                result = prune(self._conn, self.settings.retention_days, self.clock())
            except Exception as exc:
                log.warning("telemetry retention skipped: %s", exc)
                return
        if result.events or result.alerts:
            log.info(
                "telemetry retention: deleted %d events, %d alerts", result.events, result.alerts
            )

    def _run(self) -> None:
        if self.apply_retention:
            self._prune_old_events()
        while True:
            with self._cond:
                if not self._closing and len(self._buffer) < self.batch_size:
                    self._cond.wait(self.flush_interval_s)
                if self._closing:
                    return
            try:
                self.flush()
            except Exception:  # the writer thread must survive anything
                log.exception("telemetry flush failed")

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Flush what is buffered and release the connection (idempotent)."""
        if self._closing:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, self.flush_interval_s * 2))
        try:
            for _ in range(3):  # listeners may emit while we flush (alert events)
                if not self.flush():
                    break
        except Exception:
            log.exception("telemetry: final flush failed")
        self._closed = True
        if self.pending():
            log.warning(
                "telemetry: %d events could not be written to %s", self.pending(), self.db_path
            )
        with self._write_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        atexit.unregister(self.close)
        for callback in self._close_callbacks:
            try:
                callback()
            except Exception:
                log.exception("telemetry close callback failed")

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Collector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
