"""Review decisions in the store: asked by the build, decided from any terminal, read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from buildrunner.build.review import (
    ReviewError,
    decide,
    find_review,
    list_reviews,
    request_review,
    wait_for_decision,
)
from buildrunner.store.db import Store


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    conn = Store(tmp_path).connect()
    for session_id, created in (("old", 1.0), ("new", 2.0)):
        conn.execute(
            "INSERT INTO sessions(id, name, plan_json, status, created_at)"
            " VALUES (?, 'n', '{}', 'running', ?)",
            (session_id, created),
        )
    return conn


def test_asking_twice_while_waiting_changes_nothing(conn: sqlite3.Connection) -> None:
    first = request_review(conn, "new", "t", clock=lambda: 10.0)
    assert request_review(conn, "new", "t", clock=lambda: 20.0) == first
    assert (first.status, first.round, first.requested_at) == ("pending", 1, 10.0)


def test_the_build_waits_until_a_decision_and_a_timeout_leaves_it_pending(
    conn: sqlite3.Connection,
) -> None:
    request_review(conn, "new", "t")
    ticks = iter(range(100))
    slept: list[float] = []
    still = wait_for_decision(conn, "new", "t", 3, sleep=slept.append, clock=lambda: next(ticks))
    assert still.status == "pending" and slept == [0.5, 0.5]  # polled at t=1, 2; gave up at 3

    def decide_on_first_poll(seconds: float) -> None:
        decide(conn, "new", "t", "rejected", "wrong file")

    decided = wait_for_decision(conn, "new", "t", sleep=decide_on_first_poll)
    assert (decided.status, decided.reason) == ("rejected", "wrong file")


def test_decisions_are_checked_and_reasons_masked(conn: sqlite3.Connection) -> None:
    from tests.security.tokens import TokenFactory

    request_review(conn, "new", "t")
    with pytest.raises(ReviewError, match="one of approved, rejected, retry"):
        decide(conn, "new", "t", "maybe")
    with pytest.raises(ReviewError, match="needs a reason"):
        decide(conn, "new", "t", "retry")
    with pytest.raises(ReviewError, match="never sent for review"):
        decide(conn, "new", "other", "approved")
    token = TokenFactory(4).github()
    decided = decide(conn, "new", "t", "retry", f"do not commit {token}", decided_by="me@here")
    assert token not in (decided.reason or "") and decided.decided_by == "me@here"
    payload = conn.execute("SELECT payload FROM events WHERE type = 'review_decided'").fetchone()
    assert token not in payload[0]


def test_a_task_name_finds_the_newest_session_waiting_on_it(conn: sqlite3.Connection) -> None:
    request_review(conn, "old", "t")
    request_review(conn, "new", "t")
    decide(conn, "new", "t", "approved")
    assert find_review(conn, "t", None).session_id == "old"  # the one still waiting
    assert find_review(conn, "t", "new").status == "approved"
    assert [r.session_id for r in list_reviews(conn, status="pending")] == ["old"]
    with pytest.raises(ReviewError, match="no review of task 'x'"):
        find_review(conn, "x", None)
