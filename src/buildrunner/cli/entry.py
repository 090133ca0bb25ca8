"""The console script `br` (and `python -m buildrunner`): answers `--version` before any import.

Everything else goes to `buildrunner.cli.main`, which imports Typer (~0.1 s); `br --version` is
what scripts and shell prompts call most, so it costs only the interpreter's start-up.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run `br` with the process's arguments."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from buildrunner import __version__

        sys.stdout.write(f"br {__version__}\n")
        return
    from buildrunner.cli.main import main as run

    run()
