"""Every exception class BuildRunner raises, in one hierarchy.

`BuildRunnerError` and its subclasses are bad input or a refused operation: the CLI prints them as
one line (`br: error: ...`) and exits 2. Anything else that escapes is a bug in br: the CLI writes
a crash report and exits 3 (`buildrunner.cli.crash`), so CI can tell a bad plan from a br bug.
`Interrupted` is neither: a signal stopped the build (exit 130).
"""

from __future__ import annotations

from typing import Any

# This module imports nothing of buildrunner (it is at the bottom of every import chain), so the
# two errors that carry a routing object type it as Any and say in a comment what it is.


class BuildRunnerError(Exception):
    """Base of every error BuildRunner raises on purpose (bad input, refused operation)."""


# -- input -----------------------------------------------------------------------------------
class UsageError(BuildRunnerError):
    """Bad command-line input caught after parsing."""


class InputError(BuildRunnerError):
    """A file or stream handed to br cannot be used (missing, not a regular file, too big, not UTF-8)."""


class ConfigError(BuildRunnerError):
    """A setting is unknown, of the wrong type, out of range or unreadable."""


class PlanError(BuildRunnerError):
    """A plan file is missing, unparsable or invalid."""


# -- the store -------------------------------------------------------------------------------
class StoreError(BuildRunnerError):
    """The SQLite store cannot be opened, migrated, read or written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer BuildRunner than this one."""


# -- builds ----------------------------------------------------------------------------------
class SessionError(BuildRunnerError):
    """A session does not exist or cannot make the requested transition."""


class WorktreeError(BuildRunnerError):
    """Git refused to create or merge a session worktree."""


class RayBackendError(BuildRunnerError):
    """Ray is missing, unreachable, or the setup could lose a task's file writes."""


class PathRefused(BuildRunnerError):
    """The model asked for a path outside the working directory or outside its files."""


class ToolError(Exception):
    """An agent's tool call failed; the message goes back to the model (never reaches the CLI)."""


class Interrupted(Exception):  # a state, not a failure: the build was stopped
    """The build was stopped by a signal (Ctrl-C, SIGTERM)."""


# -- routing and money -----------------------------------------------------------------------
class RoutingError(BuildRunnerError):
    """No model fits the task's constraints."""


class BudgetExceededError(BuildRunnerError):
    """A model call would exceed a hard budget."""


class HardBudgetExceededError(BudgetExceededError):
    """A call would take spending past a hard budget; carries the budget it would break."""

    def __init__(self, status: Any) -> None:
        super().__init__(f"refused: {status.describe()}")
        self.status = status  # a routing.costs.BudgetStatus


class ModelCallError(BuildRunnerError):
    """A model call failed; `failure` says how (and therefore what the policy does)."""

    def __init__(self, failure: Any, model: str, *, partial: object | None = None) -> None:
        super().__init__(f"{model}: {failure.type}: {failure.message}")
        self.failure = failure  # a routing.failures.Failure
        self.model = model
        self.partial = partial  # what the failed call still used and cost (a CLI run), if known


class MissingCredentialsError(BuildRunnerError):
    """No API key is configured for a provider."""


# -- security, telemetry, quality ------------------------------------------------------------
class SecurityError(BuildRunnerError):
    """A security operation (scan, hook install) cannot proceed."""


class NotificationError(BuildRunnerError):
    """An alert could not be delivered (after retries)."""


class CoverageReportError(BuildRunnerError):
    """The coverage report is missing or cannot be read."""
