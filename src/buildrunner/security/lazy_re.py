"""Regular expressions compiled on first use: the pre-commit hook imports the validators but runs
few of them, and compiling every pattern at import is a visible share of its start-up."""

from __future__ import annotations

import re
from typing import Any

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """Behaves like the compiled pattern; compiles on the first attribute access."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        compiled = re.compile(self._source, self._flags)
        for method in _METHODS:  # later calls find these directly, without __getattr__
            setattr(self, method, getattr(compiled, method))
        self.pattern = compiled.pattern
        self.groupindex = compiled.groupindex
        return getattr(compiled, name)


def lazy_compile(pattern: str, flags: int = 0) -> Any:
    """A pattern compiled when first used (typed `Any`: it stands in for `re.Pattern[str]`)."""
    return LazyPattern(pattern, flags)
