"""Alert delivery against a real HTTP server on 127.0.0.1: payloads, retries, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildrunner.config import NotifierSettings, TelemetrySettings, ThresholdSettings
from buildrunner.telemetry import events as ev
from buildrunner.telemetry.alerts import AlertEngine
from buildrunner.telemetry.collector import Collector
from buildrunner.telemetry.notifiers import (
    NotificationError,
    SlackNotifier,
    WebhookNotifier,
    notifiers_from_settings,
)
from buildrunner.telemetry.thresholds import BUILTIN_THRESHOLDS

from .conftest import query, write_events
from .http_receiver import http_receiver

ALERT = {
    "alert_id": 1,
    "threshold": "security_violations",
    "status": "firing",
    "level": "critical",
    "message": "security violations in the window: 1 > 0",
    "value": 1.0,
    "threshold_value": 0.0,
    "ts": 1_700_000_000.0,
}
T0 = 1_700_000_000.0


def no_sleep(seconds: float) -> None:
    pass


def only_security() -> dict[str, ThresholdSettings]:
    return {
        t.name: ThresholdSettings(enabled=False)
        for t in BUILTIN_THRESHOLDS
        if t.name != "security_violations"
    }


def test_generic_webhook_posts_the_alert_as_json() -> None:
    with http_receiver() as receiver:
        WebhookNotifier(receiver.url, sleep=no_sleep).send(ALERT)
    assert receiver.received == [{"source": "buildrunner", **ALERT}]


def test_slack_payload_has_text_and_coloured_attachment() -> None:
    with http_receiver() as receiver:
        SlackNotifier(receiver.url, sleep=no_sleep).send(ALERT)
    (body,) = receiver.received
    assert body["text"] == (
        "[CRITICAL] security_violations: security violations in the window: 1 &gt; 0"
    )
    assert body["attachments"][0]["color"] == "#D00000"
    with http_receiver() as receiver:
        SlackNotifier(receiver.url, sleep=no_sleep).send({**ALERT, "status": "resolved"})
    assert receiver.received[0]["text"].startswith("[RESOLVED]")


def test_slack_text_escapes_control_characters_of_its_markup() -> None:
    message = "cost <!channel> & <https://evil.example|click> > limit"
    with http_receiver() as receiver:
        SlackNotifier(receiver.url, sleep=no_sleep).send(
            {**ALERT, "message": message, "threshold_value": "<b>"}
        )
    (body,) = receiver.received
    assert body["text"] == (
        "[CRITICAL] security_violations: cost &lt;!channel&gt; &amp; "
        "&lt;https://evil.example|click&gt; &gt; limit"
    )
    assert body["attachments"][0]["fields"][1]["value"] == "&lt;b&gt;"
    assert "<" not in json.dumps(body) and ">" not in json.dumps(body)


def test_server_errors_are_retried_until_success() -> None:
    with http_receiver(statuses=[500, 503]) as receiver:
        WebhookNotifier(receiver.url, retries=3, sleep=no_sleep).send(ALERT)
    assert receiver.attempts == 3
    assert len(receiver.received) == 1


def test_retries_run_out_with_a_clear_error() -> None:
    with (
        http_receiver(statuses=[500, 500, 500]) as receiver,
        pytest.raises(NotificationError, match="HTTP 500"),
    ):
        WebhookNotifier(receiver.url, retries=2, sleep=no_sleep).send(ALERT)
    assert receiver.attempts == 3


def test_client_errors_are_not_retried() -> None:
    with (
        http_receiver(statuses=[404]) as receiver,
        pytest.raises(NotificationError, match="HTTP 404"),
    ):
        WebhookNotifier(receiver.url, retries=3, sleep=no_sleep).send(ALERT)
    assert receiver.attempts == 1


def test_timeout_and_unreachable_host_fail_without_leaking_the_path() -> None:
    with http_receiver(delay_s=1.0) as receiver, pytest.raises(NotificationError) as caught:
        WebhookNotifier(receiver.url, timeout_s=0.1, retries=1, sleep=no_sleep).send(ALERT)
    assert "/hook" not in str(caught.value)
    with http_receiver() as receiver:
        url = receiver.url
    with pytest.raises(NotificationError, match=r"cannot reach 127\.0\.0\.1"):
        WebhookNotifier(url, retries=1, sleep=no_sleep).send(ALERT)


def test_notifiers_from_settings() -> None:
    settings = TelemetrySettings(
        notifiers=[
            NotifierSettings(kind="slack", url="https://hooks.example/T/B/x", min_level="error"),
            NotifierSettings(url="http://127.0.0.1:9/x", retries=0, timeout_s=1),
        ]
    )
    slack, hook = notifiers_from_settings(settings)
    assert isinstance(slack, SlackNotifier) and slack.min_level == "error"
    assert type(hook) is WebhookNotifier and hook.retries == 0
    assert slack.name == "slack:hooks.example"


def test_engine_delivers_and_records_success(db_path: Path) -> None:
    with http_receiver() as receiver:
        settings = TelemetrySettings(thresholds=only_security())
        notifier = WebhookNotifier(receiver.url, min_level="warning", sleep=no_sleep)
        engine = AlertEngine(db_path, settings, [notifier], tick_s=None)
        write_events(db_path, [ev.SecurityViolation(ts=T0 - 1, severity="critical")])
        engine.evaluate(T0)
        engine.close()
    assert [body["threshold"] for body in receiver.received] == ["security_violations"]
    row = query(db_path, "SELECT delivered, delivery_error FROM alerts")[0]
    assert (row[0], row[1]) == (1, None)


def test_engine_records_delivery_failure_and_never_raises(db_path: Path) -> None:
    with http_receiver(statuses=[500, 500]) as receiver:
        settings = TelemetrySettings(thresholds=only_security())
        notifier = WebhookNotifier(receiver.url, retries=1, sleep=no_sleep)
        engine = AlertEngine(db_path, settings, [notifier], tick_s=None)
        write_events(db_path, [ev.SecurityViolation(ts=T0 - 1)])
        changes = engine.evaluate(T0)
        engine.close()
    assert [c.status for c in changes] == ["firing"]
    row = query(db_path, "SELECT delivered, delivery_error FROM alerts")[0]
    assert row[0] == 0 and "HTTP 500" in row[1]
    assert engine.delivery_errors == 1


def test_min_level_filters_what_is_sent(db_path: Path) -> None:
    with http_receiver() as receiver:
        thresholds = {
            t.name: ThresholdSettings(enabled=False)
            for t in BUILTIN_THRESHOLDS
            if t.name != "workers_offline"
        }  # a warning-level threshold
        settings = TelemetrySettings(thresholds=thresholds)
        notifier = WebhookNotifier(receiver.url, min_level="error", sleep=no_sleep)
        engine = AlertEngine(db_path, settings, [notifier], tick_s=None)
        write_events(db_path, [ev.WorkerOffline(ts=T0 - 1)])
        assert len(engine.evaluate(T0)) == 1
        engine.close()
    assert receiver.attempts == 0


def test_collector_listener_evaluates_and_records_alert_events(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=1000, flush_interval_s=3600, thresholds=only_security())
    with http_receiver() as receiver:
        collector = Collector(db_path, settings, background=False)
        engine = AlertEngine(
            db_path,
            settings,
            [WebhookNotifier(receiver.url, sleep=no_sleep)],
            tick_s=None,
            min_interval_s=0,
        )
        engine.attach(collector)
        collector.emit(ev.SecurityViolation(path="app.py", rule_id="aws-key"))
        collector.flush()  # persists, then the engine evaluates and emits alert_fired
        collector.close()
        engine.close()
    fired = query(db_path, "SELECT level, payload FROM events WHERE type = 'alert_fired'")
    assert len(fired) == 1 and fired[0]["level"] == "critical"
    assert len(receiver.received) == 1


def test_closing_the_collector_delivers_and_keeps_the_final_alert_events(db_path: Path) -> None:
    settings = TelemetrySettings(batch_size=1000, flush_interval_s=3600, thresholds=only_security())
    with http_receiver() as receiver:
        collector = Collector(db_path, settings)
        engine = AlertEngine(
            db_path, settings, [SlackNotifier(receiver.url, sleep=no_sleep)], min_interval_s=0
        )
        engine.attach(collector)
        collector.emit(ev.SecurityViolation(path="app.py", rule_id="aws-key"))
        collector.close()  # final flush -> evaluation -> alert event -> delivery -> engine closed
        assert len(receiver.received) == 1
    assert len(query(db_path, "SELECT 1 FROM events WHERE type = 'alert_fired'")) == 1
    assert engine._ticker is None
