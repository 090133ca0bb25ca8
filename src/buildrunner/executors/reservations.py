"""Money held with a task's budget broker around one provider call (both executors).

`hold(broker, model, amount)` reserves before the call and raises `ReservationRefused` when the
broker says no, so the call is never made; afterwards the hold is settled to what the call cost,
or released when it failed and cost nothing. Without a broker a hold is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from buildrunner.executors.agent_types import BudgetBroker


class ReservationRefused(Exception):
    """The broker would not reserve the worst case of the next call."""

    def __init__(self, model: str, amount: Decimal) -> None:
        super().__init__(
            f"the budget cannot cover the next call to {model} "
            f"(worst case ${amount.quantize(Decimal('0.000001'))} could not be reserved)"
        )
        self.model = model
        self.amount = amount


@dataclass
class Hold:
    broker: BudgetBroker | None
    reservation_id: str | None
    amount: Decimal
    closed: bool = False

    def settle(self, actual_usd: Decimal) -> None:
        """The call finished and cost `actual_usd` (once; later calls do nothing)."""
        if self.broker is not None and self.reservation_id is not None and not self.closed:
            self.broker.settle(self.reservation_id, actual_usd)
        self.closed = True

    def release(self) -> None:
        """The call failed and cost nothing."""
        if self.broker is not None and self.reservation_id is not None and not self.closed:
            self.broker.release(self.reservation_id)
        self.closed = True

    def close(self, cost: Decimal | None) -> None:
        """Settle to `cost` when the failed call still cost something, else release."""
        if cost is not None and cost > 0:
            self.settle(cost)
        else:
            self.release()


def hold(broker: BudgetBroker | None, model: str, amount: Decimal) -> Hold:
    """Reserve `amount` for a call to `model`; raise `ReservationRefused` when refused."""
    if broker is None:
        return Hold(None, None, amount)
    reservation_id = broker.reserve(model, amount)
    if reservation_id is None:
        raise ReservationRefused(model, amount)
    return Hold(broker, reservation_id, amount)


def refused_event(refusal: ReservationRefused, spent: Decimal) -> dict[str, Any]:
    """The budget_exceeded event for a call the broker would not reserve."""
    return {
        "type": "budget_exceeded",
        "scope": "reservation",
        "model": refusal.model,
        "requested_usd": str(refusal.amount),
        "spent_usd": str(spent),
        "reason": str(refusal),
    }
