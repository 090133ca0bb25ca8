"""`br security ...`: find leaked secrets and SQL injection; git pre-commit hook; masking."""

from __future__ import annotations

import typer

app = typer.Typer(help="Find leaked secrets and SQL injection; git pre-commit hook; masking.", no_args_is_help=True)
