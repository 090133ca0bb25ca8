"""The one finding record every analyser (secrets, SQL injection) reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["secret", "sql_injection"]
Severity = Literal["low", "medium", "high", "critical"]


@dataclass(frozen=True)
class Finding:
    """A problem at a place in a file. `match` is always masked; the raw secret is never kept."""

    path: str  # relative to the scan root, '/' separators
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    rule_id: str
    kind: Kind
    severity: Severity
    message: str
    match: str  # masked secret, or the tainted expression for SQL injection
    fingerprint: str  # stable id for the baseline: does not change when lines move
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["extra"]:
            del data["extra"]
        return data


def fingerprint(rule_id: str, path: str, secret_or_expression: str, context: str = "") -> str:
    """Stable identity of a finding (rule, file and a hash of the raw value; no line number)."""
    import hashlib  # only when there is a finding: keeps the clean hook's start-up lean

    digest = hashlib.sha256(
        "\x00".join((rule_id, path, secret_or_expression, context)).encode("utf-8", "replace")
    ).hexdigest()
    return digest[:32]


@dataclass(frozen=True)
class SkippedFile:
    """A file the scan did not analyse, and why (binary, too large, does not parse, ...)."""

    path: str
    reason: str
