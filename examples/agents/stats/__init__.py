"""Small statistics helpers: the project the agent example changes."""

from stats.core import mean

__all__ = ["mean"]
