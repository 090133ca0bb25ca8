"""`br plan ...`: validate plan files and print their JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console

app = typer.Typer(help="Validate plan files and print their JSON Schema.", no_args_is_help=True)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of plan files (for editors and CI).

    \b
    Examples:
      br plan schema > plan.schema.json
    """
    from buildrunner.parallel.plan import plan_json_schema

    emit_json(plan_json_schema())


@app.command("validate")
def validate_command(
    plan_file: Path = typer.Argument(..., help="The plan YAML file to check."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Check a plan: syntax, fields, unknown dependencies, duplicates, cycles and folders.

    \b
    Examples:
      br plan validate plan.yaml
      br plan validate plan.yaml --json
    """
    from buildrunner.parallel.plan import load_plan, topological_order
    from buildrunner.parallel.preflight import check_folders, plan_folder

    plan = load_plan(plan_file)
    order = topological_order(plan)
    check_folders(plan, plan_folder(plan, plan_file))
    counts = {
        "command": sum(task.kind == "command" for task in plan.tasks),
        "agent": sum(task.kind == "agent" for task in plan.tasks),
    }
    if json_output:
        emit_json({"valid": True, "name": plan.name, "tasks": counts, "order": order})
        return
    from rich.markup import escape

    from buildrunner.display import printable

    shown_file, shown_name = (
        escape(printable(str(text), one_line=True)) for text in (plan_file, plan.name)
    )
    err_console.print(
        f"[green]valid[/green] {shown_file}: '{shown_name}', {len(plan.tasks)} tasks "
        f"({counts['command']} command, {counts['agent']} agent)"
    )
