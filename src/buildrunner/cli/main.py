"""The `br` entry point: registers the command groups and turns errors into one-line messages."""

from __future__ import annotations

import os
import sys

import typer

from buildrunner import __version__
from buildrunner.cli import (
    gaps,
    init,
    parallel,
    plan,
    quality,
    review,
    routing,
    run,
    security,
    telemetry,
)

app = typer.Typer(
    name="br",
    help="BuildRunner: run builds made of shell and AI tasks, in parallel, routed, watched, guarded.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"br {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """BuildRunner: run builds made of shell and AI tasks."""


app.command("run")(run.run_command)
app.command("init")(init.init_command)
app.add_typer(plan.app, name="plan")
app.add_typer(security.app, name="security")
app.add_typer(routing.app, name="routing")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(parallel.app, name="parallel")
app.add_typer(quality.app, name="quality")
app.add_typer(gaps.app, name="gaps")
app.add_typer(review.app, name="review")


def main() -> None:
    """Console-script entry: one-line errors with exit 2, never a traceback."""
    from buildrunner.errors import BuildRunnerError

    try:
        app()
    except BuildRunnerError as exc:
        _die(str(exc), 2)
    except KeyboardInterrupt:
        _die("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: still one line unless debugging
        if os.environ.get("BR_DEBUG"):
            raise
        _die(f"internal error: {type(exc).__name__}: {exc} (set BR_DEBUG=1 for a traceback)", 2)


def _die(message: str, code: int) -> None:
    one_line = " ".join(message.split())  # errors are always one line, whatever the cause
    sys.stderr.write(f"br: error: {one_line}\n")
    sys.exit(code)
