"""What every complexity estimator shares: the levels, the `Estimate` result, the protocol, and the
table of word-family signals (the heuristic scores them; the learned model counts them as features).

This module imports nothing from the rest of `routing`, so the estimators (`heuristic.py`,
`learned.py`), their features and the registry (`complexity.py`) all build on it without a cycle,
as pre-commit's language modules build on `lang_base.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

LEVELS = ("simple", "moderate", "complex", "critical")


@dataclass(frozen=True)
class Estimate:
    """A complexity estimate: level, a 0-100 score and the signals that drove it."""

    level: str
    score: float
    signals: dict[str, Any] = field(default_factory=dict)
    estimator: str = "heuristic"

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "score": self.score, "signals": self.signals}


class Estimator(Protocol):
    """What every estimator offers: a name and `estimate(text, files)`."""

    name: str

    def estimate(self, text: str, files: Sequence[str] = ()) -> Estimate: ...


@dataclass(frozen=True)
class Signal:
    """A family of words or phrases; each distinct match adds `weight` points, up to `cap`."""

    name: str
    pattern: str
    weight: float
    cap: float


# Points on a 0-100 scale. Positive: more work or more risk; negative: small, well-defined work.
# The learned model counts these families too: after changing them, retrain it
# (benchmarks/train_complexity.py).
SIGNALS: tuple[Signal, ...] = (
    Signal(
        "trivial",
        r"typo|spelling|wording|rename|docstring|comment|readme|format(?:ting)?"
        r"|bump (?:the )?version|one[- ]line|minor|simple|trivial|small",
        -8,
        -16,
    ),
    Signal(
        "well_defined",
        r"is clear|clearly|well[- ](?:specified|defined)|straightforward"
        r"|explicit(?:ly)?|sensible interpretation|easy to",
        -6,
        -12,
    ),
    Signal(
        "ambiguity",
        r"unclear|not clear|vague|ambigu\w*|blanks?|unspecified|not specified"
        r"|impossible|not enough|lacks?|uncertain|open[- ]ended",
        5,
        15,
    ),
    Signal(
        "feature",
        r"feature|add(?:ing)? support|implement\w*|introduc\w+|new (?:option"
        r"|argument|parameter|flag|method|function|class|command|endpoint|api)",
        6,
        18,
    ),
    Signal(
        "scope",
        r"multiple|several|across|refactor\w*|architecture|redesign|overhaul"
        r"|rewrite|entire|end[- ]to[- ]end|framework|subsystem|modules",
        7,
        21,
    ),
    Signal(
        "risk",
        r"security|vulnerab\w*|auth\w*|payments?|billing|production|data loss"
        r"|corrupt\w*|encrypt\w*|credential\w*|breach|privacy|gdpr",
        12,
        36,
    ),
    Signal(
        "concurrency",
        r"thread\w*|concurren\w*|race condition|async\w*|deadlock|parallel"
        r"|distributed|lock(?:ing)?",
        6,
        12,
    ),
    Signal(
        "compatibility",
        r"backward\w*|compatib\w*|deprecat\w*|breaking change|migrat\w*"
        r"|upgrade|schema",
        6,
        18,
    ),
    Signal(
        "tests_requested",
        r"with tests|add(?:ing)? tests?|test coverage|unit tests?"
        r"|integration tests?",
        4,
        8,
    ),
)
COMPILED_SIGNALS = tuple((s, re.compile(rf"\b(?:{s.pattern})\b", re.IGNORECASE)) for s in SIGNALS)
# A risk phrase this strong makes a task critical whatever else it says.
CRITICAL = re.compile(
    r"\b(?:security (?:fix|hole|issue)|vulnerability|data loss|breach|production (?:outage|incident"
    r"|issue|bug)|payment processing)\b",
    re.IGNORECASE,
)


def top_level_dirs(files: Sequence[str]) -> set[str]:
    """Distinct top-level directories of the declared files (a file at the root counts as '.')."""
    parts = (PurePosixPath(f.replace("\\", "/")).parts for f in files)
    return {p[0] if len(p) > 1 else "." for p in parts if p}
