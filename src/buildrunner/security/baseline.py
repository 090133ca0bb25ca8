"""The baseline: fingerprints of accepted findings, so later scans report only new ones.

`.buildrunner-baseline.json` (project root, committed) holds fingerprints and masked context (path, line, rule,
masked match) for review; never a raw secret.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from buildrunner.errors import SecurityError
from buildrunner.security.findings import Finding

BASELINE_VERSION = 1


def load_baseline(path: Path) -> frozenset[str]:
    """Fingerprints in a baseline file; empty when the file does not exist."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError) as exc:
        raise SecurityError(f"{path}: not a readable baseline file: {exc}") from None
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SecurityError(f"{path}: not a baseline file (no 'findings' list)")
    return frozenset(
        entry["fingerprint"]
        for entry in entries
        if isinstance(entry, dict) and "fingerprint" in entry
    )


def baseline_document(
    findings: Iterable[Finding], clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The JSON document for a baseline of these findings (sorted, one entry per fingerprint)."""
    unique: dict[str, Finding] = {}
    for finding in findings:
        unique.setdefault(finding.fingerprint, finding)
    entries = [
        {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule_id,
            "kind": f.kind,
            "path": f.path,
            "line": f.line,
            "match": f.match,
        }
        for f in sorted(unique.values(), key=lambda f: (f.path, f.line, f.rule_id))
    ]
    return {"version": BASELINE_VERSION, "generated_at": round(clock(), 3), "findings": entries}


def write_baseline(
    path: Path, findings: Iterable[Finding], clock: Callable[[], float] = time.time
) -> int:
    """Write (replace) the baseline atomically; returns how many fingerprints it holds."""
    document = baseline_document(findings, clock)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise SecurityError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(document["findings"])


def filter_new(findings: Iterable[Finding], baseline: frozenset[str]) -> tuple[list[Finding], int]:
    """(findings not in the baseline, how many the baseline accepted)."""
    every = list(findings)
    new = [finding for finding in every if finding.fingerprint not in baseline]
    return new, len(every) - len(new)
