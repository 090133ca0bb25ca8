"""The outcome data set behind routing (`routing-dev.jsonl`) and its two model line-ups.

Shared by benchmarks/routing_prior.py (writes the shipped prior) and benchmarks/routing_outcomes.py
(simulates routing policies). README beside the data: /work/shared/data/README.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routing-dev.jsonl"
TIERS = ("fast", "balanced", "advanced")


@dataclass(frozen=True)
class Lineup:
    """Models of one agent harness standing in for the catalog's tiers, and how cost is counted."""

    name: str
    tiers: Mapping[str, str]  # tier -> model key in the data
    prices: Mapping[str, tuple[Decimal, Decimal]]  # model key -> (input, output) USD per MTok
    measured: bool  # True: per-task cost measured in the data; False: list price, equal tokens
    extra: tuple[str, ...] = ()  # other models of the line-up, shown as fixed-model rows


# List prices with equal tokens per task (the README): Haiku 3.5, Sonnet 4 and Opus 4 stand in for
# fast / balanced / advanced; Sonnet 3.5 and 3.7 (same price as Sonnet 4) are shown for reference.
LIST = Lineup(
    name="list prices, equal tokens (Haiku 3.5 / Sonnet 4 / Opus 4)",
    tiers={"fast": "haiku-3.5", "balanced": "sonnet-4", "advanced": "opus-4"},
    prices={
        "haiku-3.5": (Decimal("0.8"), Decimal("4")), "sonnet-3.5": (Decimal(3), Decimal(15)),
        "sonnet-3.7": (Decimal(3), Decimal(15)), "sonnet-4": (Decimal(3), Decimal(15)),
        "opus-4": (Decimal(15), Decimal(75)),
    },
    measured=False,
    extra=("sonnet-3.5", "sonnet-3.7"),
)  # fmt: skip
# The `mini` agent's measured costs: Sonnet 4.5 / Opus 4.5 (no Haiku in this harness) at today's
# prices; the 4-generation models are shown as fixed-model rows.
MINI = Lineup(
    name="measured cost, mini agent (Sonnet 4.5 / Opus 4.5)",
    tiers={"balanced": "sonnet-4.5", "advanced": "opus-4.5"},
    prices={
        "sonnet-4": (Decimal(3), Decimal(15)), "opus-4": (Decimal(15), Decimal(75)),
        "sonnet-4.5": (Decimal(3), Decimal(15)), "opus-4.5": (Decimal(5), Decimal(25)),
    },
    measured=True,
    extra=("sonnet-4", "opus-4"),
)  # fmt: skip
LINEUPS = (LIST, MINI)


def load_rows(path: Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    """The rows with per-model outcomes (the others carry no outcome)."""
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [row for row in rows if row.get("resolved") and row.get("mini")]


def resolved(row: Mapping[str, Any], lineup: Lineup, model: str) -> bool:
    if lineup.measured:
        return bool(row["mini"][model]["resolved"])
    return bool(row["resolved"][model])


def cost(row: Mapping[str, Any], lineup: Lineup, model: str) -> float:
    """USD of one run: measured, or the list input price (equal tokens: only ratios matter)."""
    if lineup.measured:
        return float(row["mini"][model]["cost"])
    return float(lineup.prices[model][0])
