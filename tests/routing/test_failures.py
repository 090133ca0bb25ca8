"""Failure classification, the policy table, backoff, and the retry/fallback runner."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildrunner.routing.failures import (
    POLICIES,
    Failure,
    FailureType,
    ModelCallError,
    RetryConfig,
    backoff_delay,
    classify_status,
    classify_text,
    retry_after,
)
from buildrunner.routing.resilience import call_with_fallback, next_model_index


@pytest.mark.parametrize(
    ("status", "message", "error_type", "expected"),
    [
        (
            429,
            "Number of requests has exceeded your rate limit",
            "rate_limit_error",
            "rate_limited",
        ),
        (529, "Overloaded", "overloaded_error", "overloaded"),
        (529, "", None, "overloaded"),
        (500, "Internal server error", "api_error", "server_error"),
        (502, "bad gateway", None, "server_error"),
        (503, "unavailable", None, "server_error"),
        (504, "gateway timeout", None, "timeout"),
        (
            400,
            "prompt is too long: 210000 tokens > 200000 maximum",
            "invalid_request_error",
            "context_too_long",
        ),
        (
            400,
            "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000",
            "invalid_request_error",
            "context_too_long",
        ),
        (413, "request exceeds the model's maximum context length", None, "context_too_long"),
        (400, "messages: field required", "invalid_request_error", "invalid_request"),
        (401, "invalid x-api-key", "authentication_error", "auth"),
        (403, "no access to this model", "permission_error", "auth"),
        (404, "model: claude-nope", "not_found_error", "not_found"),
        (418, "teapot", None, "invalid_request"),
    ],
)
def test_classify_status(status: int, message: str, error_type: str | None, expected: str) -> None:
    assert classify_status(status, message, error_type=error_type).type == expected


def test_classify_status_keeps_retry_after_and_status() -> None:
    failure = classify_status(429, "slow down", headers={"Retry-After": "7"})
    assert (failure.status_code, failure.retry_after_s) == (429, 7.0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "-4"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}', "overloaded"),
        ("API Error: 429 rate_limit_error", "rate_limited"),
        ("Invalid API key · Please run /login", "auth"),
        ("Credit balance is too low", "auth"),
        ("Prompt is too long", "context_too_long"),
        ("Request timed out", "timeout"),
        ("API Error: 500 Internal server error", "server_error"),
        ("Connection error: ECONNREFUSED", "connection"),
        ("something odd happened", "unknown"),
    ],
)
def test_classify_text(text: str, expected: str) -> None:
    assert classify_text(text).type == expected


def test_every_failure_type_has_a_policy() -> None:
    assert set(POLICIES) == set(get_args(FailureType))


@pytest.mark.parametrize("kind", ["auth", "invalid_request"])
def test_auth_and_invalid_request_never_retry(kind: FailureType) -> None:
    policy = POLICIES[kind]
    assert (policy.retries, policy.last_resort_retries, policy.then) == (0, 0, "fail")


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    config = RetryConfig(base_delay_s=1.0, max_delay_s=8.0)
    failure = Failure("server_error", "x")
    low = [backoff_delay(n, failure, config, lambda: 0.0) for n in range(1, 7)]
    high = [backoff_delay(n, failure, config, lambda: 1.0) for n in range(1, 7)]
    assert low == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_waits_at_least_retry_after() -> None:
    failure = Failure("rate_limited", "x", 429, retry_after_s=12.0)
    assert backoff_delay(1, failure, RetryConfig(), lambda: 0.0) == 12.0
    assert 12.0 < backoff_delay(1, failure, RetryConfig(), lambda: 0.9) <= 13.0


# -- the runner, with scripted callables -----------------------------------------------------


class Script:
    """A callable that fails with the queued failures, then answers with the model name."""

    def __init__(self, *failures: Failure | None) -> None:
        self.queue = list(failures)
        self.calls: list[str] = []

    def __call__(self, model: str) -> str:
        self.calls.append(model)
        failure = self.queue.pop(0) if self.queue else None
        if failure is not None:
            raise ModelCallError(failure, model)
        return f"answer from {model}"


def run(
    script: Script, models: list[str], **options: Any
) -> tuple[Any, list[dict[str, Any]], list[float]]:
    events: list[dict[str, Any]] = []
    sleeps: list[float] = []
    answer = call_with_fallback(
        models, script, on_event=events.append, sleep=sleeps.append, rand=lambda: 0.5, **options
    )
    return answer, events, sleeps


RATE = Failure("rate_limited", "slow down", 429, retry_after_s=2.0)
OVERLOADED = Failure("overloaded", "Overloaded", 529)
AUTH = Failure("auth", "invalid x-api-key", 401)
SERVER = Failure("server_error", "boom", 500)
TOO_LONG = Failure("context_too_long", "prompt is too long", 400)


def test_rate_limit_then_success_is_one_retry_after_retry_after() -> None:
    script = Script(RATE)
    answer, events, sleeps = run(script, ["opus", "sonnet"])
    assert answer.value == "answer from opus"
    assert (answer.retries, answer.fallbacks) == (1, 0)
    assert script.calls == ["opus", "opus"]
    assert len(sleeps) == 1 and sleeps[0] >= 2.0
    retried = [e for e in events if e["type"] == "task_retried"]
    assert retried == [
        {
            "type": "task_retried",
            "model": "opus",
            "attempt": 1,
            "delay_s": sleeps[0],
            "reason": "rate_limited",
            "retry_after_s": 2.0,
        }
    ]


def test_overloaded_falls_back_without_waiting() -> None:
    script = Script(OVERLOADED)
    answer, events, sleeps = run(script, ["opus", "sonnet"])
    assert (answer.model, answer.index, answer.fallbacks) == ("sonnet", 1, 1)
    assert script.calls == ["opus", "sonnet"] and sleeps == []
    fallback = [e for e in events if e["type"] == "fallback_triggered"]
    assert fallback[0]["from_model"] == "opus" and fallback[0]["to_model"] == "sonnet"
    assert fallback[0]["reason"] == "overloaded"
    failed = [e for e in events if e["type"] == "model_call_failed"]
    assert failed[0]["error_type"] == "overloaded" and failed[0]["status_code"] == 529


def test_overloaded_last_model_retries_instead() -> None:
    script = Script(OVERLOADED, OVERLOADED)
    answer, _, sleeps = run(script, ["sonnet"])
    assert answer.retries == 2 and len(sleeps) == 2


def test_auth_fails_at_once_even_with_a_chain() -> None:
    script = Script(AUTH)
    with pytest.raises(ModelCallError) as raised:
        run(script, ["opus", "sonnet", "haiku"])
    assert raised.value.failure.type == "auth"
    assert script.calls == ["opus"]


def test_server_errors_retry_then_fall_back() -> None:
    script = Script(SERVER, SERVER, SERVER)
    answer, _, sleeps = run(script, ["opus", "sonnet"])
    assert script.calls == ["opus", "opus", "opus", "sonnet"]
    assert answer.model == "sonnet" and answer.retries == 2 and len(sleeps) == 2


def test_max_retries_caps_the_policy() -> None:
    script = Script(SERVER)
    answer, _, sleeps = run(script, ["opus", "sonnet"], config=RetryConfig(max_retries=0))
    assert script.calls == ["opus", "sonnet"] and answer.retries == 0 and sleeps == []


def test_too_long_retry_after_moves_on_instead_of_waiting() -> None:
    script = Script(Failure("rate_limited", "x", 429, retry_after_s=3600))
    answer, _, sleeps = run(script, ["opus", "sonnet"])
    assert answer.model == "sonnet" and sleeps == []


def test_context_too_long_falls_back_to_a_larger_window_only() -> None:
    windows = {"small": 100_000, "same": 100_000, "large": 1_000_000}
    script = Script(TOO_LONG)
    answer, _, _ = run(script, ["small", "same", "large"], context_windows=windows)
    assert script.calls == ["small", "large"] and answer.model == "large"


def test_context_too_long_without_window_data_fails() -> None:
    script = Script(TOO_LONG)
    with pytest.raises(ModelCallError):
        run(script, ["small", "large"])
    assert script.calls == ["small"]


def test_chain_exhausted_raises_the_last_failure() -> None:
    script = Script(OVERLOADED, Failure("not_found", "no such model", 404))
    with pytest.raises(ModelCallError) as raised:
        run(script, ["opus", "sonnet"])
    assert raised.value.failure.type == "not_found" and raised.value.model == "sonnet"


def test_duplicate_models_are_tried_once() -> None:
    script = Script(OVERLOADED)
    answer, _, _ = run(script, ["opus", "opus", "sonnet"])
    assert script.calls == ["opus", "sonnet"] and answer.index == 1


def test_next_model_index_follows_the_table() -> None:
    config = RetryConfig()
    assert next_model_index(["a", "b"], 0, AUTH, config, None) is None
    assert next_model_index(["a", "b"], 0, OVERLOADED, config, None) == 1
    assert next_model_index(["a", "b"], 1, OVERLOADED, config, None) is None


_FAILURES = st.sampled_from([RATE, OVERLOADED, AUTH, SERVER, TOO_LONG, None])


@settings(max_examples=200, deadline=None)
@given(st.lists(_FAILURES, max_size=12), st.integers(min_value=1, max_value=3))
def test_runner_obeys_the_table(failures: list[Failure | None], chain_length: int) -> None:
    """Whatever fails, the runner never calls more than the policy allows and never retries
    auth; it either answers or raises the failure that ended the chain."""
    models = [f"m{i}" for i in range(chain_length)]
    script = Script(*failures)
    config = RetryConfig()
    try:
        answer, _, _ = run(script, models, config=config)
    except ModelCallError as exc:
        assert exc.model in models
    else:
        assert answer.value == f"answer from {answer.model}"
    per_model_cap = max(max(p.retries, p.last_resort_retries) for p in POLICIES.values()) + 1
    assert len(script.calls) <= per_model_cap * chain_length
    positions = [models.index(model) for model in script.calls]
    assert positions == sorted(positions)  # the chain only moves forward
    for call_number, failure in enumerate(failures[: len(script.calls)]):
        if failure is AUTH:
            assert call_number == len(script.calls) - 1, "called again after an auth failure"
