"""The per-file core of a scan: options, the report, and one file's bytes to findings.

Everything that scans (the sequential walk in `scanner`, the worker processes of `parallel_scan`,
the staged check in `check`) builds on this module; it imports none of them. Each file is read
once and decoded once; the secret engine and the SQL analysers see the same text.
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.security.engine import SecretEngine, SecretMatch
from buildrunner.security.findings import Finding, SkippedFile, fingerprint
from buildrunner.security.masking import default_engine, mask_secret

if TYPE_CHECKING:
    from buildrunner.security.walk import Candidate

DEFAULT_MAX_FILE_BYTES = 2_000_000
ProgressCallback = Callable[[int, int], None]  # (files done, bytes done)
# Skip reasons that mean the scan could not vouch for a path (as opposed to a policy skip:
# binary, too_large, allow_paths, sql_unparsed). A scan with one of these is incomplete.
INCOMPLETE_REASONS = frozenset({"unreadable"})


@dataclass(frozen=True)
class ScanOptions:
    """What to look for and what to leave alone."""

    secrets: bool = True
    sql: bool = True
    allow_paths: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    gitignore: bool = True
    jobs: int = 0  # worker processes for large scans; 0 = one per CPU (up to 8), 1 = in-process

    @classmethod
    def from_settings(cls, settings: Any = None, **overrides: Any) -> ScanOptions:
        """Options from a `SecuritySettings`-like object (any object with the same attributes)."""
        values: dict[str, Any] = {}
        if settings is not None:
            values = {
                "secrets": getattr(settings, "secrets", True),
                "sql": getattr(settings, "sql", True),
                "allow_paths": tuple(getattr(settings, "allow_paths", ()) or ()),
                "max_file_bytes": getattr(settings, "max_file_bytes", DEFAULT_MAX_FILE_BYTES),
            }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass
class ScanReport:
    """The outcome of a scan: findings (masked) and what was read or skipped."""

    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    duration_s: float = 0.0
    skipped: list[SkippedFile] = field(default_factory=list)
    baselined: int = 0

    def skipped_counts(self) -> dict[str, int]:
        """How many files were skipped, by reason (binary, too_large, allow_paths, unreadable, ...)."""
        return dict(Counter(reason_key(s.reason) for s in self.skipped))

    @property
    def incomplete(self) -> list[SkippedFile]:
        """Paths the scan could not read: it cannot say they are clean."""
        return [s for s in self.skipped if reason_key(s.reason) in INCOMPLETE_REASONS]

    def merge(self, part: ScanReport) -> None:
        """Add another report's findings, skips and counts (a worker's chunk)."""
        self.findings.extend(part.findings)
        self.skipped.extend(part.skipped)
        self.files_scanned += part.files_scanned
        self.bytes_scanned += part.bytes_scanned

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [finding.to_dict() for finding in self.findings],
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "duration_s": round(self.duration_s, 4),
            "skipped": self.skipped_counts(),
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "incomplete": bool(self.incomplete),
            "baselined": self.baselined,
        }


def reason_key(reason: str) -> str:
    """`unreadable: Permission denied` -> `unreadable`."""
    return reason.split(":", 1)[0].split(" ", 1)[0]


def to_finding(match: SecretMatch, path: str) -> Finding:
    """A masked `Finding` for a secret match (the raw value is hashed into the fingerprint only)."""
    rule = match.rule
    return Finding(
        path=path,
        line=match.line,
        column=match.column,
        end_line=match.end_line,
        rule_id=rule.id,
        kind="secret",
        severity=rule.severity,
        message=f"{rule.description} ({rule.provider})",
        match=mask_secret(match.secret),
        fingerprint=fingerprint(rule.id, path, match.secret.strip()),
    )


def scan_text(
    text: str,
    path: str,
    options: ScanOptions | None = None,
    engine: SecretEngine | None = None,
    data: bytes | None = None,
) -> tuple[list[Finding], str | None]:
    """Findings in one file's text (secrets and, for code files, SQL injection) and a skip note.

    `data` is the file's raw bytes when the caller has them (spares the SQL pass an encode).
    """
    options = options or ScanOptions()
    findings: list[Finding] = []
    note = None
    if options.secrets:
        findings.extend(to_finding(m, path) for m in (engine or default_engine()).find(text, path))
    if options.sql:
        from buildrunner.security.sql.prefilter import might_hold_sql

        if might_hold_sql(path, text, data):
            sql_findings, note = sql_scan(path, text, data)
            findings.extend(sql_findings)
    findings.sort(key=lambda f: (f.line, f.column))
    return findings, note


def sql_scan(path: str, text: str, data: bytes | None = None) -> tuple[list[Finding], str | None]:
    """The SQL-injection analysers (Python `ast`, JS/TS tree-sitter)."""
    from buildrunner.security.sql import scan_source

    try:
        findings, note = scan_source(path, text, data)
    except RecursionError:
        return [], "sql analysis: too deeply nested"
    return [finding for finding in findings if not _allowed(text, finding)], note


SQL_PRAGMAS = ("br: allow", "br:allow", "nosec")  # our own, and bandit's for code it vetted


def _allowed(text: str, finding: Finding) -> bool:
    """A reviewed query: `# br: allow` (or bandit's `# nosec`) on one of the finding's lines."""
    lines = text.splitlines()[finding.line - 1 : max(finding.line, finding.end_line)]
    return any(pragma in line.lower() for line in lines for pragma in SQL_PRAGMAS)


def read_candidate(path: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """(content, None) or (None, skip reason) for a file the scan may read."""
    from buildrunner.security.filetypes import BINARY_SUFFIXES

    if path.suffix.lower() in BINARY_SUFFIXES:
        return None, "binary"
    try:
        # O_NONBLOCK: a FIFO given by name must not hang the scan; it is refused below
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    with os.fdopen(descriptor, "rb") as handle:
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                return None, "unreadable: not a regular file"
            if status.st_size > max_bytes:
                return None, f"too_large: {status.st_size} bytes > {max_bytes}"
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            return None, f"unreadable: {exc.strerror or exc}"
    reason = content_skip_reason(data, max_bytes)
    return (None, reason) if reason else (data, None)


def content_skip_reason(data: bytes, max_bytes: int) -> str | None:
    """Why bytes already read are not scanned (too large, binary), or None."""
    if len(data) > max_bytes:
        return f"too_large: {len(data)} bytes > {max_bytes}"
    if b"\x00" in data[:8192]:
        return "binary"
    return None


def scan_into(
    report: ScanReport,
    relative: str,
    data: bytes,
    options: ScanOptions,
    engine: SecretEngine,
    keep: Callable[[Finding], bool] | None = None,
) -> None:
    """Scan one file's bytes and add its findings (those `keep` accepts) and counts to `report`."""
    text = data.decode("utf-8", errors="replace")
    findings, note = scan_text(text, relative, options, engine, data)
    report.findings.extend(findings if keep is None else filter(keep, findings))
    if note:
        report.skipped.append(SkippedFile(relative, f"sql_unparsed: {note}"))
    report.files_scanned += 1
    report.bytes_scanned += len(data)


def scan_sequential(
    candidates: Iterable[Candidate],
    options: ScanOptions,
    *,
    progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ScanReport:
    """Read and scan each candidate in this process (skips already found by the walk included)."""
    from buildrunner.security.walk import allow_spec

    started = clock()
    report = ScanReport()
    allowed = allow_spec(options.allow_paths)
    engine = default_engine()
    for candidate in candidates:
        if allowed is not None and allowed.match_file(candidate.relative):
            report.skipped.append(SkippedFile(candidate.relative, "allow_paths"))
            continue
        if candidate.skip:
            report.skipped.append(SkippedFile(candidate.relative, candidate.skip))
            continue
        data, reason = read_candidate(candidate.path, options.max_file_bytes)
        if data is None:
            report.skipped.append(SkippedFile(candidate.relative, reason or "unreadable"))
            continue
        scan_into(report, candidate.relative, data, options, engine)
        if progress is not None:
            progress(report.files_scanned, report.bytes_scanned)
    report.duration_s = clock() - started
    return report
