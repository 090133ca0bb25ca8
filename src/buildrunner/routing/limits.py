"""The money limit a routing decision must respect: the task's cost limit (or the default one) and
the remaining budget, whichever is smaller."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from buildrunner.errors import RoutingError

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings


def effective_limit(
    cost_limit: Decimal | float | None,
    remaining_budget: Decimal | float | None,
    settings: RoutingSettings | None,
) -> tuple[Decimal | None, str]:
    """(the binding limit in USD or None, its name for messages)."""
    limits: list[tuple[Decimal, str]] = []
    if cost_limit is not None:
        limits.append((usd(cost_limit), "cost limit"))
    elif settings is not None and settings.default_cost_limit_usd is not None:
        limits.append((usd(settings.default_cost_limit_usd), "default cost limit"))
    if remaining_budget is not None:
        limits.append((usd(remaining_budget), "remaining budget"))
    if not limits:
        return None, "cost limit"
    return min(limits, key=lambda pair: pair[0])


def usd(value: Decimal | float | int | str) -> Decimal:
    """A non-negative, finite amount of USD (floats by their written digits)."""
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise RoutingError(f"a cost limit must be a non-negative amount of USD (got {value})")
    return amount
