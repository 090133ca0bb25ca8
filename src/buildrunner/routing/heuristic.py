"""The heuristic complexity estimator: weighted word families from a table, plus length and files.

No dependencies and microseconds per task; the table itself lives in `estimator_base.SIGNALS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from buildrunner.routing.estimator_base import (
    COMPILED_SIGNALS,
    CRITICAL,
    LEVELS,
    Estimate,
    top_level_dirs,
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
        level = "critical" if critical else level_for(raw)
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


def level_for(score: float) -> str:
    """The level a heuristic score falls in (THRESHOLDS)."""
    for level, threshold in zip(LEVELS, THRESHOLDS, strict=False):
        if score < threshold:
            return level
    return LEVELS[-1]
