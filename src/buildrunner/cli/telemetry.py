"""`br telemetry ...`: events, metrics, alerts, performance and exports from the store."""

from __future__ import annotations

import typer

app = typer.Typer(help="Events, metrics, alerts, performance and exports from the store.", no_args_is_help=True)
