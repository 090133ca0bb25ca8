"""The `br` command: its command groups, loaded only when used, and the one entry point.

Exit codes: 0 success, 1 findings / failed gate / failed tasks, 2 bad usage or bad input (one line
`br: error: ...`), 3 a bug in br (one line pointing to a crash report), 130 interrupted.

`br --version` answers before Typer is imported; `br --help` lists the commands from the table
below without importing their modules. To add a command group, add one row to COMMANDS.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from buildrunner import __version__

# name -> (module, attribute: a Typer app or a command function, one-line help for `br --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "buildrunner.cli.run",
        "run_command",
        "Run a build plan: tasks in dependency order, in parallel where safe.",
    ),
    "init": (
        "buildrunner.cli.init",
        "init_command",
        "Set up this project: .buildrunner/ (private) and buildrunner.toml (shared).",
    ),
    "plan": ("buildrunner.cli.plan", "app", "Validate plan files and print their JSON Schema."),
    "security": (
        "buildrunner.cli.security",
        "app",
        "Scan for secrets and SQL injection; git hooks, baseline, masking.",
    ),
    "routing": (
        "buildrunner.cli.routing",
        "app",
        "Estimate task complexity, pick models, track costs and budgets.",
    ),
    "telemetry": (
        "buildrunner.cli.telemetry",
        "app",
        "Events, metrics, alerts, performance and exports from the store.",
    ),
    "parallel": (
        "buildrunner.cli.parallel",
        "app",
        "Sessions, workers, file locks and the live dashboard.",
    ),
    "quality": (
        "buildrunner.cli.quality",
        "app",
        "Quality gates: security clean, tests passed, coverage, budget, alerts.",
    ),
    "gaps": (
        "buildrunner.cli.gaps",
        "app",
        "Gap analysis: tasks not done, files never created, open findings, failing gates.",
    ),
    "report": (
        "buildrunner.cli.report",
        "report_command",
        "Write a build's report: one self-contained HTML page.",
    ),
    "cache": (
        "buildrunner.cli.cache",
        "app",
        "The task cache: why a task missed, entries, pruning.",
    ),
    "review": (
        "buildrunner.cli.review",
        "app",
        "Review isolated tasks' work before it lands: diffs, approve, reject.",
    ),
}

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Failures of the machine, not of br or of the input: a full disk, a read-only folder.
ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported the first time the command is needed."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [
            *super().list_commands(ctx),
            *(name for name in COMMANDS if name not in self.commands),
        ]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from the table, without importing every command's module."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                rows.append((name, command.get_short_help_str(formatter.width)))
            else:
                rows.append((name, COMMANDS[name][2]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load_command(name: str) -> Any:
    """The Click command for a COMMANDS row, built the way `add_typer`/`command` would build it."""
    module_name, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    holder.callback()(_no_op)  # a callback makes the holder a group, whatever it holds
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]


def _no_op() -> None:
    """Placeholder callback of the holder group."""


app = typer.Typer(
    name="br",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: bracketed text such as buildrunner[prometheus] stays
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
    """BuildRunner: run builds made of shell and AI tasks, in parallel, routed, watched, guarded.

    \b
    Examples:
      br init
      br run plan.yaml --workers 4
      br parallel status
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: runs `br`, turning every failure into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    sys.exit(run_cli(args))


def run_cli(args: list[str]) -> int:
    """Run `br ARGS`; the exit code (never raises, except SystemExit from deep inside)."""
    from buildrunner.errors import BuildRunnerError

    try:
        _check_arguments(args)
        code = app(args=args, prog_name="br", standalone_mode=False)
    except BuildRunnerError as exc:
        return _die(str(exc), EXIT_USAGE)
    except typer.Abort:
        return _die("aborted", 1)
    except click_exceptions().ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `br` or `br routing` alone: the help
            sys.stderr.write(exc.format_message() + "\n")
            return EXIT_USAGE
        return _die(_usage_message(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _die("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        return 0  # the reader went away (`br ... | head`): nothing left to say
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # not bad input: a full disk, a damaged store, or a bug
        if os.environ.get("BR_DEBUG"):
            raise
        environment = _environment_problem(exc) or _damaged_store()
        if environment is not None:
            return _die(environment, EXIT_USAGE)
        from buildrunner.cli.crash import report_bug

        return report_bug(exc, ["br", *args])
    if code == EXIT_INTERRUPTED:
        return _die("interrupted", EXIT_INTERRUPTED)
    return code if isinstance(code, int) else 0


def click_exceptions() -> Any:
    """Typer's (vendored) Click exceptions module."""
    from typer._click import exceptions  # typer >= 0.20 ships its own copy of Click

    return exceptions


def _usage_message(exc: Any) -> str:
    """A Click usage error as one line, with where to look for help."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoSuchOption" and _looks_like_number(getattr(exc, "option_name", "")):
        message = (
            f"{exc.option_name} is read as an option; a negative number is not a valid "
            f"value here (put -- before it if it is meant as an argument)"
        )
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = message.rstrip(".")
    return f"{message[:1].lower()}{message[1:]}{hint}"


def _looks_like_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_arguments(args: list[str]) -> None:
    """Refuse arguments that are not text (bytes that are not UTF-8) unless they name a file."""
    from buildrunner.errors import UsageError

    for index, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            if os.path.lexists(arg):
                continue  # a file name in another encoding is still a file name
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {index} ({shown}) is not valid UTF-8 text") from None


def _environment_problem(exc: BaseException) -> str | None:
    """A one-line description when `exc` is the machine's problem (disk, permissions, store)."""
    import sqlite3  # only on this path: keep start-up lean

    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, sqlite3.DatabaseError):
        from buildrunner.store.db import describe_sqlite_error, find_project_root

        try:
            path: Any = find_project_root() / ".buildrunner" / "buildrunner.db"
        except Exception:  # the project cannot even be found: still one line
            path = "of this project"
        return describe_sqlite_error(path, exc, 0.0)
    return None


def _damaged_store() -> str | None:
    """After an unexpected failure: a description of damage in the project's store, if any.

    Values of the wrong type or broken JSON written into the database by hand or by another
    program break readers far from the cause; that is bad input (exit 2), not a bug in br.
    """
    try:
        from buildrunner.store.db import Store, find_project_root
        from buildrunner.store.integrity import find_damage
        from buildrunner.store.migrate import expected_tables

        store = Store(find_project_root())
        if not store.db_path.is_file():
            return None
        conn = store.connect_readonly()
        try:
            damage = find_damage(conn, expected_tables())
        finally:
            conn.close()
    except Exception:  # the store cannot even be read: the original failure is reported
        return None
    if damage is None:
        return None
    return (
        f"database {store.db_path} is damaged: {damage.describe()}; move it aside to start afresh"
    )


def _die(message: str, code: int) -> int:
    from buildrunner.display import printable

    one_line = printable(" ".join(message.split()), one_line=True)  # always one line
    sys.stderr.write(f"br: error: {one_line}\n")
    return code
