"""`br quality ...`: quality gates: security clean, tests passed, coverage, budget, alerts."""

from __future__ import annotations

import typer

app = typer.Typer(help="Quality gates: security clean, tests passed, coverage, budget, alerts.", no_args_is_help=True)
