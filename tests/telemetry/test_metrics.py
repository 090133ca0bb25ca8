"""Metrics in SQL checked against an independent computation over the same random events."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from buildrunner.store.db import connect
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.metrics import (
    consecutive_task_failures,
    cost_between,
    percentile,
    summarize,
)

from .conftest import write_events

NOW = 1_700_000_000.0
MODELS = ("haiku", "sonnet", "opus")


def random_events(count: int, seed: int = 7) -> list[ev.Event]:
    rng = random.Random(seed)
    made: list[ev.Event] = []
    for index in range(count):
        ts = NOW - rng.uniform(0, 7200)  # two hours: the 1-hour window sees about half
        session = f"s{index % 4}"
        roll = rng.random()
        if roll < 0.3:
            made.append(
                ev.TaskCompleted(
                    ts=ts,
                    session_id=session,
                    kind=rng.choice(["command", "agent"]),
                    duration_ms=rng.lognormvariate(6, 1.2),
                    exit_code=0,
                )
            )
        elif roll < 0.4:
            made.append(
                ev.TaskFailed(
                    ts=ts,
                    session_id=session,
                    kind="command",
                    duration_ms=rng.choice([None, rng.uniform(1, 900)]),
                    error_type=rng.choice(["exit_code", "timeout"]),
                )
            )
        elif roll < 0.7:
            made.append(
                ev.ModelCallCompleted(
                    ts=ts,
                    session_id=session,
                    model=rng.choice(MODELS),
                    input_tokens=rng.randint(1, 5000),
                    output_tokens=rng.randint(1, 900),
                    cost_usd=round(rng.uniform(0, 0.05), 6),
                    latency_ms=rng.uniform(100, 9000),
                )
            )
        elif roll < 0.75:
            made.append(
                ev.ModelCallFailed(
                    ts=ts,
                    session_id=session,
                    model=rng.choice(MODELS),
                    error_type="rate_limit",
                    latency_ms=rng.uniform(1, 50),
                )
            )
        elif roll < 0.8:
            made.append(ev.SecurityViolation(ts=ts, session_id=session, rule_id="aws-key"))
        else:
            made.append(ev.TaskStarted(ts=ts, session_id=session, kind="command"))
    return made


def in_window(events: list[ev.Event], since: float) -> list[ev.Event]:
    return [event for event in events if since <= event.ts < NOW]


@pytest.fixture
def stored(db_path: Path) -> list[ev.Event]:
    made = random_events(3000)
    write_events(db_path, made)
    return made


def test_percentile_matches_numpy() -> None:
    rng = random.Random(3)
    for size in (1, 2, 5, 101, 1000):
        values = sorted(rng.uniform(0, 100) for _ in range(size))
        for fraction in (0.5, 0.95, 0.99):
            expected = float(np.percentile(values, fraction * 100))
            assert percentile(values, fraction) == pytest.approx(expected)
    assert percentile([], 0.5) is None


def test_summary_totals_match_an_independent_count(db_path: Path, stored: list[ev.Event]) -> None:
    since = NOW - 3600
    window = in_window(stored, since)
    conn = connect(db_path)
    total = summarize(conn, since, NOW).total
    conn.close()
    types = Counter(event.type for event in window)
    assert total.events == len(window)
    assert total.tasks_succeeded == types["task_completed"]
    assert total.tasks_failed == types["task_failed"]
    assert total.task_attempts == types["task_completed"] + types["task_failed"]
    assert total.model_calls == types["model_call_completed"] + types["model_call_failed"]
    assert total.security_violations == types["security_violation"]
    assert total.task_success_rate == pytest.approx(
        100 * types["task_completed"] / total.task_attempts, abs=1e-3
    )
    failures = types["task_failed"] + types["model_call_failed"]
    assert total.error_rate == pytest.approx(
        100 * failures / (total.task_attempts + total.model_calls), abs=1e-3
    )
    costs = [event.cost_usd for event in window if isinstance(event, ev.ModelCallCompleted)]
    assert total.cost_usd == pytest.approx(sum(costs), abs=1e-6)
    assert total.input_tokens == sum(
        event.input_tokens for event in window if isinstance(event, ev.ModelCallCompleted)
    )
    durations = [
        event.duration_ms
        for event in window
        if isinstance(event, ev.TaskCompleted | ev.TaskFailed) and event.duration_ms is not None
    ]
    assert total.task_latency.count == len(durations)
    for fraction, got in (
        (50, total.task_latency.p50_ms),
        (95, total.task_latency.p95_ms),
        (99, total.task_latency.p99_ms),
    ):
        assert got == pytest.approx(float(np.percentile(durations, fraction)), abs=1e-3)
    assert total.task_latency.max_ms == max(durations)
    errors = Counter(
        f"task:{event.error_type}" for event in window if isinstance(event, ev.TaskFailed)
    )
    errors.update(
        f"model:{event.error_type}" for event in window if isinstance(event, ev.ModelCallFailed)
    )
    assert total.errors == dict(errors)


@pytest.mark.parametrize(
    "group_by, attribute", [("model", "model"), ("session", "session_id"), ("kind", "kind")]
)
def test_groups_partition_the_total(
    db_path: Path, stored: list[ev.Event], group_by: str, attribute: str
) -> None:
    since = NOW - 3600
    window = in_window(stored, since)
    conn = connect(db_path)
    summary = summarize(conn, since, NOW, group_by)  # type: ignore[arg-type]
    conn.close()
    assert sum(group.events for group in summary.groups) == summary.total.events
    assert sum(group.model_calls for group in summary.groups) == summary.total.model_calls
    assert sum(group.task_attempts for group in summary.groups) == summary.total.task_attempts

    def key_of(event: ev.Event) -> object:
        value = getattr(event, attribute, None)
        if attribute == "kind" and not isinstance(event, ev.TaskEvent):
            return None
        return value or None if attribute == "model" else value

    for group in summary.groups:
        members = [event for event in window if key_of(event) == group.key]
        assert group.events == len(members), group.key
        latencies = [
            event.latency_ms
            for event in members
            if isinstance(event, ev.ModelCallCompleted | ev.ModelCallFailed)
        ]
        if latencies:
            assert group.model_latency.p95_ms == pytest.approx(
                float(np.percentile(latencies, 95)), abs=1e-3
            )


def test_empty_window_has_no_rates(db_path: Path) -> None:
    conn = connect(db_path)
    summary = summarize(conn, NOW - 3600, NOW)
    conn.close()
    assert summary.total.events == 0
    assert summary.total.task_success_rate is None
    assert summary.total.error_rate is None
    assert summary.total.task_latency.p95_ms is None
    assert summary.to_dict()["window"]["hours"] == 1.0


def test_cost_between_and_consecutive_failures(db_path: Path) -> None:
    write_events(
        db_path,
        [
            ev.ModelCallCompleted(ts=NOW - 10, cost_usd=1.25),
            ev.ModelCallCompleted(ts=NOW - 5000, cost_usd=2.0),
            ev.TaskFailed(ts=NOW - 50),
            ev.TaskCompleted(ts=NOW - 40),
            ev.TaskFailed(ts=NOW - 30),
            ev.TaskFailed(ts=NOW - 20),
        ],
    )
    conn = connect(db_path)
    assert cost_between(conn, NOW - 3600, NOW) == pytest.approx(1.25)
    assert cost_between(conn, NOW - 9000, NOW) == pytest.approx(3.25)
    assert consecutive_task_failures(conn, NOW - 3600, NOW) == 2
    assert consecutive_task_failures(conn, NOW - 45, NOW) == 2
    assert consecutive_task_failures(conn, NOW - 60, NOW - 41) == 1
    conn.close()


def test_percentiles_without_the_rank_indexes_are_the_same(
    db_path: Path, stored: list[ev.Event]
) -> None:
    conn = connect(db_path)
    indexed = summarize(conn, NOW - 3600, NOW).total
    conn.execute("DROP INDEX events_task_durations")
    conn.execute("DROP INDEX events_model_latencies")
    fetched = summarize(conn, NOW - 3600, NOW).total
    conn.close()
    for name in ("task_latency", "model_latency"):
        one, other = getattr(indexed, name), getattr(fetched, name)
        assert one.count == other.count > 0
        for field_name in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms"):
            assert getattr(one, field_name) == pytest.approx(getattr(other, field_name), abs=1e-3)


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101])
def test_rank_percentiles_on_small_counts(db_path: Path, size: int) -> None:
    rng = random.Random(size)
    durations = [rng.uniform(1, 1000) for _ in range(size)]
    write_events(
        db_path,
        [ev.TaskCompleted(ts=NOW - 10 - i, duration_ms=value) for i, value in enumerate(durations)],
    )
    conn = connect(db_path)
    latency = summarize(conn, NOW - 3600, NOW).total.task_latency
    conn.close()
    for fraction, got in ((50, latency.p50_ms), (95, latency.p95_ms), (99, latency.p99_ms)):
        assert got == pytest.approx(float(np.percentile(durations, fraction)), abs=1e-3)


def test_rollups_stay_exact_through_deletes_and_match_raw_sums(
    db_path: Path, stored: list[ev.Event]
) -> None:
    conn = connect(db_path)
    since, until = NOW - 7000, NOW + 60
    with_rollups = summarize(conn, since, until, "model").to_dict()
    conn.execute("DELETE FROM events WHERE ts < ?", (NOW - 5000,))  # like a prune
    after_delete = summarize(conn, since, until).total
    window = [event for event in stored if NOW - 5000 <= event.ts < until]
    assert after_delete.events == len(window)
    assert after_delete.cost_usd == pytest.approx(
        sum(getattr(event, "cost_usd", 0) for event in window), abs=1e-6
    )
    for trigger in ("events_rollup_insert", "events_rollup_delete"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE event_rollups")  # an older schema: the raw path
    raw_only = summarize(conn, NOW - 5000, until).total
    assert raw_only.to_dict() == after_delete.to_dict()
    assert with_rollups["groups"]  # grouped path ran on rollups too
    conn.close()


def test_minute_aligned_windows_count_every_event_once(db_path: Path) -> None:
    minute = 28_333_000 * 60.0  # an exact minute boundary
    write_events(
        db_path,
        [
            ev.TaskCompleted(ts=minute + offset, duration_ms=1.0)
            for offset in (-60.0, -0.001, 0.0, 0.001, 59.999, 60.0, 3600.0)
        ],
    )
    conn = connect(db_path)
    assert summarize(conn, minute, minute + 3600).total.task_attempts == 4
    assert summarize(conn, minute - 60, minute + 3600.001).total.task_attempts == 7
    assert summarize(conn, minute + 0.0005, minute + 60).total.task_attempts == 2
    conn.close()
