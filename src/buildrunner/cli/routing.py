"""`br routing ...`: estimate task complexity, pick models, track costs and budgets."""

from __future__ import annotations

import typer

app = typer.Typer(help="Estimate task complexity, pick models, track costs and budgets.", no_args_is_help=True)
