"""`br parallel ...`: sessions, workers, file locks and the live dashboard."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sessions, workers, file locks and the live dashboard.", no_args_is_help=True)
