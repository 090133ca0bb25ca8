"""`br run PLAN`: run a build."""

from __future__ import annotations

from pathlib import Path

import typer

from buildrunner.cli.common import fail


def run_command(plan_file: Path = typer.Argument(..., help="The plan YAML file.")) -> None:
    """Run a build plan."""
    fail("br run is being built")
