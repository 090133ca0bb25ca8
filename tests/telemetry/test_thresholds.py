"""Each built-in threshold fires once and resolves once, on real events in a real database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildrunner.config import TelemetrySettings, ThresholdSettings
from buildrunner.errors import ConfigError
from buildrunner.store.db import connect
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.alerts import AlertEngine
from buildrunner.telemetry.thresholds import (
    BUILTIN_THRESHOLDS,
    budget_usage_pct,
    period_start,
    thresholds_from_settings,
)

from .conftest import query, write_events

T0 = 1_700_000_000.0  # a Tuesday


def tasks(ok: int, failed: int, at: float, duration_ms: float = 1000.0) -> list[ev.Event]:
    made: list[ev.Event] = [
        ev.TaskCompleted(ts=at + i * 0.001, duration_ms=duration_ms) for i in range(ok)
    ]
    made += [
        ev.TaskFailed(ts=at + 0.5 + i * 0.001, duration_ms=duration_ms, error_type="exit_code")
        for i in range(failed)
    ]
    return made


def set_budget(db: Path, scope: str, usd: float) -> None:
    conn = connect(db)
    conn.execute(
        "INSERT OR REPLACE INTO budgets(scope, limit_micro_usd, hard, updated_at)"
        " VALUES (?, ?, 1, 0)",
        (scope, round(usd * 1e6)),
    )
    conn.close()


@dataclass
class Scenario:
    threshold: str
    breach: Callable[[Path], None]  # write what breaches the threshold at T0
    recover: Callable[[Path], float]  # make it recover; returns when to look again


def recover_by_ageing(db: Path) -> float:
    return T0 + 2 * 86400  # nothing left in any window


def more_successes(count: int, duration_ms: float = 1000.0) -> Callable[[Path], float]:
    def recover(db: Path) -> float:
        write_events(db, tasks(count, 0, T0 + 10, duration_ms))
        return T0 + 20

    return recover


def raise_budget(db: Path) -> float:
    set_budget(db, "daily", 100)
    return T0 + 20


def spend_90_percent_of_daily_budget(db: Path) -> None:
    set_budget(db, "daily", 1.0)
    write_events(db, [ev.ModelCallCompleted(ts=T0 - 60, model="haiku", cost_usd=0.9)])


SCENARIOS = [
    Scenario(
        "low_success_rate", lambda db: write_events(db, tasks(3, 2, T0 - 60)), more_successes(30)
    ),
    Scenario(
        "critical_success_rate",
        lambda db: write_events(db, tasks(1, 5, T0 - 60)),
        recover_by_ageing,
    ),
    Scenario(
        "high_error_rate", lambda db: write_events(db, tasks(17, 3, T0 - 60)), more_successes(40)
    ),
    Scenario(
        "critical_error_rate", lambda db: write_events(db, tasks(7, 3, T0 - 60)), more_successes(40)
    ),
    Scenario(
        "high_latency",
        lambda db: write_events(db, tasks(6, 0, T0 - 60, 400_000)),
        more_successes(200, 10.0),
    ),
    Scenario(
        "hourly_cost",
        lambda db: write_events(
            db, [ev.ModelCallCompleted(ts=T0 - 60, model="opus", cost_usd=2.5)]
        ),
        recover_by_ageing,
    ),
    Scenario(
        "daily_cost_limit",
        lambda db: write_events(
            db, [ev.ModelCallCompleted(ts=T0 - 7200, model="opus", cost_usd=10.5)]
        ),
        recover_by_ageing,
    ),
    Scenario("budget_usage", spend_90_percent_of_daily_budget, raise_budget),
    Scenario(
        "consecutive_failures", lambda db: write_events(db, tasks(1, 3, T0 - 60)), more_successes(1)
    ),
    Scenario(
        "workers_offline",
        lambda db: write_events(
            db, [ev.WorkerOffline(ts=T0 - 60, worker_id="w1", reason="no heartbeat")]
        ),
        recover_by_ageing,
    ),
    Scenario(
        "security_violations",
        lambda db: write_events(
            db,
            [ev.SecurityViolation(ts=T0 - 60, path="a.py", rule_id="aws-key", severity="critical")],
        ),
        recover_by_ageing,
    ),
]


def only(name: str, **override: object) -> TelemetrySettings:
    """Settings where every threshold but `name` is disabled."""
    thresholds = {
        t.name: ThresholdSettings(enabled=False) for t in BUILTIN_THRESHOLDS if t.name != name
    }
    thresholds[name] = ThresholdSettings(**override)  # type: ignore[arg-type]
    return TelemetrySettings(thresholds=thresholds)


def test_every_builtin_threshold_has_a_scenario() -> None:
    assert {s.threshold for s in SCENARIOS} == {t.name for t in BUILTIN_THRESHOLDS}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.threshold)
def test_threshold_fires_once_and_resolves_once(db_path: Path, scenario: Scenario) -> None:
    definition = next(t for t in BUILTIN_THRESHOLDS if t.name == scenario.threshold)
    engine = AlertEngine(db_path, only(scenario.threshold, for_s=0), tick_s=None)
    assert engine.evaluate(T0) == []  # nothing happened yet
    scenario.breach(db_path)
    fired = engine.evaluate(T0)
    assert [(c.threshold, c.status, c.level) for c in fired] == [
        (scenario.threshold, "firing", definition.level)
    ]
    assert engine.evaluate(T0 + 1) == []  # still breached: no second firing
    later = scenario.recover(db_path)
    resolved = engine.evaluate(later)
    assert [(c.threshold, c.status) for c in resolved] == [(scenario.threshold, "resolved")]
    assert engine.evaluate(later + 1) == []  # resolved once
    rows = query(db_path, "SELECT threshold, status, fired_at, resolved_at FROM alerts")
    assert [(r["threshold"], r["status"], r["fired_at"]) for r in rows] == [
        (scenario.threshold, "resolved", T0)
    ]
    assert rows[0]["resolved_at"] == later
    engine.close()


def test_for_duration_keeps_an_alert_pending_then_fires(db_path: Path) -> None:
    engine = AlertEngine(db_path, only("consecutive_failures", for_s=60), tick_s=None)
    write_events(db_path, tasks(0, 3, T0 - 10))
    assert engine.evaluate(T0) == []
    assert [r["status"] for r in query(db_path, "SELECT status FROM alerts")] == ["pending"]
    assert engine.evaluate(T0 + 59) == []
    fired = engine.evaluate(T0 + 60)
    assert [c.status for c in fired] == ["firing"]
    assert query(db_path, "SELECT pending_since, fired_at FROM alerts")[0][:] == (T0, T0 + 60)
    engine.close()


def test_pending_alert_that_recovers_never_fires(db_path: Path) -> None:
    engine = AlertEngine(db_path, only("consecutive_failures", for_s=60), tick_s=None)
    write_events(db_path, tasks(0, 3, T0 - 10))
    engine.evaluate(T0)
    write_events(db_path, tasks(1, 0, T0 + 5))
    assert engine.evaluate(T0 + 10) == []
    assert query(db_path, "SELECT COUNT(*) FROM alerts")[0][0] == 0
    engine.close()


def test_min_samples_prevent_alerts_on_tiny_numbers(db_path: Path) -> None:
    engine = AlertEngine(db_path, only("low_success_rate"), tick_s=None)
    write_events(db_path, tasks(0, 1, T0 - 10))  # 0 % of one attempt
    assert engine.evaluate(T0) == []
    engine.close()


def test_two_engines_on_one_database_fire_once(db_path: Path) -> None:
    settings = only("workers_offline")
    first = AlertEngine(db_path, settings, tick_s=None)
    second = AlertEngine(db_path, settings, tick_s=None)
    write_events(db_path, [ev.WorkerOffline(ts=T0 - 5, worker_id="w")])
    assert len(first.evaluate(T0)) == 1
    assert second.evaluate(T0 + 1) == []
    first.close()
    second.close()


def test_settings_override_disable_and_reject_unknown() -> None:
    settings = TelemetrySettings(
        thresholds={
            "high_latency": ThresholdSettings(value=1000, level="critical", for_s=5),
            "security_violations": ThresholdSettings(enabled=False),
        }
    )
    active = {t.name: t for t in thresholds_from_settings(settings)}
    assert "security_violations" not in active
    assert (
        active["high_latency"].value,
        active["high_latency"].level,
        active["high_latency"].for_s,
    ) == (1000, "critical", 5)
    assert active["low_success_rate"].value == 80
    with pytest.raises(ConfigError, match="unknown threshold 'nope'"):
        thresholds_from_settings(TelemetrySettings(thresholds={"nope": ThresholdSettings()}))


def test_budget_periods_and_session_budgets(db_path: Path) -> None:
    assert period_start("daily", T0) == 1699920000.0  # 2023-11-14 00:00 UTC
    assert period_start("weekly", T0) == 1699833600.0  # Monday 2023-11-13
    assert period_start("monthly", T0) == 1698796800.0  # 2023-11-01
    assert period_start("session", T0) is None
    conn = connect(db_path)
    assert budget_usage_pct(conn, T0) is None
    conn.execute(
        "INSERT INTO sessions(id, name, plan_json, status, created_at, budget_usd)"
        " VALUES ('s1', 'n', '{}', 'running', 0, '2.00')"
    )
    conn.close()
    write_events(db_path, [ev.ModelCallCompleted(ts=T0 - 10, session_id="s1", cost_usd=1.5)])
    conn = connect(db_path)
    assert budget_usage_pct(conn, T0) == 75.0
    conn.close()


def test_pause_on_critical_asks_running_sessions_to_pause(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute(
        "INSERT INTO sessions(id, name, plan_json, status, created_at)"
        " VALUES ('run1', 'n', '{}', 'running', 0), ('done1', 'n', '{}', 'completed', 0)"
    )
    conn.close()
    settings = only("security_violations")
    settings.pause_on_critical = True
    engine = AlertEngine(db_path, settings, tick_s=None)
    write_events(db_path, [ev.SecurityViolation(ts=T0 - 1, severity="critical")])
    engine.evaluate(T0)
    rows = query(db_path, "SELECT session_id, action FROM control_requests")
    assert [(r[0], r[1]) for r in rows] == [("run1", "pause")]
    engine.close()
