"""Budget reservations against a real store, from one process and from many at once."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from buildrunner.build.budget import BudgetLedger, Refusal, Reservation
from buildrunner.parallel.plan import parse_plan
from buildrunner.parallel.sessions import create_session
from buildrunner.routing.costs import CostTracker
from buildrunner.store.db import Store, transaction

PLAN = parse_plan("name: p\ntasks:\n  - id: a\n    prompt: do a\n  - id: b\n    prompt: do b\n")


def _session(root: Path, budget: float | None = None) -> str:
    conn = Store(root).connect()
    try:
        return create_session(conn, PLAN, budget_usd=budget)
    finally:
        conn.close()


def test_a_session_budget_holds_calls_in_flight_and_spent_money(tmp_path: Path) -> None:
    session = _session(tmp_path, budget=0.02)
    conn = Store(tmp_path).connect()
    ledger = BudgetLedger(conn, session)
    first = ledger.reserve("a", 1, "m", Decimal("0.012"))
    assert isinstance(first, Reservation)
    refused = ledger.reserve("b", 1, "m", Decimal("0.009"))  # 0.012 reserved + 0.009 > 0.02
    assert isinstance(refused, Refusal) and refused.scope == "session"
    assert "session budget $0.02 reached" in refused.message
    assert refused.transient  # only the call in flight stands in the way: the asker waits
    # the first call cost less than its worst case: settled in the transaction of its cost
    with transaction(conn):
        CostTracker(conn).record(
            session, "a", "m", "anthropic", 10, 10, 0, 0, Decimal("0.004"), 1.0
        )
        ledger.settle(first.id)
    assert isinstance(ledger.reserve("b", 1, "m", Decimal("0.009")), Reservation)
    assert ledger.reserved() == Decimal("0.009")
    ledger.release_session()
    assert ledger.reserved() == 0


def test_project_budgets_count_every_session_and_task_limits_their_task(tmp_path: Path) -> None:
    one, two = _session(tmp_path), _session(tmp_path)
    conn = Store(tmp_path).connect()
    with transaction(conn):
        CostTracker(conn).set_budget("daily", Decimal("0.01"))
    first, second = BudgetLedger(conn, one), BudgetLedger(conn, two)
    assert isinstance(first.reserve("a", 1, "m", Decimal("0.006")), Reservation)
    refused = second.reserve("a", 1, "m", Decimal("0.005"))
    assert isinstance(refused, Refusal) and refused.scope == "daily"
    assert refused.reserved_usd == Decimal("0.006")
    task_limited = first.reserve("b", 1, "m", Decimal("0.003"), Decimal("0.002"))
    assert isinstance(task_limited, Refusal) and task_limited.scope == "task"


def test_a_dead_owner_leaves_no_reservation_behind(tmp_path: Path) -> None:
    session = _session(tmp_path, budget=0.01)
    script = (
        "import sys; from decimal import Decimal; from pathlib import Path\n"
        "from buildrunner.build.budget import BudgetLedger\n"
        "from buildrunner.store.db import Store\n"
        "conn = Store(Path(sys.argv[1])).connect()\n"
        "print(BudgetLedger(conn, sys.argv[2]).reserve('a', 1, 'm', Decimal('0.009')).id)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), session], check=True, capture_output=True
    )
    conn = Store(tmp_path).connect()
    assert conn.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0] == 1
    # its process is gone: the next reservation clears it and fits
    assert isinstance(
        BudgetLedger(conn, session).reserve("b", 1, "m", Decimal("0.009")), Reservation
    )
    assert conn.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0] == 1


def _reserve_many(
    root: str, session: str, task: str, out: multiprocessing.Queue, done: Any
) -> None:
    conn = Store(Path(root)).connect()
    ledger = BudgetLedger(conn, session)
    granted = 0
    for _ in range(40):
        if isinstance(ledger.reserve(task, 1, "m", Decimal("0.001")), Reservation):
            granted += 1
    out.put(granted)
    done.wait(120)  # stay alive: the reservations of a process that is gone are cleared


def test_processes_reserving_at_once_never_exceed_the_budget(tmp_path: Path) -> None:
    session = _session(tmp_path, budget=0.025)
    context = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = context.Queue()
    done = context.Event()
    workers = [
        context.Process(target=_reserve_many, args=(str(tmp_path), session, f"t{i}", out, done))
        for i in range(8)
    ]
    for worker in workers:
        worker.start()
    granted = sum(out.get(timeout=120) for _ in workers)
    done.set()
    for worker in workers:
        worker.join(timeout=60)
    assert granted == 25  # exactly what the budget holds, though 8 processes asked 320 times
