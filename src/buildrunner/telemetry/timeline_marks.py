"""Moments of a session worth marking on its timeline: alerts, fallbacks, escalations, retries,
budget stops, security findings, lost workers, cache hits, merge conflicts and reviews.

A table says, per event type, what the mark is called and how it reads; `mark_from_event` turns
one stored event into a `Mark` (and, for a security violation, a `Finding`). Every text is
masked again: marks end up in shared files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from buildrunner.security.masking import mask_text

Payload = Mapping[str, Any]


@dataclass
class Mark:
    """An instant on the timeline."""

    ts: float
    kind: str  # the event type
    category: str  # alert | fallback | escalation | retry | budget | security | worker | cache | merge | review
    title: str
    detail: str
    level: str  # info | warning | error | critical
    task_id: str | None = None
    attempt: int | None = None


@dataclass
class Finding:
    """A security finding recorded during the session (its match is masked)."""

    ts: float
    task_id: str | None
    path: str
    line: int | None
    rule_id: str
    kind: str
    severity: str
    match: str
    message: str
    blocked: bool


@dataclass(frozen=True)
class MarkRule:
    category: str
    level: str | Callable[[Payload], str]
    title: Callable[[Payload], str]
    detail: Callable[[Payload], str]


def _text(payload: Payload, *names: str) -> str:
    return " ".join(str(payload[name]) for name in names if payload.get(name) not in (None, ""))


_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}

MARK_TYPES: Mapping[str, MarkRule] = {
    "alert_fired": MarkRule(
        "alert",
        lambda p: str(p.get("level") or "warning"),
        lambda p: f"alert {p.get('threshold', '')}",
        lambda p: _text(p, "message"),
    ),
    "alert_resolved": MarkRule(
        "alert",
        "info",
        lambda p: f"resolved {p.get('threshold', '')}",
        lambda p: _text(p, "message"),
    ),
    "fallback_triggered": MarkRule(
        "fallback",
        "warning",
        lambda p: f"fallback {p.get('from_model')} → {p.get('to_model')}",
        lambda p: _text(p, "reason"),
    ),
    "task_escalated": MarkRule(
        "escalation",
        "warning",
        lambda p: f"escalated {p.get('from_model')} → {p.get('to_model')} (rung {p.get('rung')})",
        lambda p: _text(p, "reason"),
    ),
    "task_retried": MarkRule(
        "retry",
        "warning",
        lambda p: f"retry (attempt {p.get('attempt')})",
        lambda p: _text(p, "reason"),
    ),
    "budget_exceeded": MarkRule(
        "budget",
        lambda p: "critical" if p.get("hard", True) else "warning",
        lambda p: f"budget exceeded ({p.get('scope', 'session')})",
        lambda p: (
            f"spent ${float(p.get('spent_usd') or 0):.4f} of ${float(p.get('limit_usd') or 0):.4f}"
        ),
    ),
    "security_violation": MarkRule(
        "security",
        lambda p: _SEVERITY.get(str(p.get("severity", "high")).lower(), "error"),
        lambda p: f"{p.get('rule_id', 'finding')} in {p.get('path', '?')}",
        lambda p: _text(p, "match", "message"),
    ),
    "worker_offline": MarkRule(
        "worker",
        "warning",
        lambda p: f"worker {p.get('worker_id', '')} offline",
        lambda p: _text(p, "reason"),
    ),
    "task_cached": MarkRule(
        "cache",
        "info",
        lambda p: "cache hit",
        lambda p: (
            f"saved ${float(p.get('saved_usd') or 0):.4f} and {float(p.get('saved_s') or 0):.1f} s"
        ),
    ),
    "task_conflict": MarkRule(
        "merge", "error", lambda p: "merge conflict", lambda p: _text(p, "detail")
    ),
    "review_decided": MarkRule(
        "review", "info", lambda p: f"review: {p.get('decision', '')}", lambda p: _text(p, "reason")
    ),
}


def mark_from_event(
    kind: str, ts: float, task_id: str | None, payload: Payload
) -> tuple[Mark, Finding | None]:
    """The mark of one stored event of a type in MARK_TYPES (and its finding, if it is one)."""
    rule = MARK_TYPES[kind]
    level = rule.level(payload) if callable(rule.level) else rule.level
    attempt = payload.get("attempt") if kind in ("task_escalated",) else None
    mark = Mark(
        ts,
        kind,
        rule.category,
        mask_text(rule.title(payload)),
        mask_text(rule.detail(payload)),
        level,
        task_id,
        int(attempt) if attempt is not None else None,
    )
    finding = None
    if kind == "security_violation":
        line = payload.get("line")
        finding = Finding(
            ts,
            task_id,
            mask_text(str(payload.get("path") or "")),
            int(line) if line is not None else None,
            str(payload.get("rule_id") or ""),
            str(payload.get("kind") or "secret"),
            str(payload.get("severity") or "high"),
            mask_text(str(payload.get("match") or "")),
            mask_text(str(payload.get("message") or "")),
            bool(payload.get("blocked")),
        )
    return mark, finding
