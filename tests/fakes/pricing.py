"""A simple price function for tests (the real one comes from the routing catalog)."""

from __future__ import annotations

from decimal import Decimal

from buildrunner.routing.providers import Usage

OPUS = "claude-opus-test"
SONNET = "claude-sonnet-test"
HAIKU = "claude-haiku-test"

# model -> $ per million (input, output, cache write, cache read)
PRICES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    OPUS: (Decimal("15"), Decimal("75"), Decimal("18.75"), Decimal("1.50")),
    SONNET: (Decimal("3"), Decimal("15"), Decimal("3.75"), Decimal("0.30")),
    HAIKU: (Decimal("1"), Decimal("5"), Decimal("1.25"), Decimal("0.10")),
}


def price(model: str, usage: Usage) -> Decimal:
    per_input, per_output, per_write, per_read = PRICES[model]
    total = (
        usage.input_tokens * per_input
        + usage.output_tokens * per_output
        + usage.cache_creation_tokens * per_write
        + usage.cache_read_tokens * per_read
    )
    return total / Decimal(1_000_000)
