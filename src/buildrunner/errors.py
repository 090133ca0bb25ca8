"""One exception hierarchy for the whole package; the CLI turns these into one-line errors."""

from __future__ import annotations


class BuildRunnerError(Exception):
    """Base of every error BuildRunner raises on purpose (bad input, refused operation)."""


class ConfigError(BuildRunnerError):
    """A setting is unknown, of the wrong type or unreadable."""


class PlanError(BuildRunnerError):
    """A plan file is missing, unparsable or invalid."""


class StoreError(BuildRunnerError):
    """The SQLite store cannot be opened, migrated or written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer BuildRunner than this one."""


class BudgetExceededError(BuildRunnerError):
    """A model call would exceed a hard budget."""


class RoutingError(BuildRunnerError):
    """No model fits the task's constraints."""


class SessionError(BuildRunnerError):
    """A session does not exist or cannot make the requested transition."""


class SecurityError(BuildRunnerError):
    """A security operation (scan, hook install) cannot proceed."""
