"""Which files the SQL pass parses: a cheap text test before any syntax tree is built.
"""

from __future__ import annotations

from buildrunner.security.sql import is_supported


def might_hold_sql(path: str, text: str) -> bool:
    """False when `path` cannot hold an SQL-injection finding (no parse needed)."""
    return is_supported(path)
