"""Gap analysis: what a plan asked for against what happened, as a prioritized list."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from buildrunner.quality.gates import GateResult

PRIORITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


Priority = Literal["critical", "high", "medium", "low"]
GapKind = Literal[
    "task_failed",
    "task_skipped",
    "task_not_run",
    "task_unverified",
    "task_cached",
    "file_missing",
    "security",
    "gate_failed",
]


@dataclass(frozen=True)
class Gap:
    priority: Priority
    kind: GapKind
    subject: str  # the task, file or gate concerned
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyze(
    conn: sqlite3.Connection,
    session_id: str,
    workdir: Path,
    *,
    security_findings: list[dict[str, Any]] | None = None,
    gates: list[GateResult] | None = None,
) -> list[Gap]:
    """Compare the session's plan with its tasks, files, open findings and gates."""
    gaps: list[Gap] = []
    rows = conn.execute(
        "SELECT task_id, kind, status, spec_json, error, log_path, verdict, cached FROM tasks"
        " WHERE session_id = ? ORDER BY position",
        (session_id,),
    ).fetchall()
    for row in rows:
        spec = json.loads(row["spec_json"])
        status = row["status"]
        if status == "succeeded" and row["verdict"] == "unverified":
            gaps.append(
                Gap(
                    "medium",
                    "task_unverified",
                    row["task_id"],
                    "agent task without checks: nothing verified its work (add check:)",
                )
            )
        elif status == "succeeded" and row["cached"]:
            gaps.append(
                Gap(
                    "low",
                    "task_cached",
                    row["task_id"],
                    "not run: restored from the task cache (br cache why to see its key)",
                )
            )
        if status == "failed":
            where = f" (log: {row['log_path']})" if row["log_path"] else ""
            gaps.append(
                Gap("critical", "task_failed", row["task_id"], f"{row['error'] or 'failed'}{where}")
            )
        elif status == "skipped":
            gaps.append(Gap("high", "task_skipped", row["task_id"], row["error"] or "skipped"))
        elif status != "succeeded":
            gaps.append(Gap("medium", "task_not_run", row["task_id"], f"never finished ({status})"))
        base = workdir / spec["cwd"] if spec.get("cwd") else workdir
        for declared in spec.get("files", []):
            if any(char in declared for char in "*?[") or declared.endswith("/"):
                continue
            if not (base / declared).exists():
                gaps.append(
                    Gap(
                        "high" if status == "succeeded" else "medium",
                        "file_missing",
                        declared,
                        f"declared by task '{row['task_id']}' but never created",
                    )
                )
    for finding in security_findings or []:
        gaps.append(
            Gap(
                "critical" if finding.get("severity") in ("critical", "high") else "high",
                "security",
                f"{finding['path']}:{finding['line']}",
                f"{finding['rule_id']} ({finding['kind']}): {finding.get('message', '')} {finding.get('match', '')}".strip(),
            )
        )
    for gate in gates or []:
        if gate.outcome == "fail":
            gaps.append(Gap("high", "gate_failed", gate.gate, gate.reason))
    return sorted(gaps, key=lambda gap: PRIORITY_ORDER[gap.priority])
