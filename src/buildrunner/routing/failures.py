"""Model-call failures: classify an error into a failure type, and the policy table for each type.

The policy says what to do when a call fails: retry the same model (exponential backoff with jitter,
honouring `retry-after`), fall back to the next model in the chain, or fail at once. It is data (the
`POLICIES` table), read by `buildrunner.routing.resilience`, which runs the retries with tenacity.
This module imports no SDK, so it is cheap to import and usable by any provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

# defined in buildrunner.errors with every error class; re-exported here for callers
from buildrunner.errors import MissingCredentialsError as MissingCredentialsError
from buildrunner.errors import ModelCallError as ModelCallError

FailureType = Literal[
    "rate_limited",  # 429
    "overloaded",  # 529
    "server_error",  # other 5xx
    "timeout",  # the client gave up waiting
    "connection",  # could not reach the API
    "context_too_long",  # the prompt does not fit the model's context window
    "auth",  # 401 / 403: bad key, no permission, no credit
    "invalid_request",  # 400 / 413 / 422: the request itself is wrong
    "not_found",  # 404: unknown model id
    "unknown",
]

Then = Literal["fallback", "fallback_larger_context", "fail"]


@dataclass(frozen=True)
class FailurePolicy:
    """What to do after a failure of one type."""

    failure: FailureType
    retries: int  # retries of the same model before moving on
    then: Then  # when the retries are used up
    last_resort_retries: int  # retries instead, when no fallback model is left
    why: str


POLICIES: Mapping[str, FailurePolicy] = {
    policy.failure: policy
    for policy in (
        FailurePolicy("rate_limited", 3, "fallback", 3, "limits are per model; wait retry-after"),
        FailurePolicy("overloaded", 0, "fallback", 3, "another model is likely to have capacity"),
        FailurePolicy("server_error", 2, "fallback", 2, "usually transient"),
        FailurePolicy("timeout", 1, "fallback", 1, "a slow model may be busy; another may answer"),
        FailurePolicy("connection", 2, "fail", 2, "every model sits behind the same endpoint"),
        FailurePolicy(
            "context_too_long", 0, "fallback_larger_context", 0, "only a larger window can help"
        ),
        FailurePolicy("auth", 0, "fail", 0, "a bad key never gets better"),
        FailurePolicy("invalid_request", 0, "fail", 0, "the same request fails the same way"),
        FailurePolicy("not_found", 0, "fallback", 0, "the model id is unknown to this endpoint"),
        FailurePolicy("unknown", 0, "fail", 0, "do not guess"),
    )
}


@dataclass(frozen=True)
class Failure:
    """A classified model-call failure."""

    type: FailureType
    message: str
    status_code: int | None = None
    retry_after_s: float | None = None  # from the `retry-after` / `retry-after-ms` headers


# 400-class messages that mean "too long for this model" (wording varies across API versions).
_CONTEXT_PATTERNS = (
    re.compile(r"prompt is too long", re.IGNORECASE),
    re.compile(r"context (?:length|window|limit)", re.IGNORECASE),
    re.compile(r"exceeds? (?:the )?(?:model'?s? )?(?:maximum )?context", re.IGNORECASE),
    re.compile(r"too many (?:input )?tokens", re.IGNORECASE),
    re.compile(r"input length and `?max_tokens`? exceed", re.IGNORECASE),
)

# Error `type` in the API's JSON body -> failure type; checked before the status code.
_BODY_TYPES: Mapping[str, FailureType] = {
    "rate_limit_error": "rate_limited",
    "overloaded_error": "overloaded",
    "api_error": "server_error",
    "timeout_error": "timeout",
    "authentication_error": "auth",
    "permission_error": "auth",
    "billing_error": "auth",
    "not_found_error": "not_found",
    "request_too_large": "invalid_request",
}

_STATUS_TYPES: Mapping[int, FailureType] = {
    400: "invalid_request",
    401: "auth",
    402: "auth",
    403: "auth",
    404: "not_found",
    408: "timeout",
    413: "invalid_request",
    422: "invalid_request",
    429: "rate_limited",
    504: "timeout",
    529: "overloaded",
}

# Free text from a CLI (Claude Code prints "API Error: 529 ..." and the like) -> failure type.
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], FailureType], ...] = (
    (re.compile(r"\b529\b|overloaded", re.IGNORECASE), "overloaded"),
    (re.compile(r"\b429\b|rate.?limit|usage limit", re.IGNORECASE), "rate_limited"),
    (
        re.compile(
            r"\b40[13]\b|invalid api key|authentication|unauthori[sz]ed|/login|credit balance",
            re.IGNORECASE,
        ),
        "auth",
    ),
    (re.compile(r"timed? ?out|timeout", re.IGNORECASE), "timeout"),
    (
        re.compile(r"connection (?:error|refused|reset)|ECONNREFUSED|ENOTFOUND", re.IGNORECASE),
        "connection",
    ),
    (re.compile(r"\b5\d\d\b|internal server error|api_error", re.IGNORECASE), "server_error"),
    (re.compile(r"\b404\b|not_found_error|model .*not found", re.IGNORECASE), "not_found"),
    (re.compile(r"\b400\b|invalid_request_error", re.IGNORECASE), "invalid_request"),
)


def classify_status(
    status_code: int,
    message: str = "",
    *,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Failure:
    """Classify an HTTP error answer of the Messages API."""
    kind: FailureType
    if status_code in (400, 413) and is_context_message(message):
        kind = "context_too_long"
    elif error_type is not None and error_type in _BODY_TYPES:
        kind = _BODY_TYPES[error_type]
    elif status_code in _STATUS_TYPES:
        kind = _STATUS_TYPES[status_code]
    elif status_code >= 500:
        kind = "server_error"
    elif 400 <= status_code < 500:
        kind = "invalid_request"
    else:
        kind = "unknown"
    return Failure(kind, message or f"HTTP {status_code}", status_code, retry_after(headers or {}))


def classify_text(text: str) -> Failure:
    """Classify an error described only in words (e.g. a CLI's error result)."""
    if is_context_message(text):
        return Failure("context_too_long", text)
    for pattern, kind in _TEXT_PATTERNS:
        if pattern.search(text):
            return Failure(kind, text)
    return Failure("unknown", text)


def is_context_message(message: str) -> bool:
    return any(pattern.search(message) for pattern in _CONTEXT_PATTERNS)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (delta-seconds form only)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: rare from this API; fall back to our own backoff
        if value >= 0:
            return value
    return None


@dataclass(frozen=True)
class RetryConfig:
    """Backoff settings; `max_retries` caps every policy's retry count."""

    max_retries: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 60.0  # a longer retry-after means: move on instead of waiting

    def policy(self, failure: FailureType) -> FailurePolicy:
        return POLICIES.get(failure) or POLICIES["unknown"]

    def allowed_retries(self, failure: Failure, *, has_fallback: bool) -> int:
        """How many retries of the same model this failure gets."""
        policy = self.policy(failure.type)
        wanted = policy.retries if has_fallback else policy.last_resort_retries
        if failure.retry_after_s is not None and failure.retry_after_s > self.max_retry_after_s:
            return 0
        return max(0, min(wanted, self.max_retries))


def backoff_delay(
    attempt: int, failure: Failure, config: RetryConfig, rand: Callable[[], float]
) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    Exponential (`base * 2**(attempt-1)`, capped) with "equal jitter": half fixed, half random, so
    parallel workers spread out but never retry instantly. A `retry-after` from the server is a
    floor: we wait at least that long, plus a little jitter so workers do not return together.
    """
    exponential = min(config.max_delay_s, config.base_delay_s * 2.0 ** max(0, attempt - 1))
    jittered: float = exponential / 2 + rand() * exponential / 2
    if failure.retry_after_s is None:
        return jittered
    return float(failure.retry_after_s + rand() * min(1.0, config.base_delay_s))


def mask(text: str) -> str:
    """Mask secrets in free text (errors can quote request bodies and headers)."""
    from buildrunner.security.masking import mask_text

    return mask_text(text)
