"""`br security ...`: find leaked secrets and SQL injection; git pre-commit hook; masking."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail
from buildrunner.display import printable

if TYPE_CHECKING:
    from buildrunner.security.scanner import ScanOptions, ScanReport

app = typer.Typer(
    help="Find leaked secrets and SQL injection; git pre-commit hook; masking.", no_args_is_help=True
)
hooks_app = typer.Typer(help="Install, remove or inspect the git pre-commit hook.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


FORMAT_OPTION = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or sarif.")
ALLOW_SKIPPED_OPTION = typer.Option(
    False, "--allow-skipped", help="Exit 0 even when some paths could not be read (they are listed)."
)
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the report to this file.")
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def _root() -> Path:
    from buildrunner.store.db import find_project_root

    return find_project_root()


def _scan_root(root: Path, targets: list[Path]) -> Path:
    """Where finding paths are relative to: the project, or, for targets outside it, the scanned
    repository's top (the nearest folder with `.git`), never the current directory."""
    resolved = [target.resolve() for target in targets]
    if all(target == root or root in target.parents for target in resolved):
        return root
    first = resolved[0] if resolved[0].is_dir() else resolved[0].parent
    return next((folder for folder in (first, *first.parents) if (folder / ".git").exists()), first)


def _options(root: Path, secrets: bool | None = None, sql: bool | None = None) -> tuple[ScanOptions, Path]:
    from buildrunner.config import load_settings
    from buildrunner.security.scanner import ScanOptions

    settings = load_settings(root).security
    return ScanOptions.from_settings(settings, secrets=secrets, sql=sql), root / settings.baseline


def _apply_baseline(report: ScanReport, baseline: Path | None) -> None:
    from buildrunner.security.baseline import filter_new, load_baseline

    if baseline is None:
        return
    report.findings, report.baselined = filter_new(report.findings, load_baseline(baseline))


def _render(report: ScanReport, output_format: OutputFormat, output: Path | None, json_output: bool,
            root: Path | None = None) -> None:
    from buildrunner import __version__
    from buildrunner.security.formats import json_report, sarif_report

    if json_output:
        output_format = OutputFormat.json
    if output_format is OutputFormat.table:
        _print_table(report, output)
        return
    document: dict[str, Any] = (
        json_report(report) if output_format is OutputFormat.json
        else sarif_report(report, __version__, root=root)
    )
    if output is None:
        emit_json(document)
    else:
        import json

        try:
            output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        err_console.print(f"wrote {output_format.value} report to {escape(printable(str(output)))}")
    _print_summary(report)


def _print_table(report: ScanReport, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from buildrunner.security.formats import TABLE_COLUMNS, table_rows

    console = err_console
    handle = None
    if output is not None:
        try:
            handle = output.open("w", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        console = Console(file=handle, width=200, highlight=False)
    if report.findings:
        table = Table(title=f"{len(report.findings)} finding(s)", title_justify="left")
        for column in TABLE_COLUMNS:
            table.add_column(column, overflow="fold")
        for row, finding in zip(table_rows(report.findings), report.findings, strict=True):
            style = SEVERITY_STYLE.get(finding.severity, "")
            # paths and code are text, not Rich markup ("app/[id]/page.tsx", "args[key]"), and
            # never terminal control sequences (a file named "\x1b[31m.py")
            table.add_row(*(escape(printable(cell, one_line=True)) for cell in row[:2]),
                          f"[{style}]{escape(row[2])}[/{style}]",
                          escape(printable(row[3], one_line=True)))
        console.print(table)
    if handle is not None:
        handle.close()
    _print_summary(report)


def _print_summary(report: ScanReport) -> None:
    skipped = report.skipped_counts()
    skipped_text = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))
    mb = report.bytes_scanned / 1e6
    verdict = "[red]findings[/red]" if report.findings else "[green]clean[/green]"
    err_console.print(
        f"{verdict}: {len(report.findings)} finding(s) in {report.files_scanned} files "
        f"({mb:.1f} MB, {report.duration_s:.2f}s)"
        + (f"; {report.baselined} in baseline" if report.baselined else "")
        + (f"; skipped {skipped_text}" if skipped_text else "")
    )
    incomplete = report.incomplete
    if incomplete:
        err_console.print(f"[yellow]incomplete:[/yellow] {len(incomplete)} path(s) could not be read:")
        for item in incomplete[:20]:
            err_console.print(f"  {escape(printable(item.path, one_line=True))}: "
                              f"{escape(printable(item.reason, one_line=True))}")
        if len(incomplete) > 20:
            err_console.print(f"  ... and {len(incomplete) - 20} more (see --format json)")


def _scan_with_progress(paths: list[Path], root: Path, options: ScanOptions, quiet: bool) -> ScanReport:
    from buildrunner.security.scanner import scan_candidates
    from buildrunner.security.walk import iter_files

    candidates = list(iter_files(paths, root, gitignore=options.gitignore))
    if quiet or not err_console.is_terminal or len(candidates) < 200:
        return scan_candidates(candidates, options)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task("scan", total=len(candidates))

        def advance(files: int, _bytes: int) -> None:
            if files % 50 == 0 or files == len(candidates):
                progress.update(task, completed=files)

        return scan_candidates(candidates, options, progress=advance)


@app.command("scan")
def scan_command(
    paths: list[Path] = typer.Argument(None, help="Files or folders (default: the project)."),
    output_format: OutputFormat = FORMAT_OPTION,
    output: Path | None = OUTPUT_OPTION,
    baseline: Path | None = typer.Option(None, "--baseline", help="Report only findings not in this baseline file."),
    secrets: bool | None = typer.Option(None, "--secrets/--no-secrets", help="Look for secrets (default: settings)."),
    sql: bool | None = typer.Option(None, "--sql/--no-sql", help="Look for SQL injection (Python, JS/TS)."),
    git_history: bool = typer.Option(False, "--git-history", help="Scan every commit's added lines."),
    allow_skipped: bool = ALLOW_SKIPPED_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Scan files (honouring .gitignore) for secrets and SQL injection.

    Exit 1 on findings, or when a path could not be read (unless --allow-skipped).

    \b
    Examples:
      br security scan
      br security scan src --format sarif --output scan.sarif
    """
    project = _root()
    options, default_baseline = _options(project, secrets, sql)
    targets = [p if p.is_absolute() else Path.cwd() / p for p in (paths or [])] or [project]
    for target in targets:
        if not target.exists() and not target.is_symlink():
            fail(f"no such file or directory: {printable(str(target), one_line=True)}")
    root = _scan_root(project, targets)
    if git_history:
        from buildrunner.security.check import scan_history
        from buildrunner.security.git import repo_root

        report = scan_history(repo_root(targets[0] if targets[0].is_dir() else targets[0].parent), options)
    else:
        quiet = json_output or output_format is not OutputFormat.table
        report = _scan_with_progress(targets, root, options, quiet)
    if baseline is not None and not baseline.is_file():
        fail(f"baseline file not found: {baseline}")
    _apply_baseline(report, baseline or (default_baseline if default_baseline.is_file() else None))
    _render(report, output_format, output, json_output, root)
    if report.findings or (report.incomplete and not allow_skipped):
        raise typer.Exit(1)


@app.command("check")
def check_command(
    staged: bool = typer.Option(False, "--staged", help="Only lines added in the staged diff (the hook's check)."),
    output_format: OutputFormat = FORMAT_OPTION,
    secrets: bool | None = typer.Option(None, "--secrets/--no-secrets", help="Look for secrets (default: settings)."),
    sql: bool | None = typer.Option(None, "--sql/--no-sql", help="Look for SQL injection."),
    allow_skipped: bool = ALLOW_SKIPPED_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Check what is staged for commit (--staged) or the whole project.

    Exit 1 on findings, or when a path could not be read (unless --allow-skipped).

    \b
    Examples:
      br security check --staged
      br security check --json
    """
    root = _root()
    options, baseline = _options(root, secrets, sql)
    if staged:
        from buildrunner.security.check import check_staged
        from buildrunner.security.git import repo_root

        report = check_staged(repo_root(Path.cwd()), options)
    else:
        report = _scan_with_progress([root], root, options, json_output)
    _apply_baseline(report, baseline if baseline.is_file() else None)
    _render(report, output_format, None, json_output, root)
    if report.findings or (report.incomplete and not allow_skipped):
        raise typer.Exit(1)


@app.command("precommit")
def precommit_command(
    files: list[str] = typer.Argument(None, help="Files to scan whole (the pre-commit framework "
                                                  "passes them); none: the staged diff's added lines."),
) -> None:
    """What the git hook runs: check staged changes (or FILES), hook-style output; exit 1 blocks.

    \b
    Examples:
      br security precommit
      br security precommit app/settings.py
    """
    from buildrunner.security.precommit import main

    raise typer.Exit(main(list(files or [])))


@app.command("baseline")
def baseline_command(
    paths: list[Path] = typer.Argument(None, help="Files or folders (default: the project)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Baseline file (default from settings)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Accept the current findings: write their fingerprints to the baseline file.

    \b
    Examples:
      br security baseline
      br security baseline src --json
    """
    from buildrunner.security.baseline import write_baseline

    root = _root()
    options, default_baseline = _options(root)
    targets = [p if p.is_absolute() else Path.cwd() / p for p in (paths or [])] or [root]
    report = _scan_with_progress(targets, root, options, json_output)
    target = output or default_baseline
    count = write_baseline(target, report.findings)
    if json_output:
        emit_json({"baseline": str(target), "fingerprints": count, "files_scanned": report.files_scanned})
    else:
        err_console.print(f"baseline {target}: {count} finding(s) accepted ({report.files_scanned} files)")


@app.command("mask")
def mask_command(
    text: str | None = typer.Argument(None, help="Text to mask; '-' or nothing reads stdin."),
) -> None:
    """Print text with every detected secret masked (pipe logs through it).

    \b
    Examples:
      br security mask 'token ghp_...'
      br security mask - < build.log
    """
    from buildrunner.security.masking import mask_bytes, mask_text

    if text is None or text == "-":
        # bytes in, bytes out: a non-UTF-8 byte passes through unchanged, the stream never stops
        out = sys.stdout.buffer
        for line in sys.stdin.buffer:
            out.write(mask_bytes(line))
            out.flush()
        return
    sys.stdout.write(mask_text(text) + "\n")


@app.command("rules")
def rules_command(json_output: bool = JSON_OPTION) -> None:
    """List the secret rules (id, provider, severity, keywords).

    \b
    Examples:
      br security rules
      br security rules --json
    """
    from buildrunner.security.rules import RULES

    if json_output:
        emit_json({"rules": [{
            "id": r.id, "provider": r.provider, "description": r.description, "severity": r.severity,
            "keywords": list(r.keywords), "entropy": r.entropy, "validator": r.validator,
        } for r in RULES]})
        return
    from rich.table import Table

    table = Table("Rule", "Provider", "Severity", "Description", title=f"{len(RULES)} secret rules",
                  title_justify="left")
    for rule in RULES:
        table.add_row(rule.id, rule.provider, rule.severity, rule.description)
    err_console.print(table)


@hooks_app.command("install")
def hooks_install(
    force: bool = typer.Option(False, "--force", help="Replace another tool's hook (a backup is kept)."),
    chain: bool = typer.Option(False, "--chain", help="Keep another tool's hook and run it before ours."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Install the pre-commit hook into this repository.

    \b
    Examples:
      br security hooks install
      br security hooks install --chain
    """
    from buildrunner.security import hooks
    from buildrunner.security.git import repo_root

    status = hooks.install(repo_root(Path.cwd()), force=force, chain=chain)
    _print_hook_status(status, json_output, "installed")


@hooks_app.command("uninstall")
def hooks_uninstall(json_output: bool = JSON_OPTION) -> None:
    """Remove our pre-commit hook (a chained hook is put back).

    \b
    Examples:
      br security hooks uninstall
    """
    from buildrunner.security import hooks
    from buildrunner.security.git import repo_root

    status = hooks.uninstall(repo_root(Path.cwd()))
    _print_hook_status(status, json_output, "uninstalled")


@hooks_app.command("status")
def hooks_status(json_output: bool = JSON_OPTION) -> None:
    """Show whether the hook is installed (and whether another hook is chained).

    \b
    Examples:
      br security hooks status --json
    """
    from buildrunner.security import hooks
    from buildrunner.security.git import repo_root

    _print_hook_status(hooks.status(repo_root(Path.cwd())), json_output, None)


def _print_hook_status(status: Any, json_output: bool, action: str | None) -> None:
    if json_output:
        emit_json(status.to_dict())
        return
    if action:
        err_console.print(f"pre-commit hook {action}: {escape(printable(status.path, one_line=True))}")
    state = "installed" if status.installed else ("another tool's hook" if status.foreign else "not installed")
    err_console.print(f"hook: {state}" + (" (chained: runs the previous hook first)" if status.chained else ""))
    if status.python:
        err_console.print(f"python: {escape(printable(status.python, one_line=True))}")
