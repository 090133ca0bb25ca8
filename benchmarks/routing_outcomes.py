"""Routing judged by outcomes: routing policies simulated on real tasks with known outcomes per model.

    .venv/bin/python benchmarks/routing_outcomes.py [--data PATH] [--folds 5] [--repeats 3]
        [--quick] [--no-command] [--no-peer] [--json]

Each dev task (routing-dev.jsonl, 155 rows with outcomes) says which models resolved it; the
outcome stands in for a correct check. A policy picks one model per task (no checks) or a ladder
(checks: climb until a rung resolves the task; every rung tried is paid for). Printed per line-up
(list prices with equal tokens; the `mini` agent's measured costs): resolve rate, cost relative to
always-Opus, and the hull gap: resolve minus the best random mix of fixed models at the same cost.

Anything learned from the dev rows (the outcome prior) is cross-validated: k-fold, the prior
counted on the training folds only, the selector (`select_ladder`, the function behind
`br routing select --from-file`) run on the test fold. The rows marked "in-sample" run the real
command with the shipped prior, which was counted on all dev rows (optimistic). Then the routing
decision's overhead per task, beside LiteLLM's router (installed in a throwaway venv).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from routing_data import DEFAULT_DATA, LINEUPS, Lineup, cost, load_rows, resolved  # noqa: E402
from routing_prior import build_prior  # noqa: E402

from buildrunner.routing.catalog import Catalog, parse_catalog  # noqa: E402
from buildrunner.routing.complexity import estimate_complexity  # noqa: E402
from buildrunner.routing.estimator_base import LEVELS, Estimate  # noqa: E402
from buildrunner.routing.history import OutcomeCell, OutcomeStats  # noqa: E402
from buildrunner.routing.ladder import select_ladder  # noqa: E402
from buildrunner.routing.policy import PolicySettings, load_policy  # noqa: E402
from buildrunner.routing.prior import OutcomePrior  # noqa: E402
from buildrunner.routing.training import stratified_folds  # noqa: E402

Row = Mapping[str, Any]
Policy = Callable[[Row], Sequence[str]]  # a task -> the models it tries, in order
OLD_MAP = {"simple": "fast", "moderate": "balanced", "complex": "advanced", "critical": "advanced"}
NEW_MAP = {
    "simple": "balanced",
    "moderate": "balanced",
    "complex": "advanced",
    "critical": "advanced",
}


@dataclass(frozen=True)
class Result:
    name: str
    resolve: float
    cost: float  # relative to always-Opus
    hull_gap: float | None = None
    note: str = ""


def simulate(rows: Sequence[Row], lineup: Lineup, policy: Policy) -> tuple[float, float]:
    """(resolve rate, total cost): each task climbs its models until one resolves it."""
    solved, spent = 0, 0.0
    for row in rows:
        for model in policy(row):
            spent += cost(row, lineup, model)
            if resolved(row, lineup, model):
                solved += 1
                break
    return solved / len(rows), spent


def hull(points: Sequence[tuple[float, float]], at: float) -> float | None:
    """Best resolve of a random mix of fixed models costing `at` (upper concave hull)."""
    points = sorted(points)
    if at < points[0][0] - 1e-12:
        return None
    best = max(r for c, r in points if c <= at + 1e-12)
    for c1, r1 in points:
        for c2, r2 in points:
            if c1 < at < c2:
                best = max(best, r1 + (r2 - r1) * (at - c1) / (c2 - c1))
    return best


def lineup_catalog(lineup: Lineup) -> Catalog:
    """A catalog whose tiers are the line-up's models at their prices (ids = the data's keys)."""
    tiers = [t for t in ("fast", "balanced", "advanced") if t in lineup.tiers]
    text = f"tiers = {json.dumps(tiers)}\n[levels]\n" + "".join(
        f'{level} = "{NEW_MAP[level] if NEW_MAP[level] in tiers else tiers[-1]}"\n'
        for level in LEVELS
    )
    for tier, model in lineup.tiers.items():
        inp, out = lineup.prices[model]
        text += (f'[[models]]\nid = "{model}"\ntier = "{tier}"\ninput_per_mtok = "{inp}"\n'
                 f'output_per_mtok = "{out}"\n')  # fmt: skip
    return parse_catalog(text, f"line-up {lineup.name}")


class Selector:
    """The real selector on one line-up, with a prior counted on training rows."""

    def __init__(self, lineup: Lineup, estimates: Mapping[str, Estimate]) -> None:
        self.lineup = lineup
        self.catalog = lineup_catalog(lineup)
        self.estimates = estimates

    def policy(self, prior: OutcomePrior, *, has_checks: bool, policy: PolicySettings,
               stats: Callable[[], OutcomeStats | None] = lambda: None) -> Policy:  # fmt: skip
        def route(row: Row) -> list[str]:
            choice = select_ladder(
                row["text"], files=row["files"], has_checks=has_checks, catalog=self.catalog,
                estimate=self.estimates[row["id"]], prior=prior, policy=policy, stats=stats(),
            )  # fmt: skip
            return choice.models

        return route


def cross_validated(rows: Sequence[Row], lineup: Lineup, selector: Selector, *, has_checks: bool,
                    policy: PolicySettings, folds: int, repeats: int,
                    online: bool = False) -> tuple[float, float]:  # fmt: skip
    """Mean (resolve, cost) over repeats of k-fold: prior from the training folds only. `online`
    also feeds each test task's rung outcomes to the next ones as project history."""
    labels = [LEVELS.index(row["level"]) for row in rows]
    results = []
    for repeat in range(repeats):
        solved, spent = 0.0, 0.0
        for test in stratified_folds(labels, folds, seed=200 + repeat):
            test_set = set(int(i) for i in test)
            train = [row for i, row in enumerate(rows) if i not in test_set]
            prior = replace(build_prior(train, lineup), level_pools=policy.level_pools,
                            shrink=policy.shrink)  # fmt: skip
            history = History(selector.estimates)
            route = selector.policy(prior, has_checks=has_checks, policy=policy,
                                    stats=history.stats if online else lambda: None)  # fmt: skip
            test_rows = [rows[i] for i in sorted(test_set)]
            for row in test_rows:
                models = route(row)
                fold_solved, fold_spent = simulate([row], lineup, lambda _r, m=models: m)
                solved += fold_solved
                spent += fold_spent
                history.add(row, lineup, models)
        results.append((solved / len(rows), spent))
    return statistics.mean(r for r, _ in results), statistics.mean(c for _, c in results)


class History:
    """In-memory project history for the online simulation (what record_rung would store)."""

    def __init__(self, estimates: Mapping[str, Estimate]) -> None:
        self.estimates = estimates
        self.counts: dict[tuple[str, str, bool], list[int]] = {}

    def add(self, row: Row, lineup: Lineup, models: Sequence[str]) -> None:
        level = self.estimates[row["id"]].level
        for rung, model in enumerate(models):
            ok = resolved(row, lineup, model)
            cell = self.counts.setdefault((level, model, rung > 0), [0, 0])
            cell[0] += 1
            cell[1] += int(ok)
            if ok:
                break

    def stats(self) -> OutcomeStats:
        return OutcomeStats(tuple(
            OutcomeCell(level, model, escalated, n, k, k, 0, Decimal(0))
            for (level, model, escalated), (n, k) in self.counts.items()
        ))  # fmt: skip


@lru_cache(maxsize=64)
def tier_of_catalog_model(model: str) -> str:
    """The shipped catalog's tier of a model id the real command printed."""
    from buildrunner.routing.catalog import load_catalog

    return load_catalog().get(model).tier


def real_command(rows: Sequence[Row], *, has_checks: bool) -> dict[str, list[str]] | None:
    """`br routing select --from-file` on every row (shipped catalog and prior): id -> models."""
    with tempfile.TemporaryDirectory() as tmp:
        tasks = Path(tmp) / "tasks.jsonl"
        tasks.write_text("".join(
            json.dumps({"id": r["id"], "text": r["text"], "files": r["files"],
                        **({"checks": ["pytest -q"]} if has_checks else {})}) + "\n"
            for r in rows
        ), encoding="utf-8")  # fmt: skip
        env = {"BR_PROJECT_DIR": tmp, "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-m", "buildrunner", "routing", "select", "--from-file", str(tasks),
             "--json"], capture_output=True, text=True, env=env, cwd=tmp,
        )  # fmt: skip
        if done.returncode != 0:
            print(f"note: the real command failed: {done.stderr.strip()}", file=sys.stderr)
            return None
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        return {line["id"]: line["ladder"] for line in lines}


PEER_TIERS = {
    "SIMPLE": "fast",
    "MEDIUM": "balanced",
    "COMPLEX": "advanced",
    "REASONING": "advanced",
}


def lineup_results(rows: Sequence[Row], lineup: Lineup, estimates: Mapping[str, Estimate],
                   args: argparse.Namespace, command: Mapping[str, Any],
                   peer: Mapping[str, Any] | None) -> list[Result]:  # fmt: skip
    tiers = lineup.tiers
    top = tiers["advanced"]
    _, opus_cost = simulate(rows, lineup, lambda r: [top])
    fixed = {
        m: simulate(rows, lineup, lambda r, m=m: [m]) for m in (*tiers.values(), *lineup.extra)
    }
    points = [(c / opus_cost, r) for r, c in fixed.values()]
    out: list[Result] = []

    def add(name: str, figures: tuple[float, float], note: str = "", gap: bool = True) -> None:
        resolve, spent = figures
        relative = spent / opus_cost
        reference = hull(points, relative) if gap else None
        out.append(Result(name, resolve, relative,
                          None if reference is None else resolve - reference, note))  # fmt: skip

    def tier(name: str) -> str:
        return tiers.get(name) or tiers["balanced"]  # the mini line-up has no fast tier

    for model, figures in fixed.items():
        add(f"always {model}", figures)
    true_level = {r["id"]: r["level"] for r in rows}
    for label, mapping in (("old level map", OLD_MAP), ("new default map", NEW_MAP)):
        for source, levels in (("estimated", {k: e.level for k, e in estimates.items()}),
                               ("true", true_level)):  # fmt: skip
            add(
                f"{label}, {source} levels",
                simulate(rows, lineup, lambda r, lv=levels, mp=mapping: [tier(mp[lv[r["id"]]])]),
            )
    if peer is not None:
        peer_tiers = peer["tiers"]
        add(
            "LiteLLM complexity router (its tiers -> ours)",
            simulate(rows, lineup, lambda r: [tier(PEER_TIERS[peer_tiers[r["id"]]])]),
            "peer",
        )
    selector = Selector(lineup, estimates)
    policy = load_policy()
    cv = {"folds": args.folds, "repeats": args.repeats}
    add(
        "selector, no checks (CV)",
        cross_validated(rows, lineup, selector, has_checks=False, policy=policy, **cv),
    )
    for name, models in command.items():

        def mapped(row: Row, models: Mapping[str, list[str]] = models) -> list[str]:
            # a rung on a tier the line-up lacks (Haiku, for `mini`) cannot be simulated: skipped
            tiers_tried = [tier_of_catalog_model(m) for m in models[row["id"]]]
            kept = [tiers[t] for t in tiers_tried if t in tiers]
            return kept or [tier(tiers_tried[-1])]

        add(name, simulate(rows, lineup, mapped), "in-sample", gap=name.endswith("no checks"))
    ladder = " -> ".join(m for t, m in tiers.items() if t != "advanced")
    add(
        f"fixed ladder {ladder}",
        simulate(rows, lineup, lambda r: [m for t, m in tiers.items() if t != "advanced"]),
        gap=False,
    )
    add(
        f"fixed ladder {' -> '.join(tiers.values())}",
        simulate(rows, lineup, lambda r: list(tiers.values())),
        gap=False,
    )
    for value in sorted({policy.value_of_resolve, *args.values}):
        chosen = replace(policy, value_of_resolve=value)
        default = " (default)" if value == policy.value_of_resolve else ""
        add(
            f"selector ladder, checks, V={value:g}{default} (CV)",
            cross_validated(rows, lineup, selector, has_checks=True, policy=chosen, **cv),
            gap=False,
        )
    add(
        "selector ladder + online project history (CV)",
        cross_validated(rows, lineup, selector, has_checks=True, policy=policy, online=True, **cv),
        gap=False,
    )
    ordered = list(tiers.values())
    oracle = (sum(any(resolved(r, lineup, m) for m in ordered) for r in rows) / len(rows),
              sum(cost(r, lineup, next((m for m in ordered if resolved(r, lineup, m)), top))
                  for r in rows))  # fmt: skip
    add("one-model oracle (cheapest that resolves, else top)", oracle, gap=False)
    return out


def overhead(rows: Sequence[Row], quick: bool) -> dict[str, float]:
    """ms per task of the whole routing decision (estimate + ladder), as `select` makes it: wall
    time and this process's CPU time (the machine may be shared: CPU time is the stable one)."""
    from buildrunner.routing.catalog import load_catalog

    catalog = load_catalog()
    select_ladder("warm up", catalog=catalog)  # loads the estimator, prior and policy once
    wall, cpu = [], []
    for row in rows[: 40 if quick else len(rows)]:
        for checks in (False, True):
            started, used = time.perf_counter(), time.process_time()
            select_ladder(row["text"], files=row["files"], has_checks=checks, catalog=catalog)
            cpu.append((time.process_time() - used) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(wall), "cpu_median_ms": statistics.median(cpu),
            "p95_ms": sorted(wall)[int(0.95 * len(wall))]}  # fmt: skip


LITELLM_SCRIPT = r"""
import json, logging, statistics, sys, time
from unittest.mock import MagicMock
logging.disable(logging.WARNING)
from litellm import Router
from litellm.router_strategy.complexity_router.complexity_router import ComplexityRouter
texts = json.loads(sys.stdin.read())
models = ["claude-haiku-4-5-20251001", "claude-sonnet-4-6", "claude-opus-4-6"]
router = Router(model_list=[
    {"model_name": "claude", "litellm_params": {"model": "anthropic/" + m, "api_key": "sk-x"}}
    for m in models], routing_strategy="simple-shuffle")
complexity = ComplexityRouter(model_name="bench", ctx=MagicMock())
messages = lambda t: [{"role": "user", "content": t}]
def timed(call):
    call("warm up")
    wall, cpu, out = [], [], []
    for text in texts:
        w, c = time.perf_counter(), time.process_time()
        out.append(call(text))
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return {"median_ms": statistics.median(wall), "cpu_median_ms": statistics.median(cpu),
            "p95_ms": sorted(wall)[int(0.95 * len(wall))]}, out
shuffle, _ = timed(lambda t: router.get_available_deployment(model="claude", messages=messages(t)))
classify, tiers = timed(lambda t: complexity.classify(t)[0].value)
print(json.dumps({"shuffle": shuffle, "complexity": classify, "tiers": tiers}))
"""


def litellm_peer(rows: Sequence[Row]) -> dict[str, Any] | None:
    """LiteLLM in a throwaway venv: its complexity router's tier per task, and decision timings."""
    from _common import peer_python

    python = peer_python("litellm", ["litellm"])
    if python is None:
        return None
    done = subprocess.run([str(python), "-c", LITELLM_SCRIPT],
                          input=json.dumps([r["text"] for r in rows]),
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        print(f"note: LiteLLM failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["tiers"] = {r["id"]: tier for r, tier in zip(rows, result["tiers"], strict=True)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--values",
        type=float,
        nargs="*",
        default=[2.0, 5.0, 8.0],
        help="other value_of_resolve settings to show (sensitivity)",
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, 40 tasks timed")
    parser.add_argument("--no-command", action="store_true", help="skip the real command rows")
    parser.add_argument("--no-peer", action="store_true", help="skip LiteLLM")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    rows = load_rows(args.data)
    estimates = {r["id"]: estimate_complexity(r["text"], r["files"]) for r in rows}
    command: dict[str, Any] = {}
    if not args.no_command:
        for checks in (False, True):
            ladders = real_command(rows, has_checks=checks)
            if ladders is not None:
                command[f"select --from-file, shipped, {'checks' if checks else 'no checks'}"] = (
                    ladders
                )
    peer = None if args.no_peer else litellm_peer(rows)
    report: dict[str, Any] = {"rows": len(rows), "folds": args.folds, "repeats": args.repeats,
                              "lineups": {}}  # fmt: skip
    for lineup in LINEUPS:
        results = lineup_results(rows, lineup, estimates, args, command, peer)
        report["lineups"][lineup.name] = [r.__dict__ for r in results]
        if not args.json:
            print_lineup(lineup, results, len(rows), args)
    ours = overhead(rows, args.quick)
    timings = {"ours (estimate + ladder)": ours}
    if peer is not None:
        timings["LiteLLM ComplexityRouter.classify"] = peer["complexity"]
        timings["LiteLLM Router.get_available_deployment"] = peer["shuffle"]
    report["overhead"] = timings
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\nrouting decision overhead per task (in process, dev task texts):")
    for name, figures in timings.items():
        print(
            f"  {name:42} median {figures['median_ms']:6.2f} ms wall, "
            f"{figures['cpu_median_ms']:6.2f} ms CPU; p95 {figures['p95_ms']:6.2f} ms wall"
        )
    if peer is None:
        print("  LiteLLM: not measured (could not install or run it here)")
    return 0


def print_lineup(lineup: Lineup, results: Sequence[Result], n: int,
                 args: argparse.Namespace) -> None:  # fmt: skip
    print(f"\n== {lineup.name}: {n} tasks; CV = {args.repeats} x {args.folds}-fold ==")
    print(f"{'policy':58} {'resolve':>8} {'cost/Opus':>10} {'hull gap':>9}")
    for r in results:
        gap = "" if r.hull_gap is None else f"{r.hull_gap * 100:+.1f} pt"
        note = f"  ({r.note})" if r.note else ""
        print(f"{r.name:58} {r.resolve:>8.3f} {r.cost:>10.1%} {gap:>9}{note}")


if __name__ == "__main__":
    sys.exit(main())
