"""Run one model call through the failure policy: retries (tenacity) and the fallback chain.

`call_with_fallback(models, call, ...)` tries `call(model)` on the first model; a failure is
classified (a `ModelCallError` carries its `Failure`), retried on the same model as the policy
allows, then the chain moves to the next model (for `context_too_long`, the next one with a larger
context window) or the call fails at once. Every failed attempt, retry and fallback is reported
through `on_event` (plain dicts, secrets masked) and logged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import tenacity

from buildrunner.routing.failures import Failure, ModelCallError, RetryConfig, backoff_delay, mask

log = logging.getLogger(__name__)

T = TypeVar("T")
EventSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Answered(Generic[T]):
    """The value of the call that succeeded and where in the chain it came from."""

    value: T
    model: str
    index: int  # position of `model` in the chain
    retries: int  # retries spent over the whole chain
    fallbacks: int


def unique_models(models: Sequence[str]) -> list[str]:
    """The chain without repeats (a model that failed is not tried twice)."""
    seen: set[str] = set()
    return [m for m in models if not (m in seen or seen.add(m))]  # type: ignore[func-returns-value]


def next_model_index(
    models: Sequence[str],
    index: int,
    failure: Failure,
    config: RetryConfig,
    context_windows: Mapping[str, int] | None,
) -> int | None:
    """Where the chain goes after `models[index]` failed for good, or None to give up."""
    then = config.policy(failure.type).then
    if then == "fail":
        return None
    if then == "fallback":
        return index + 1 if index + 1 < len(models) else None
    windows = context_windows or {}
    current = windows.get(models[index])
    if current is None:
        return None  # without knowing the window we cannot pick a larger one
    for later in range(index + 1, len(models)):
        if windows.get(models[later], 0) > current:
            return later
    return None


def call_with_fallback(
    models: Sequence[str],
    call: Callable[[str], T],
    *,
    config: RetryConfig | None = None,
    on_event: EventSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] | None = None,
    context_windows: Mapping[str, int] | None = None,
) -> Answered[T]:
    """Call the first model that answers; raise the last `ModelCallError` if none does."""
    chain = unique_models(models)
    if not chain:
        raise ValueError("no model to call")
    config = config or RetryConfig()
    emit = on_event or _discard
    rand = rand or random.random
    retries = 0
    fallbacks = 0
    index = 0
    while True:
        model = chain[index]
        attempts = _Attempts(chain, index, config, emit, clock, rand, context_windows)
        try:
            value = attempts.run(call, sleep)
        except ModelCallError as exc:
            retries += attempts.retries
            target = next_model_index(chain, index, exc.failure, config, context_windows)
            if target is None:
                raise
            reason = exc.failure.type
            log.warning("falling back from %s to %s after %s", model, chain[target], reason)
            emit(
                {
                    "type": "fallback_triggered",
                    "from_model": model,
                    "to_model": chain[target],
                    "reason": reason,
                    "error": mask(exc.failure.message),
                }
            )
            fallbacks += 1
            index = target
            continue
        retries += attempts.retries
        return Answered(value, model, index, retries, fallbacks)


class _Attempts:
    """The tenacity loop for one model of the chain."""

    def __init__(
        self,
        chain: Sequence[str],
        index: int,
        config: RetryConfig,
        emit: EventSink,
        clock: Callable[[], float],
        rand: Callable[[], float],
        context_windows: Mapping[str, int] | None,
    ) -> None:
        self.model = chain[index]
        self.chain = chain
        self.index = index
        self.config = config
        self.emit = emit
        self.clock = clock
        self.rand = rand
        self.context_windows = context_windows
        self.retries = 0
        self._started = 0.0

    def run(self, call: Callable[[str], T], sleep: Callable[[float], None]) -> T:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(ModelCallError),
            stop=self._stop,
            wait=self._wait,
            sleep=sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        result: T = retrying(self._timed, call)
        return result

    def _timed(self, call: Callable[[str], T]) -> T:
        self._started = self.clock()
        try:
            return call(self.model)
        except ModelCallError as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: ModelCallError) -> None:
        failure = exc.failure
        latency_ms = (self.clock() - self._started) * 1000.0
        log.warning("model call to %s failed: %s", self.model, failure.type)
        self.emit(
            {
                "type": "model_call_failed",
                "model": self.model,
                "error_type": failure.type,
                "error": mask(failure.message),
                "status_code": failure.status_code,
                "latency_ms": round(latency_ms, 3),
            }
        )

    @staticmethod
    def _failure(state: tenacity.RetryCallState) -> Failure:
        assert state.outcome is not None
        exc = state.outcome.exception()
        assert isinstance(exc, ModelCallError)
        failure: Failure = exc.failure
        return failure

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        failure = self._failure(state)
        has_fallback = (
            next_model_index(self.chain, self.index, failure, self.config, self.context_windows)
            is not None
        )
        allowed = self.config.allowed_retries(failure, has_fallback=has_fallback)
        return state.attempt_number > allowed

    def _wait(self, state: tenacity.RetryCallState) -> float:
        return backoff_delay(state.attempt_number, self._failure(state), self.config, self.rand)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        failure = self._failure(state)
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        self.retries += 1
        log.warning(
            "retrying %s in %.2fs (retry %d) after %s",
            self.model,
            delay,
            self.retries,
            failure.type,
        )
        self.emit(
            {
                "type": "task_retried",
                "model": self.model,
                "attempt": self.retries,
                "delay_s": round(delay, 3),
                "reason": failure.type,
                "retry_after_s": failure.retry_after_s,
            }
        )


def _discard(event: dict[str, Any]) -> None:
    return None
