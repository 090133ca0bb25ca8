"""Regenerate the outcome prior shipped in src/buildrunner/routing/data/outcome_prior.json.

    .venv/bin/python benchmarks/routing_prior.py [--data PATH] [--output PATH] [--print]

Counts, from the dev rows with outcomes, how often each tier resolved a task of each level and
scope (one declared file, or several), first or after cheaper tiers failed; the list-price line-up
stands in for the tiers (fast = Claude 3.5 Haiku, balanced = Claude 4 Sonnet, advanced = Claude 4
Opus, one run each of the same agent). Deterministic: the same data gives the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_data import DEFAULT_DATA, LIST, Lineup, load_rows, resolved  # noqa: E402

from buildrunner.routing.policy import load_policy  # noqa: E402
from buildrunner.routing.prior import DevOutcome, OutcomePrior, count_outcomes  # noqa: E402

DEFAULT_OUTPUT = ROOT / "src" / "buildrunner" / "routing" / "data" / "outcome_prior.json"


def outcomes(rows: Iterable[Mapping[str, Any]], lineup: Lineup) -> list[DevOutcome]:
    return [
        DevOutcome(row["level"], len(row["files"]),
                   {tier: resolved(row, lineup, model) for tier, model in lineup.tiers.items()})
        for row in rows
    ]  # fmt: skip


def build_prior(rows: Iterable[Mapping[str, Any]], lineup: Lineup = LIST) -> OutcomePrior:
    """The prior counted from `rows` (the whole dev set, or the training folds of a benchmark)."""
    policy = load_policy()
    tiers = tuple(lineup.tiers)
    cells = count_outcomes(outcomes(rows, lineup), tiers)
    source = (
        f"routing-dev.jsonl, {sum(1 for _ in rows) if isinstance(rows, list) else '?'} rows with"
        f" outcomes; " + ", ".join(f"{t} = {m}" for t, m in lineup.tiers.items())
    )
    return OutcomePrior(cells, tiers, policy.level_pools, policy.shrink, source)


def to_text(prior: OutcomePrior) -> str:
    """The prior as JSON with one cell a line (readable diffs when the data changes)."""
    data = prior.to_json()
    cells = ",\n".join("  " + json.dumps(cell) for cell in data.pop("cells"))
    head = json.dumps(data, indent=1)[:-2]
    return f'{head},\n "cells": [\n{cells}\n ]\n}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--print", action="store_true", help="print the rates, write nothing")
    args = parser.parse_args(argv)
    rows = load_rows(args.data)
    prior = build_prior(rows)
    if args.print:
        for level in ("simple", "moderate", "complex", "critical"):
            for scope in ("one-file", "multi-file"):
                rates = {t: prior.rate(level, scope, t) for t in prior.tiers}
                print(level, scope, {t: round(r, 3) for t, r in rates.items() if r is not None})
        return 0
    args.output.write_text(to_text(prior), encoding="utf-8")
    print(f"wrote {args.output} ({len(prior.cells)} cells from {len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
