"""Checking what a commit adds: the staged diff (for the hook) and every commit in history."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from buildrunner.security.filescan import (
    ScanOptions,
    ScanReport,
    content_skip_reason,
    scan_into,
    to_finding,
)
from buildrunner.security.findings import Finding, SkippedFile
from buildrunner.security.git import history_diff, parse_diff, staged_blobs, staged_diff
from buildrunner.security.masking import default_engine


def _allowed(options: ScanOptions) -> Callable[[str], bool]:
    if not options.allow_paths:
        return lambda path: False
    from buildrunner.security.walk import allow_spec

    spec = allow_spec(options.allow_paths)
    assert spec is not None
    return spec.match_file


def check_staged(
    root: Path, options: ScanOptions | None = None, clock: Callable[[], float] = time.perf_counter
) -> ScanReport:
    """Findings on lines the staged diff adds (the whole staged file gives context)."""
    from buildrunner.security.filetypes import BINARY_SUFFIXES

    options = options or ScanOptions()
    started = clock()
    report = ScanReport()
    allowed = _allowed(options)
    files = []
    for diff in staged_diff(root):
        if allowed(diff.path):
            report.skipped.append(SkippedFile(diff.path, "allow_paths"))
        elif diff.binary or Path(diff.path).suffix.lower() in BINARY_SUFFIXES:
            report.skipped.append(SkippedFile(diff.path, "binary"))
        elif diff.added:
            files.append(diff)
    blobs = staged_blobs(root, [diff.path for diff in files])
    engine = default_engine()
    for diff in files:
        data = blobs.get(diff.path)
        if data is None:
            report.skipped.append(SkippedFile(diff.path, "unreadable: not in the index"))
            continue
        reason = content_skip_reason(data, options.max_file_bytes)
        if reason:
            report.skipped.append(SkippedFile(diff.path, reason))
            continue
        scan_into(
            report, diff.path, data, options, engine, keep=partial(_touches, added=diff.added)
        )
    report.duration_s = clock() - started
    return report


def _touches(finding: Finding, added: dict[int, str]) -> bool:
    return any(
        line in added for line in range(finding.line, max(finding.line, finding.end_line) + 1)
    )


def scan_history(
    root: Path, options: ScanOptions | None = None, clock: Callable[[], float] = time.perf_counter
) -> ScanReport:
    """Secrets in every commit's added lines, each reported once at the commit that added it."""
    options = options or ScanOptions()
    started = clock()
    report = ScanReport()
    if not options.secrets:  # history is scanned for secrets only
        return report
    allowed = _allowed(options)
    engine = default_engine()
    seen: set[str] = set()
    for commit, diff in parse_diff(history_diff(root)):
        if not diff.added or diff.binary or allowed(diff.path):
            continue
        numbers = sorted(diff.added)
        text = "\n".join(diff.added[n] for n in numbers)
        report.files_scanned += 1
        report.bytes_scanned += len(text)
        for match in engine.find(text, diff.path):
            finding = to_finding(match, diff.path)
            if finding.fingerprint in seen:
                continue
            seen.add(finding.fingerprint)
            line = numbers[match.line - 1]
            report.findings.append(
                replace(
                    finding,
                    line=line,
                    end_line=line + (match.end_line - match.line),
                    extra={"commit": commit or ""},
                )
            )
    report.duration_s = clock() - started
    return report
