"""Budget brokers: how an agent attempt inside a worker gets money reserved before each call.

`RemoteBudget` asks the orchestrator over the worker's pipe (a "reserve" message, answered by
"reserved"), so every worker and every session of the project reserve against the same store.
`FixedAllowance` hands out an allowance reserved for the whole attempt when it was dispatched,
for backends that cannot talk back during an attempt (Ray). Both follow the executors'
`BudgetBroker` protocol: reserve(model, amount) -> id or None, settle(id, actual), release(id).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

REPLY_TIMEOUT_S = 120.0  # an orchestrator that does not answer for this long refuses the call
WAIT_FOR_MONEY_S = 900.0  # how long a call waits for calls in flight to free the money it needs
RETRY_S = 0.1


class RemoteBudget:
    """Reservations made by the orchestrator on request (the local backend's workers)."""

    def __init__(self, send: Callable[[dict[str, Any]], None], task_id: str, attempt: int) -> None:
        self._send = send
        self.task_id = task_id
        self.attempt = attempt
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[threading.Event, dict[str, Any]]] = {}
        self.refusal: str | None = None  # why the last reservation was refused

    def reserve(self, model: str, amount_usd: Decimal) -> str | None:
        """Ask until granted or refused; while other calls in flight hold the money, wait."""
        granted = self.reserve_up_to(model, amount_usd, amount_usd)
        return None if granted is None else granted[0]

    def reserve_up_to(
        self, model: str, amount_usd: Decimal, minimum_usd: Decimal
    ) -> tuple[str, Decimal] | None:
        """(id, granted): `amount_usd`, or less but at least `minimum_usd` when that is what is
        left; None when even the minimum cannot be had (after waiting for calls in flight)."""
        deadline = time.monotonic() + WAIT_FOR_MONEY_S
        while True:
            answer = self._ask(model, amount_usd, minimum_usd)
            if not answer.get("retry") or time.monotonic() >= deadline:
                break
            time.sleep(RETRY_S)
        reservation = answer.get("reservation_id")
        self.refusal = None if reservation else str(answer.get("reason") or "refused")
        if not reservation:
            return None
        return str(reservation), Decimal(str(answer.get("amount_usd", amount_usd)))

    def _ask(self, model: str, amount_usd: Decimal, minimum_usd: Decimal) -> dict[str, Any]:
        request = next(self._ids)
        done = threading.Event()
        answer: dict[str, Any] = {}
        with self._lock:
            self._waiting[request] = (done, answer)
        self._send(
            {
                "type": "reserve",
                "request": request,
                "task_id": self.task_id,
                "attempt": self.attempt,
                "model": model,
                "amount_usd": str(amount_usd),
                "min_usd": str(minimum_usd),
            }
        )
        if not done.wait(REPLY_TIMEOUT_S):
            with self._lock:
                self._waiting.pop(request, None)
            return {"reason": "the orchestrator did not answer the reservation"}
        return answer

    def deliver(self, message: dict[str, Any]) -> None:
        """A "reserved" answer from the orchestrator (called by the worker's reader thread)."""
        with self._lock:
            waiting = self._waiting.pop(int(message.get("request", 0)), None)
        if waiting is not None:
            done, answer = waiting
            answer.update(message)
            done.set()

    def settle(self, reservation_id: str, actual_usd: Decimal) -> None:
        """Nothing to send: the call's cost event carries the reservation id and settles it."""

    def release(self, reservation_id: str) -> None:
        self._send({"type": "release", "reservation_id": reservation_id, "task_id": self.task_id})


class FixedAllowance:
    """An allowance reserved at dispatch, handed out call by call (the Ray backend)."""

    def __init__(self, allowance_usd: Decimal) -> None:
        self.allowance_usd = allowance_usd
        self._held: dict[str, Decimal] = {}
        self._spent = Decimal(0)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.refusal: str | None = None

    def reserve(self, model: str, amount_usd: Decimal) -> str | None:
        granted = self.reserve_up_to(model, amount_usd, amount_usd)
        return None if granted is None else granted[0]

    def reserve_up_to(
        self, model: str, amount_usd: Decimal, minimum_usd: Decimal
    ) -> tuple[str, Decimal] | None:
        with self._lock:
            room = self.allowance_usd - self._spent - sum(self._held.values())
            if room < min(minimum_usd, amount_usd):
                self.refusal = f"the attempt's allowance of ${self.allowance_usd} is spent"
                return None
            reservation = f"allowance-{next(self._ids)}"
            granted = min(amount_usd, room)
            self._held[reservation] = granted
            return reservation, granted

    def settle(self, reservation_id: str, actual_usd: Decimal) -> None:
        with self._lock:
            self._held.pop(reservation_id, None)
            self._spent += actual_usd

    def release(self, reservation_id: str) -> None:
        with self._lock:
            self._held.pop(reservation_id, None)
