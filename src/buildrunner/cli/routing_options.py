"""Options and helpers shared by the `br routing` command modules."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from buildrunner.cli.common import fail

ESTIMATOR_OPTION = typer.Option(
    None, "--estimator", help="auto | heuristic | learned (default: [routing] estimator)."
)


MAX_USD = Decimal(1_000_000)  # stored as integer micro-dollars: far inside SQLite's range


def usd_option(name: str, raw: str, positive: bool = False) -> Decimal:
    """An amount of USD from the command line; a one-line error (exit 2) if it is not one."""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        fail(f"{name} must be an amount in USD (got '{raw}')")
    if not value.is_finite() or value < 0 or (positive and value == 0) or value > MAX_USD:
        fail(
            f"{name} must be a {'positive' if positive else 'non-negative'} amount in USD"
            f" of at most {MAX_USD:,} (got '{raw}')"
        )
    return value


def estimator_name(name: str | None) -> str:
    """The estimator to use: the option's value (checked) or the project's setting."""
    from buildrunner.routing.complexity import ESTIMATOR_NAMES

    if name is None:
        settings, _ = routing_settings()
        return str(settings.estimator)
    if name not in ESTIMATOR_NAMES:
        fail(f"--estimator must be one of {', '.join(ESTIMATOR_NAMES)} (got '{name}')")
    return name


def routing_settings() -> tuple[Any, Path]:
    """The project's routing settings and its root folder."""
    from buildrunner.cli.common import project_settings, project_store

    store = project_store()
    return project_settings(store).routing, store.root
