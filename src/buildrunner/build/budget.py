"""Budgets that hold when tasks run in parallel: reserve before every model call.

Before a model call is made, its worst-case cost (input known, `max_tokens` of output, at the
model's prices) is reserved in one write transaction against every hard budget that applies: the
session's budget, the project's session/daily/weekly/monthly budgets, and the task's cost limit.
Spent money (the `costs` table) plus live reservations of every session of the project must stay
within each limit, so N workers can never spend N times what is left. The reservation is settled
(deleted) in the transaction that records the call's real cost, released when the call fails, and
dropped with its attempt when a worker or the orchestrator dies (a reservation whose owner process
is gone is ignored and cleared).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from buildrunner.build.state import RunState
from buildrunner.build.summary import TaskUpdate
from buildrunner.parallel.backends import BackendMessage
from buildrunner.routing.costs import CostTracker, from_micro, to_micro
from buildrunner.store.db import now, transaction


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: the budget it would break, and what it has left."""

    scope: str  # session | daily | weekly | monthly | task
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    asked_usd: Decimal

    @property
    def transient(self) -> bool:
        """Only calls in flight stand in the way: it fits once their reservations settle."""
        return self.spent_usd + self.asked_usd <= self.limit_usd

    @property
    def message(self) -> str:
        what = "task cost limit" if self.scope == "task" else f"{self.scope} budget"
        return (
            f"{what} ${self.limit_usd} reached: ${self.spent_usd} spent, ${self.reserved_usd} "
            f"reserved by calls in flight, the next call may cost up to ${self.asked_usd}"
        )

    def to_event(self) -> dict[str, object]:
        return {
            "type": "budget_exceeded",
            "scope": self.scope,
            "limit_usd": str(self.limit_usd),
            "spent_usd": str(self.spent_usd),
            "hard": True,
        }


@dataclass(frozen=True)
class Reservation:
    id: str
    amount_usd: Decimal


class BudgetLedger:
    """Reservations of one session (the owner process's view); every method writes atomically."""

    def __init__(self, conn: sqlite3.Connection, session_id: str) -> None:
        self.conn = conn
        self.session_id = session_id
        self.tracker = CostTracker(conn)
        self._pid = os.getpid()
        self._host = socket.gethostname()

    def reserve(
        self,
        task_id: str,
        attempt: int,
        model: str,
        amount_usd: Decimal,
        task_limit_usd: Decimal | None = None,
        minimum_usd: Decimal | None = None,
    ) -> Reservation | Refusal:
        """Reserve `amount_usd` for one call, or say which budget refuses it.

        With `minimum_usd` (the cheapest useful form of the call: fewer output tokens), less
        than `amount_usd` is granted when that is all the budgets have left, as long as it is at
        least the minimum; the caller then shrinks the call to what was granted.
        """
        amount = from_micro(to_micro(amount_usd))
        floor = amount if minimum_usd is None else min(amount, from_micro(to_micro(minimum_usd)))
        with self._write():
            self._clear_orphans()
            limits = self._limits(task_id, task_limit_usd)
            room = min(
                (limit - spent - reserved for _, limit, spent, reserved in limits), default=amount
            )
            if room < floor:
                scope, limit, spent, reserved = min(
                    limits, key=lambda item: item[1] - item[2] - item[3]
                )
                return Refusal(scope, limit, spent, reserved, floor)
            granted = min(amount, room)
            reservation = Reservation(uuid.uuid4().hex, granted)
            self.conn.execute(
                "INSERT INTO budget_reservations(id, session_id, task_id, attempt, model,"
                " amount_micro_usd, owner_pid, owner_host, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reservation.id,
                    self.session_id,
                    task_id,
                    attempt,
                    model,
                    to_micro(granted),
                    self._pid,
                    self._host,
                    now(),
                ),
            )
        return reservation

    def settle(self, reservation_id: str) -> None:
        """The call's cost is recorded (call inside that same transaction): drop its reservation."""
        self.conn.execute("DELETE FROM budget_reservations WHERE id = ?", (reservation_id,))

    def release(self, reservation_id: str) -> None:
        """The call failed without cost."""
        with self._write():
            self.settle(reservation_id)

    def release_task(self, task_id: str) -> None:
        """Every reservation of a task's attempts (it ended, or its worker was lost)."""
        with self._write():
            self.conn.execute(
                "DELETE FROM budget_reservations WHERE session_id = ? AND task_id = ?",
                (self.session_id, task_id),
            )

    def release_session(self) -> None:
        """Every reservation of this session (it ended, or it is being resumed)."""
        with self._write():
            self.conn.execute(
                "DELETE FROM budget_reservations WHERE session_id = ?", (self.session_id,)
            )

    def reserved(self, *, task_id: str | None = None) -> Decimal:
        """What live reservations hold: the whole project's, or one task's."""
        if task_id is None:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(amount_micro_usd), 0) FROM budget_reservations"
            ).fetchone()
        else:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(amount_micro_usd), 0) FROM budget_reservations"
                " WHERE session_id = ? AND task_id = ?",
                (self.session_id, task_id),
            ).fetchone()
        return from_micro(row[0])

    # -- what applies ---------------------------------------------------------------------------
    def _limits(
        self, task_id: str, task_limit_usd: Decimal | None
    ) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(scope, limit, spent, reserved) of every hard limit on this session's next call."""
        limits: list[tuple[str, Decimal, Decimal, Decimal]] = []
        session_reserved = self._session_reserved()
        session_spent = self.tracker.spent("session", self.session_id)
        row = self.conn.execute(
            "SELECT budget_usd FROM sessions WHERE id = ?", (self.session_id,)
        ).fetchone()
        if row is not None and row["budget_usd"]:
            limits.append(("session", Decimal(row["budget_usd"]), session_spent, session_reserved))
        all_reserved: Decimal | None = None
        for budget in self.tracker.budgets():
            if not budget.hard:
                continue
            if budget.scope == "session":
                limits.append(("session", budget.limit_usd, session_spent, session_reserved))
                continue
            if all_reserved is None:
                all_reserved = self.reserved()
            spent = self.tracker.spent(budget.scope, self.session_id)
            limits.append((budget.scope, budget.limit_usd, spent, all_reserved))
        if task_limit_usd is not None:
            spent_row = self.conn.execute(
                "SELECT cost_micro_usd FROM tasks WHERE session_id = ? AND task_id = ?",
                (self.session_id, task_id),
            ).fetchone()
            task_spent = from_micro(spent_row[0] if spent_row else 0)
            limits.append(("task", task_limit_usd, task_spent, self.reserved(task_id=task_id)))
        return limits

    def _session_reserved(self) -> Decimal:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(amount_micro_usd), 0) FROM budget_reservations"
            " WHERE session_id = ?",
            (self.session_id,),
        ).fetchone()
        return from_micro(row[0])

    def _clear_orphans(self) -> None:
        """Reservations of processes on this host that are gone (a killed orchestrator)."""
        owners = self.conn.execute(
            "SELECT DISTINCT owner_pid FROM budget_reservations WHERE owner_host = ?",
            (self._host,),
        ).fetchall()
        dead = [pid for (pid,) in owners if pid is not None and not _alive(pid)]
        for pid in dead:
            self.conn.execute(
                "DELETE FROM budget_reservations WHERE owner_host = ? AND owner_pid = ?",
                (self._host, pid),
            )

    def _write(self) -> AbstractContextManager[object]:
        """The caller's open write transaction, or a new one."""
        return nullcontext() if self.conn.in_transaction else transaction(self.conn)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BudgetDesk:
    """The build loop's side: answers workers' reservations, settles them, pauses at a budget.

    When a hard budget refuses a call, the session pauses: running tasks finish their current
    call (their next one is refused), nothing new starts, and the attempts stopped by the refusal
    go back to the queue. Raising the budget and resuming goes on where it stopped.
    """

    def __init__(self, run: RunState) -> None:
        self.run = run
        self.ledger = BudgetLedger(run.conn, run.session_id)

    def on_reserve(self, message: BackendMessage) -> None:
        """Answer a worker's "reserve" request (inside the round's transaction)."""
        run = self.run
        request = message.event
        task_id = str(request.get("task_id"))
        state = run.scheduler.tasks.get(task_id)
        answer: dict[str, Any] = {"type": "reserved", "request": request.get("request")}
        if state is None or run.paused or run.cancelling:
            answer["reason"] = "the session is paused" if run.paused else "the task is not running"
        else:
            spec = state.spec
            limit = spec.cost_limit_usd or run.settings.routing.default_cost_limit_usd
            minimum = request.get("min_usd")
            result = self.ledger.reserve(
                task_id,
                int(request.get("attempt") or state.attempts),
                str(request.get("model")),
                Decimal(str(request.get("amount_usd", "0"))),
                None if limit is None else Decimal(str(limit)),
                None if minimum is None else Decimal(str(minimum)),
            )
            if isinstance(result, Reservation):
                answer["reservation_id"] = result.id
                answer["amount_usd"] = str(result.amount_usd)
            elif result.transient:  # other calls hold the money for now: ask again shortly
                answer["retry"] = True
                answer["reason"] = result.message
            else:
                answer["reason"] = result.message
                if result.scope != "task":
                    event = result.to_event()
                    event.pop("type")
                    self.pause(result.message, task_id, event)
        assert run.backend is not None
        run.backend.answer(message.worker_id, answer)

    def on_release(self, message: BackendMessage) -> None:
        reservation = message.event.get("reservation_id")
        if reservation:
            self.ledger.settle(str(reservation))

    def on_cost(self, event: dict[str, Any]) -> None:
        """A model call's cost is being recorded (same transaction): its reservation is settled."""
        reservation = event.get("reservation_id")
        if reservation:
            self.ledger.settle(str(reservation))

    def pause(self, reason: str, task_id: str | None, event: dict[str, Any]) -> None:
        """A hard budget is reached: pause the session (once) and say how to go on."""
        run = self.run
        if run.budget_pause is not None:
            return
        run.budget_pause = reason
        run.paused = True
        run.recorder.set_session_status("paused", error=f"paused: {reason}")
        run.emit("budget_exceeded", task_id=task_id, reason=reason, **event)
        run.emit("session_paused", reason=reason)
        run.notify(TaskUpdate(task_id or "-", "paused", detail=reason))

    def release_task(self, task_id: str) -> None:
        self.ledger.release_task(task_id)

    def release_session(self) -> None:
        self.ledger.release_session()
