"""`br gaps ...`: gap analysis: what the plan asked for versus what happened."""

from __future__ import annotations

import typer

app = typer.Typer(help="Gap analysis: what the plan asked for versus what happened.", no_args_is_help=True)
