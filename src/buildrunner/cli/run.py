"""`br run PLAN`: run a build (also `br parallel start NAME --plan PLAN`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console, fail
from buildrunner.cli.run_output import (
    STATUS_STYLE,
    print_summary,
    print_tail,
    show_dry_run,
    shown_dir,
)
from buildrunner.display import printable


def run_command(
    plan_file: Path | None = typer.Argument(
        None, help="The plan YAML file (omit with --resume).", show_default=False
    ),
    name: str | None = typer.Option(None, "--name", help="Session name (default: the plan's)."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, max=256, help="Tasks to run at once (default: config, 4)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="Where tasks run: local or ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address."),
    budget: float | None = typer.Option(
        None,
        "--budget",
        min=0.0,
        help="Hard budget of the session in USD (with --resume: its new budget).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show tasks, routes and costs; run nothing."
    ),
    watch: bool = typer.Option(False, "--watch", help="Show a live dashboard while it runs."),
    resume: str | None = typer.Option(
        None, "--resume", help="Continue an interrupted session (id or prefix)."
    ),
    isolate: str | None = typer.Option(
        None,
        "--isolate",
        help="task: each task in its own git worktree, its work merged back in dependency order; "
        "session: all tasks in one worktree; none (default). The work lands at the end.",
    ),
    review: bool = typer.Option(
        False, "--review", help="Hold each task's work for br review approve before it merges."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="At the end, write the build's HTML report to this file."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the closing summary (no per-task lines or output)."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Run every task, even one whose inputs did not change."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Say why each cacheable task missed the cache (see br cache why)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Run a build plan: tasks in dependency order, in parallel where safe.

    Exit 0 when every task succeeded, 1 when a task failed, 2 on bad input, 130 when interrupted.

    \b
    Examples:
      br run plan.yaml
      br run plan.yaml --workers 8 --dry-run
      br run --resume SESSION
    """
    run_build(
        plan_file,
        name=name,
        workers=workers,
        backend=backend,
        ray_address=ray_address,
        budget=budget,
        dry_run=dry_run,
        watch=watch,
        resume=resume,
        isolate=isolate,
        json_output=json_output,
        quiet=quiet,
        use_cache=not no_cache,
        explain=explain,
        review=review,
        report=report,
    )


def run_build(
    plan_file: Path | None,
    *,
    name: str | None = None,
    workers: int | None = None,
    backend: str | None = None,
    ray_address: str | None = None,
    budget: float | None = None,
    dry_run: bool = False,
    watch: bool = False,
    resume: str | None = None,
    isolate: str | None = None,
    json_output: bool = False,
    quiet: bool = False,
    use_cache: bool = True,
    explain: bool = False,
    review: bool = False,
    report: Path | None = None,
) -> None:
    """Create (or resume) a session and run it, rendering progress; exits like `br run`.

    A plan's relative paths (its tasks' working directory, `cwd`, `files`, `inputs`) are the plan
    file's folder, or its `workdir:` taken from there; the store is found from that folder too.
    """
    from buildrunner.cli.common import project_settings, project_store
    from buildrunner.orchestrator import Orchestrator, TaskUpdate
    from buildrunner.parallel.plan import load_plan
    from buildrunner.parallel.preflight import preflight
    from buildrunner.store.db import open_store

    if (plan_file is None) == (resume is None):
        fail("give a PLAN file to run, or --resume SESSION to continue one (not both)")
    if backend is not None and backend not in ("local", "ray"):
        fail(f"--backend must be 'local' or 'ray', not '{backend}'")
    if isolate is not None and isolate not in ("none", "task", "session", "worktree"):
        fail(f"--isolate must be none, task or session, not '{isolate}'")
    plan = None
    workdir: Path | None = None
    if plan_file is not None:
        plan = load_plan(plan_file)
        workdir = plan_workdir(plan_file, plan.workdir)
    store = open_store(workdir) if workdir is not None else project_store()
    settings = project_settings(store)
    if ray_address:
        settings.run.ray_address = ray_address
    if plan is not None:
        assert workdir is not None and plan_file is not None
        if dry_run:
            show_dry_run(plan, settings, json_output, workdir)
            return
        preflight(plan, workdir)
    chosen_backend = backend or settings.run.backend
    if chosen_backend == "ray":
        _require_ray()
        if plan is not None:
            from buildrunner.parallel.backends.ray import check_file_writes

            check_file_writes(
                [task.id for task in plan.tasks if task.files],
                settings.run.ray_address,
                settings.run.ray_shared_filesystem,
            )

    def show(update: TaskUpdate) -> None:
        if json_output or watch or quiet:
            return
        mark = STATUS_STYLE.get(update.status, update.status)
        parts = [f"{mark} {escape(printable(update.task_id))}"]
        if update.attempt > 1:
            parts.append(f"(attempt {update.attempt})")
        if update.duration_s is not None:
            parts.append(f"{update.duration_s:.2f}s")
        if update.detail:
            parts.append(f"[dim]{escape(printable(update.detail, one_line=True))}[/dim]")
        if update.status == "failed" and update.log_path:
            parts.append(f"[dim]log: {escape(printable(update.log_path))}[/dim]")
        err_console.print(" ".join(parts))
        if update.status == "failed" and update.log_path:
            print_tail(Path(update.log_path))

    orchestrator = Orchestrator(store, settings, on_update=show)
    try:
        if resume is not None:
            session_id = orchestrator.prepare_resume(resume, budget_usd=budget)
        else:
            assert plan is not None
            session_id = orchestrator.create(
                plan,
                plan_path=str(plan_file),
                name=name,
                workers=workers or plan.workers or settings.run.workers,
                backend=chosen_backend,
                budget_usd=budget,
                isolate=isolate or plan.isolate or settings.parallel.isolate,
                workdir=workdir,
                review=review,
            )
        if not json_output and not quiet:
            where = f" · tasks run in {shown_dir(workdir)}" if workdir is not None else ""
            err_console.print(f"[bold]session {session_id}[/bold]{escape(where)}")
        if watch and not json_output:
            from buildrunner.parallel.dashboard import watch_while

            summary = watch_while(
                store,
                session_id,
                lambda: orchestrator.run(session_id, use_cache=use_cache, explain=explain),
            )
        else:
            summary = orchestrator.run(session_id, use_cache=use_cache, explain=explain)
    finally:
        orchestrator.close()
    result = summary.to_json()
    if report is not None:
        result["report"] = _write_report(store, summary.session_id, report, json_output or quiet)
    gates_failed = False
    if settings.quality.run_after_build and summary.status != "interrupted":
        gates_failed = _run_gates(store, settings, summary.session_id, result, json_output)
    if json_output:
        emit_json(result)
    else:
        print_summary(result)
    if summary.status == "interrupted":
        raise typer.Exit(130)
    if summary.status != "completed" or gates_failed:
        raise typer.Exit(1)


def _run_gates(
    store: Any, settings: Any, session_id: str, result: dict[str, Any], quiet: bool
) -> bool:
    """[quality] run_after_build: judge the build with the quality gates; True if one failed."""
    from buildrunner.quality.checks import check_quality, session_workdir

    conn = store.connect(busy_timeout_s=settings.store.busy_timeout_s)
    try:
        workdir = session_workdir(conn, session_id, store.root)
        _, gates = check_quality(conn, workdir, settings, session_id)
    finally:
        conn.close()
    result["quality"] = {
        "passed": all(gate.outcome != "fail" for gate in gates),
        "gates": [gate.to_dict() for gate in gates],
    }
    if not quiet:
        from buildrunner.cli.quality import print_gates

        print_gates(gates)
    return not result["quality"]["passed"]


def _write_report(store: Any, session_id: str, path: Path, quiet: bool) -> str:
    """`--report`: the build's HTML page; a failure to write it is said, not fatal."""
    from buildrunner.telemetry.report import write_report

    conn = store.connect()
    try:
        result = write_report(conn, session_id, path, logs_root=store.logs_dir)
    except OSError as exc:
        err_console.print(f"[red]cannot write the report {escape(str(path))}: {exc}[/red]")
        return ""
    finally:
        conn.close()
    if not quiet:
        err_console.print(f"report: {escape(str(result.path))}")
    return str(result.path)


def plan_workdir(plan_file: Path, workdir: str | None) -> Path:
    """Where a plan's tasks run: its file's folder, or its `workdir:` taken from there."""
    folder = (plan_file.parent / (workdir or ".")).resolve()
    if not folder.is_dir():
        fail(f"{plan_file}: workdir '{workdir}' is not a folder ({folder})")
    return folder


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        fail("the Ray backend needs Ray: pip install 'buildrunner[ray]'")
