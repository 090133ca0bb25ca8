"""Task complexity: four levels, a score and the signals behind it, from two estimators.

`heuristic` is a table of weighted signals (no dependencies, microseconds per task); `learned`
is a small linear model trained offline on labelled tasks (see `learned.py`). `auto` is the one
that measured better in cross-validation (benchmarks/routing_eval.py, docs/ROUTING.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any, Protocol

from buildrunner.errors import RoutingError

LEVELS = ("simple", "moderate", "complex", "critical")
ESTIMATOR_NAMES = ("auto", "heuristic", "learned")
# Chosen by 5-fold cross-validation on the labelled dev set (docs/ROUTING.md has the figures).
AUTO_ESTIMATOR = "learned"


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
BASE_SCORE = 30.0
WORDS_PER_POINT = 12.0  # longer descriptions usually mean more to do
MAX_LENGTH_POINTS = 15.0
POINTS_PER_FILE = 4.0
MAX_FILE_POINTS = 20.0
CROSS_MODULE_POINTS = 8.0
# Score thresholds: below the first is simple, then moderate, complex, critical.
THRESHOLDS = (37.0, 51.0, 75.0)


class HeuristicEstimator:
    """Weighted signals from a table: length, verbs, risk and scope words, declared files."""

    name = "heuristic"

    def estimate(self, text: str, files: Sequence[str] = ()) -> Estimate:
        contributions: dict[str, float] = {}
        matched: dict[str, list[str]] = {}
        for signal, regex in COMPILED_SIGNALS:
            hits = sorted({m.group(0).lower() for m in regex.finditer(text)})
            if hits:
                points = len(hits) * signal.weight
                points = max(points, signal.cap) if signal.weight < 0 else min(points, signal.cap)
                contributions[signal.name] = points
                matched[signal.name] = hits
        words = len(text.split())
        contributions["length"] = min(words / WORDS_PER_POINT, MAX_LENGTH_POINTS)
        if files:
            contributions["files"] = min(len(files) * POINTS_PER_FILE, MAX_FILE_POINTS)
        modules = top_level_dirs(files)
        if len(modules) > 1:
            contributions["cross_module"] = CROSS_MODULE_POINTS
        raw = BASE_SCORE + sum(contributions.values())
        critical = CRITICAL.search(text)
        level = "critical" if critical else _level_for(raw)
        score = round(min(max(raw, 0.0), 100.0), 1)
        signals: dict[str, Any] = {
            "words": words,
            "files": len(files),
            "modules": len(modules),
            "matched": matched,
            "points": {k: round(v, 1) for k, v in contributions.items()},
        }
        if critical:
            signals["critical_phrase"] = critical.group(0).lower()
        return Estimate(level, score, signals, self.name)


def _level_for(score: float) -> str:
    for level, threshold in zip(LEVELS, THRESHOLDS, strict=False):
        if score < threshold:
            return level
    return LEVELS[-1]


def top_level_dirs(files: Sequence[str]) -> set[str]:
    """Distinct top-level directories of the declared files (a file at the root counts as '.')."""
    parts = (PurePosixPath(f.replace("\\", "/")).parts for f in files)
    return {p[0] if len(p) > 1 else "." for p in parts if p}


@lru_cache(maxsize=4)
def get_estimator(name: str = "auto") -> Estimator:
    """The estimator called `name` (`auto` is the measured best); RoutingError if unknown."""
    if name == "auto":
        name = AUTO_ESTIMATOR
    if name == "heuristic":
        return HeuristicEstimator()
    if name == "learned":
        from buildrunner.routing.learned import LearnedEstimator

        return LearnedEstimator.load()
    raise RoutingError(f"unknown estimator '{name}' (choose from {', '.join(ESTIMATOR_NAMES)})")


def estimate_complexity(
    text: str, files: Sequence[str] | None = None, estimator: str = "auto"
) -> Estimate:
    """Estimate how hard a task is from its description and declared files."""
    return get_estimator(estimator).estimate(text, tuple(files or ()))
