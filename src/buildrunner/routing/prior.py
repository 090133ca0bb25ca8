"""What the outcome data says before a project has any history: how often each tier resolves a task
of a given level and scope, first or after cheaper tiers failed.

The shipped table `data/outcome_prior.json` holds counts (trials, resolved) from the dev set of real
tasks with known outcomes per model (`benchmarks/routing_prior.py` regenerates it). A cell is
(level, scope, tier, after): `scope` is `one-file` or `multi-file` (the task's declared files),
`after` the cheaper tiers that already failed on the task. Sparse cells borrow from their parents
(hierarchical shrinkage, `shrink` pseudo-observations): a cell leans on the product of its level's
and its scope's rates relative to the tier's overall rate, and those lean on the overall rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Any

from buildrunner.errors import RoutingError

PRIOR_FILE = "data/outcome_prior.json"
SCOPES = ("one-file", "multi-file")
ANY = "*"


def scope_of(files: Sequence[str]) -> str:
    """`multi-file` when a task declares two or more files, else `one-file`."""
    return "multi-file" if len(files) >= 2 else "one-file"


@dataclass(frozen=True)
class DevOutcome:
    """One task of an outcome data set: its level, declared files and which tiers resolved it."""

    level: str
    files: int
    resolved: Mapping[str, bool]


@dataclass(frozen=True)
class PriorCell:
    level: str
    scope: str
    tier: str
    after: tuple[str, ...]  # cheaper tiers that failed first, cheapest first; () = first rung
    trials: int
    resolved: int


@dataclass(frozen=True)
class OutcomePrior:
    """Counts per cell, and the rate of any cell with shrinkage towards its parents."""

    cells: tuple[PriorCell, ...]
    tiers: tuple[str, ...]  # the tiers the counts are about, cheapest first
    level_pools: Mapping[str, str] = field(default_factory=dict)  # e.g. critical -> complex
    shrink: float = 5.0
    source: str = ""
    _index: dict[tuple[str, tuple[str, ...]], dict[tuple[str, str], tuple[int, int]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _index(self.cells, self.level_pools))

    def rate(self, level: str, scope: str, tier: str, after: Sequence[str] = ()) -> float | None:
        """P(tier resolves the task | level, scope, the `after` tiers failed); None if unknown."""
        level = self.level_pools.get(level, level)
        key = (tier, tuple(after))
        total = self._sum(key, ANY, ANY)
        if total[0] == 0:
            return None
        overall = (total[1] + 1) / (total[0] + 2)
        by_level = self._shrunk(self._sum(key, level, ANY), overall)
        by_scope = self._shrunk(self._sum(key, ANY, scope), overall)
        parent = min(max(by_level * by_scope / overall, 0.001), 0.999)
        return self._shrunk(self._sum(key, level, scope), parent)

    def _shrunk(self, counts: tuple[int, int], parent: float) -> float:
        trials, resolved = counts
        return (resolved + self.shrink * parent) / (trials + self.shrink)

    def _sum(self, key: tuple[str, tuple[str, ...]], level: str, scope: str) -> tuple[int, int]:
        return self._index.get(key, {}).get((level, scope), (0, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1, "source": self.source, "tiers": list(self.tiers),
            "cells": [
                {"level": c.level, "scope": c.scope, "tier": c.tier, "after": list(c.after),
                 "trials": c.trials, "resolved": c.resolved}
                for c in self.cells
            ],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, level_pools: Mapping[str, str],
                  shrink: float) -> OutcomePrior:  # fmt: skip
        if data.get("format") != 1:
            raise RoutingError("unsupported outcome prior format")
        cells = tuple(
            PriorCell(str(c["level"]), str(c["scope"]), str(c["tier"]),
                      tuple(str(t) for t in c["after"]), int(c["trials"]), int(c["resolved"]))
            for c in data["cells"]
        )  # fmt: skip
        tiers = tuple(str(t) for t in data["tiers"])
        return cls(cells, tiers, dict(level_pools), shrink, str(data.get("source", "")))


def _index(
    cells: Iterable[PriorCell], level_pools: Mapping[str, str]
) -> dict[tuple[str, tuple[str, ...]], dict[tuple[str, str], tuple[int, int]]]:
    """Counts per (tier, after) and (level or *, scope or *), pooled levels merged."""
    out: dict[tuple[str, tuple[str, ...]], dict[tuple[str, str], tuple[int, int]]] = {}
    for cell in cells:
        level = level_pools.get(cell.level, cell.level)
        sums = out.setdefault((cell.tier, cell.after), {})
        for key in ((level, cell.scope), (level, ANY), (ANY, cell.scope), (ANY, ANY)):
            trials, resolved = sums.get(key, (0, 0))
            sums[key] = (trials + cell.trials, resolved + cell.resolved)
    return out


def count_outcomes(rows: Iterable[DevOutcome], tiers: Sequence[str]) -> tuple[PriorCell, ...]:
    """Cells counted from outcome rows: for every tier and every set of cheaper tiers that all
    failed on a row, one trial (resolved when the tier resolved the row)."""
    counts: dict[tuple[str, str, str, tuple[str, ...]], list[int]] = {}
    for row in rows:
        scope = "multi-file" if row.files >= 2 else "one-file"
        for index, tier in enumerate(tiers):
            cheaper = tiers[:index]
            for size in range(len(cheaper) + 1):
                for after in combinations(cheaper, size):
                    if any(row.resolved[t] for t in after):
                        continue
                    cell = counts.setdefault((row.level, scope, tier, after), [0, 0])
                    cell[0] += 1
                    cell[1] += int(row.resolved[tier])
    return tuple(
        PriorCell(*key, trials, resolved) for key, (trials, resolved) in sorted(counts.items())
    )


def load_prior(*, level_pools: Mapping[str, str], shrink: float,
               path: Path | None = None) -> OutcomePrior:  # fmt: skip
    """The shipped prior (or one from `path`); RoutingError if it cannot be read. Cached: the
    selector asks for it once per task."""
    return _load(tuple(sorted(level_pools.items())), shrink, None if path is None else str(path))


@lru_cache(maxsize=8)
def _load(
    level_pools: tuple[tuple[str, str], ...], shrink: float, path: str | None
) -> OutcomePrior:
    try:
        if path is None:
            text = resources.files("buildrunner.routing").joinpath(PRIOR_FILE).read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return OutcomePrior.from_json(
            json.loads(text), level_pools=dict(level_pools), shrink=shrink
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RoutingError(f"cannot load the outcome prior: {exc}") from None
