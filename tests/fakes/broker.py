"""An in-memory budget broker for executor tests: grants `grants` reservations, then refuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Reservation:
    id: str
    model: str
    amount: Decimal
    state: str = "held"  # held | settled | released
    actual: Decimal | None = None


@dataclass
class InMemoryBroker:
    grants: int | None = None  # None: grant every reservation
    reservations: list[Reservation] = field(default_factory=list)
    refused: list[tuple[str, Decimal]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, model: str, amount_usd: Decimal) -> str | None:
        with self._lock:
            if self.grants is not None and len(self.reservations) >= self.grants:
                self.refused.append((model, amount_usd))
                return None
            reservation = Reservation(f"r{len(self.reservations) + 1}", model, amount_usd)
            self.reservations.append(reservation)
            return reservation.id

    def _held(self, reservation_id: str) -> Reservation:
        found = next(r for r in self.reservations if r.id == reservation_id)
        if found.state != "held":
            raise AssertionError(f"{reservation_id} closed twice ({found.state})")
        return found

    def settle(self, reservation_id: str, actual_usd: Decimal) -> None:
        with self._lock:
            found = self._held(reservation_id)
            found.state, found.actual = "settled", actual_usd

    def release(self, reservation_id: str) -> None:
        with self._lock:
            self._held(reservation_id).state = "released"

    @property
    def states(self) -> list[str]:
        return [r.state for r in self.reservations]
