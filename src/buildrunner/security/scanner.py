"""Scanning files and texts for secrets and SQL injection; the library behind `br security scan`.

    report = scan_paths([Path(".")])            # walks, honours .gitignore, skips binaries
    for finding in report.findings: ...          # masked; `finding.to_dict()` for JSON
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.security.engine import SecretEngine, SecretMatch
from buildrunner.security.findings import Finding, SkippedFile, fingerprint
from buildrunner.security.masking import default_engine, mask_secret

if TYPE_CHECKING:
    from buildrunner.security.walk import Candidate

DEFAULT_MAX_FILE_BYTES = 2_000_000
PARALLEL_MIN_FILES = 200
ProgressCallback = Callable[[int, int], None]  # (files done, bytes done)


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
        return dict(Counter(_reason_key(s.reason) for s in self.skipped))

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [finding.to_dict() for finding in self.findings],
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "duration_s": round(self.duration_s, 4),
            "skipped": self.skipped_counts(),
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "baselined": self.baselined,
        }


def _reason_key(reason: str) -> str:
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
    text: str, path: str, options: ScanOptions | None = None, engine: SecretEngine | None = None,
) -> tuple[list[Finding], str | None]:
    """Findings in one file's text (secrets and, for code files, SQL injection) and a skip note."""
    options = options or ScanOptions()
    findings: list[Finding] = []
    note = None
    if options.secrets:
        findings.extend(to_finding(m, path) for m in (engine or default_engine()).find(text, path))
    if options.sql and is_sql_source(path):
        sql_findings, note = sql_scan(path, text)
        findings.extend(sql_findings)
    findings.sort(key=lambda f: (f.line, f.column))
    return findings, note


def is_sql_source(path: str) -> bool:
    from buildrunner.security.sql import is_supported

    return is_supported(path)


def sql_scan(path: str, text: str) -> tuple[list[Finding], str | None]:
    """The SQL-injection analysers (Python `ast`, JS/TS tree-sitter)."""
    from buildrunner.security.sql import scan_source

    try:
        return scan_source(path, text)
    except RecursionError:
        return [], "sql analysis: too deeply nested"


def read_candidate(path: Path, max_bytes: int) -> tuple[bytes | None, str | None]:
    """(content, None) or (None, skip reason) for a file the scan may read."""
    from buildrunner.security.filetypes import BINARY_SUFFIXES

    if path.suffix.lower() in BINARY_SUFFIXES:
        return None, "binary"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, f"too_large: {size} bytes > {max_bytes}"
        with path.open("rb") as handle:
            data = handle.read()
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
    report: ScanReport, relative: str, data: bytes, options: ScanOptions, engine: SecretEngine,
    keep: Callable[[Finding], bool] | None = None,
) -> None:
    """Scan one file's bytes and add its findings (those `keep` accepts) and counts to `report`."""
    findings, note = scan_text(data.decode("utf-8", errors="replace"), relative, options, engine)
    report.findings.extend(findings if keep is None else filter(keep, findings))
    if note:
        report.skipped.append(SkippedFile(relative, f"sql_unparsed: {note}"))
    report.files_scanned += 1
    report.bytes_scanned += len(data)


def scan_candidates(
    candidates: Iterable[Candidate], options: ScanOptions, *, progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ScanReport:
    """Read and scan each candidate file (in worker processes when there are many)."""
    from buildrunner.security.walk import allow_spec

    candidates = list(candidates)
    jobs = options.jobs or min(os.cpu_count() or 1, 8)
    if jobs > 1 and len(candidates) >= PARALLEL_MIN_FILES:
        from buildrunner.security.parallel_scan import scan_in_processes

        default_engine()  # built once here, inherited by forked workers
        report = scan_in_processes(candidates, options, jobs, progress)
        if report is not None:
            return report
    started = clock()
    report = ScanReport()
    allowed = allow_spec(options.allow_paths)
    engine = default_engine()
    for candidate in candidates:
        if allowed is not None and allowed.match_file(candidate.relative):
            report.skipped.append(SkippedFile(candidate.relative, "allow_paths"))
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


def scan_paths(
    paths: Sequence[Path | str], *, root: Path | None = None, secrets: bool | None = None,
    sql: bool | None = None, settings: Any = None, options: ScanOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ScanReport:
    """Scan files and directories (walking them, honouring .gitignore); paths in findings are
    relative to `root` (default: the current directory)."""
    from buildrunner.security.walk import iter_files

    root = (root or Path.cwd()).resolve()
    options = options or ScanOptions.from_settings(settings, secrets=secrets, sql=sql)
    targets = [Path(p) if Path(p).is_absolute() else root / p for p in paths] or [root]
    return scan_candidates(iter_files(targets, root, gitignore=options.gitignore), options, progress=progress)


def scan_files(
    root: Path, paths: Sequence[str], *, secrets: bool | None = None, sql: bool | None = None,
    settings: Any = None,
) -> ScanReport:
    """Scan exactly these files (relative to `root`), no walking: e.g. the files a task changed."""
    from buildrunner.security.walk import Candidate, relative_to

    root = root.resolve()
    options = ScanOptions.from_settings(settings, secrets=secrets, sql=sql)
    candidates = [Candidate(root / p, relative_to((root / p).resolve(), root)) for p in paths]
    return scan_candidates(candidates, options)
