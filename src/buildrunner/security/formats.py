"""Rendering data for findings: table rows, the JSON report, SARIF 2.1.0 and plain hook text.

Everything here works on already-masked findings; nothing prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.display import printable
from buildrunner.security.findings import Finding

if TYPE_CHECKING:
    from buildrunner.security.filescan import ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
TABLE_COLUMNS = ("Location", "Rule", "Severity", "Match")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def table_rows(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    """One row per finding: location, rule, severity, masked match."""
    return [(f"{f.path}:{f.line}:{f.column}", f.rule_id, f.severity, f.match) for f in findings]


def json_report(report: ScanReport) -> dict[str, Any]:
    """The `--format json` document."""
    return report.to_dict()


def sarif_report(
    report: ScanReport, version: str = "0", *, root: Path | None = None
) -> dict[str, Any]:
    """A SARIF 2.1.0 log that GitHub code scanning accepts. Finding paths are relative to the
    scanned repository's root (`root`, recorded as `%SRCROOT%`)."""
    from buildrunner.security.rules import rules_by_id
    from buildrunner.security.sql.report import rule_description

    known = rules_by_id()
    rule_ids: list[str] = []
    for finding in report.findings:
        if finding.rule_id not in rule_ids:
            rule_ids.append(finding.rule_id)
    first = {
        rule_id: next(f for f in report.findings if f.rule_id == rule_id) for rule_id in rule_ids
    }
    rules = []
    for rule_id in rule_ids:
        example = first[rule_id]
        rule = known.get(rule_id)
        description = rule.description if rule else (rule_description(rule_id) or rule_id)
        tags = ["security", "secret" if example.kind == "secret" else "sql-injection"]
        rules.append(
            {
                "id": rule_id,
                "name": "".join(part.capitalize() for part in rule_id.split("-")),
                "shortDescription": {"text": description},
                "fullDescription": {"text": description + (f" ({rule.provider})" if rule else "")},
                "defaultConfiguration": {"level": SARIF_LEVEL[example.severity]},
                "help": {"text": _help(example.kind)},
                "properties": {
                    "tags": tags,
                    "security-severity": SECURITY_SEVERITY[example.severity],
                },
            }
        )
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = [
        {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}: {f.match}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": max(f.line, f.end_line),
                        },
                    }
                }
            ],
            "partialFingerprints": {"buildrunner/v1": f.fingerprint},
        }
        for f in report.findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "BuildRunner",
                        "informationUri": "https://pypi.org/project/buildrunner/",
                        "semanticVersion": version,
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
                **(
                    {"originalUriBaseIds": {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}}}
                    if root is not None
                    else {}
                ),
            }
        ],
    }


def _help(kind: str) -> str:
    if kind == "secret":
        return (
            "Remove the secret from the file, rotate it at the provider, and load it from the "
            "environment or a secret manager. A false positive can be marked with a `br: allow` "
            "comment on the line or accepted with `br security baseline`."
        )
    return (
        "Pass values as query parameters (placeholders) instead of building the SQL string "
        "from data."
    )


def hook_text(findings: list[Finding], skipped: int = 0) -> str:
    """The pre-commit hook's message for blocked commits (plain text, masked values)."""
    secrets = sum(1 for f in findings if f.kind == "secret")
    sql = len(findings) - secrets
    parts = [f"{secrets} secret{'s' if secrets != 1 else ''}"] if secrets else []
    if sql:
        parts.append(f"{sql} SQL injection{'s' if sql != 1 else ''}")
    lines = [f"BuildRunner: commit blocked: {' and '.join(parts)} in staged changes", ""]
    ordered = sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.path, f.line))
    for location, rule, severity, match in table_rows(ordered):
        lines.append(
            f"  {printable(location, one_line=True)}  {rule}  [{severity}]  "
            f"{printable(match, one_line=True)}"
        )
    lines.append("")
    if secrets:
        lines.append(
            "Fix a secret: remove it from the file and rotate it if it was real; load it from the "
            "environment."
        )
    if sql:
        lines.append(
            "Fix SQL injection: pass values as query parameters instead of building the query."
        )
    lines += [
        "False positive: add a `br: allow` comment on the line, or accept current findings with",
        "  `br security baseline`.",
        "Bypass once (not recommended): git commit --no-verify",
    ]
    return "\n".join(lines) + "\n"
