"""Plan files: YAML (safe loader) validated with pydantic; errors name the file, line and task."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from buildrunner.errors import PlanError

TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_PLAN_BYTES = 5_000_000


class TaskSpec(BaseModel):
    """One task of a plan: a shell command (`run`) or an agent prompt (`prompt`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique task id (letters, digits, _ . : -).")
    run: str | None = Field(None, description="Shell command to run (a command task).")
    prompt: str | None = Field(None, description="Instruction for an AI agent (an agent task).")
    description: str | None = Field(None, description="Free text shown in reports.")
    files: list[str] = Field(
        default_factory=list,
        description="Paths (or globs/directories) the task may write; locked while it runs.",
    )
    depends_on: list[str] = Field(default_factory=list, description="Ids of tasks to run first.")
    model: str = Field("auto", description="auto | haiku | sonnet | opus | a catalog model id.")
    cost_limit_usd: float | None = Field(None, gt=0, description="Most this task may spend.")
    retries: int = Field(0, ge=0, le=20, description="Extra attempts after a failure or lost worker.")
    timeout_s: float | None = Field(None, gt=0, description="Kill the task after this many seconds.")
    priority: int = Field(0, description="Higher runs first among ready tasks.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    cwd: str | None = Field(None, description="Working directory, relative to the project root.")
    cpus: float = Field(1.0, gt=0, description="CPUs the task needs (used by the Ray backend).")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom resources (Ray backend)."
    )
    allow_commands: bool = Field(
        False, description="Agent tasks: allow the run_command tool (off by default)."
    )
    max_turns: int | None = Field(None, ge=1, description="Agent tasks: most tool-loop turns.")
    test: bool = Field(False, description="This task is the plan's test task (quality gate).")
    check: list[str] | None = Field(
        None,
        description="Agent tasks: command(s) that must pass for the agent's work to be accepted "
        "(default: the plan's `check`).",
    )
    fix_attempts: int | None = Field(
        None, ge=0, le=10,
        description="Agent tasks: fix rounds after a failed check before climbing to the next model "
        "(default: the plan's, 2).",
    )
    escalate: Literal["restart", "continue"] | None = Field(
        None,
        description="Agent tasks: the next model starts from the files as they were before the task "
        "(restart, the default) or from the previous model's edits (continue).",
    )
    inputs: list[str] = Field(
        default_factory=list,
        description="Paths, globs or directories the task reads: their content is part of its cache key.",
    )
    cache: bool | None = Field(
        None,
        description="Reuse the result of an identical earlier run (default: on for agent tasks and "
        "for command tasks that declare inputs).",
    )
    isolate: Literal["task", "session", "none"] | None = Field(
        None, description="Run in its own git worktree (task), the session's (session) or in place (none)."
    )
    approve: bool = Field(
        False, description="Pause for `br review approve` before the task's work is merged."
    )

    @field_validator("check", mode="before")
    @classmethod
    def _check_commands(cls, value: Any) -> Any:
        return _command_list(value)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not TASK_ID.match(value):
            raise ValueError("must be 1-128 letters, digits, '_', '.', ':' or '-'")
        return value

    @field_validator("files", "inputs")
    @classmethod
    def _check_files(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.strip():
                raise ValueError("file paths must not be empty")
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"'{path}' must be relative to the project and stay inside it")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> TaskSpec:
        if (self.run is None) == (self.prompt is None):
            if self.run is None:
                raise ValueError("a task needs either 'run' (a command) or 'prompt' (an agent task)")
            raise ValueError("a task has either 'run' or 'prompt', not both")
        if self.run is not None and not self.run.strip():
            raise ValueError("'run' must not be empty")
        if self.run is not None:
            agent_only = [
                name for name in ("check", "fix_attempts", "escalate")
                if getattr(self, name) is not None
            ]
            if agent_only:
                raise ValueError(
                    f"'{agent_only[0]}' is for agent tasks (a command task's exit code is its check)"
                )
        return self

    @property
    def kind(self) -> Literal["command", "agent"]:
        return "command" if self.run is not None else "agent"


class Plan(BaseModel):
    """A build: named tasks with dependencies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Name of the build.")
    description: str | None = None
    budget_usd: float | None = Field(None, gt=0, description="Hard budget for the whole session.")
    workers: int | None = Field(None, ge=1, le=256, description="Default --workers.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for every task.")
    workdir: str | None = Field(
        None, description="Folder the tasks run in, relative to the plan file (default: its folder)."
    )
    check: list[str] | None = Field(
        None, description="Default acceptance check(s) of agent tasks that name none."
    )
    fix_attempts: int = Field(
        2, ge=0, le=10, description="Default fix rounds per model after a failed check."
    )
    isolate: Literal["task", "session", "none"] | None = Field(
        None, description="Default isolation of tasks (see the task key)."
    )
    cache_env: list[str] = Field(
        default_factory=list,
        description="Environment variables whose values are part of every task's cache key.",
    )
    tasks: list[TaskSpec] = Field(min_length=1)

    @field_validator("check", mode="before")
    @classmethod
    def _check_commands(cls, value: Any) -> Any:
        return _command_list(value)

    def task(self, task_id: str) -> TaskSpec:
        return next(task for task in self.tasks if task.id == task_id)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)


def _command_list(value: Any) -> Any:
    """`check:` takes one command or a list of them; stored as a list of non-empty commands."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        if not value:
            raise ValueError("give at least one command (or leave the key out)")
        for command in value:
            if isinstance(command, str) and not command.strip():
                raise ValueError("check commands must not be empty")
    return value


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of plan files."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "BuildRunner plan"
    return schema


def load_plan(path: Path) -> Plan:
    """Read, parse and validate a plan file; PlanError names file, line and task on failure."""
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: plan file is larger than {MAX_PLAN_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: plan file not found") from None
    except IsADirectoryError:
        raise PlanError(f"{path}: is a directory, not a plan file") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """Parse plan YAML text (see load_plan)."""
    try:
        root_node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise PlanError(f"{source}{line}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        raise PlanError(f"{source}: not YAML text: character {exc.character!r} at offset {exc.position}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: YAML error: {' '.join(str(exc).split())}") from None
    lines = _LineIndex(root_node)
    if not isinstance(data, dict):
        raise PlanError(f"{source}:1: a plan is a mapping with 'name' and 'tasks'")
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(_describe_validation(exc, data, lines, source)) from None
    _check_graph(plan, lines, source)
    return plan


class _LineIndex:
    """Line numbers (1-based) of plan keys and task items, from the composed YAML node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line_of(self, loc: Iterable[Any]) -> int:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        for part in loc:
            child = self._child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    @staticmethod
    def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    return key if isinstance(value, yaml.ScalarNode) else value
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return node.value[part]
        return None


def _task_label(data: dict[str, Any], index: int) -> str:
    tasks = data.get("tasks")
    if isinstance(tasks, list) and index < len(tasks) and isinstance(tasks[index], dict):
        task_id = tasks[index].get("id")
        if task_id is not None:
            return f"task '{task_id}'"
    return f"task #{index + 1}"


def _describe_validation(
    exc: ValidationError, data: dict[str, Any], lines: _LineIndex, source: str
) -> str:
    error = exc.errors()[0]
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
    line = lines.line_of(loc)
    where = ""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        where = _task_label(data, loc[1]) + ": "
        field = ".".join(str(p) for p in loc[2:])
    else:
        field = ".".join(str(p) for p in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    subject = f"'{field}': " if field else ""
    extra = len(exc.errors()) - 1
    more = f" (and {extra} more error{'s' if extra > 1 else ''})" if extra else ""
    return f"{source}:{line}: {where}{subject}{message}{more}"


def _check_graph(plan: Plan, lines: _LineIndex, source: str) -> None:
    seen: dict[str, int] = {}
    for index, task in enumerate(plan.tasks):
        if task.id in seen:
            line = lines.line_of(["tasks", index, "id"])
            raise PlanError(
                f"{source}:{line}: task '{task.id}': duplicate id "
                f"(first defined as task #{seen[task.id] + 1})"
            )
        seen[task.id] = index
    for index, task in enumerate(plan.tasks):
        for dep_index, dep in enumerate(task.depends_on):
            if dep not in seen:
                line = lines.line_of(["tasks", index, "depends_on", dep_index])
                raise PlanError(
                    f"{source}:{line}: task '{task.id}': depends_on names unknown task '{dep}'"
                )
            if dep == task.id:
                line = lines.line_of(["tasks", index, "depends_on", dep_index])
                raise PlanError(f"{source}:{line}: task '{task.id}': depends on itself")
    cycle = find_cycle(plan)
    if cycle:
        index = seen[cycle[0]]
        line = lines.line_of(["tasks", index, "depends_on"])
        raise PlanError(
            f"{source}:{line}: task '{cycle[0]}': dependency cycle {' -> '.join(cycle)}"
        )


def find_cycle(plan: Plan) -> list[str] | None:
    """A dependency cycle as a list of ids (first repeated at the end), or None."""
    deps = {task.id: task.depends_on for task in plan.tasks}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for start in deps:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        state[start] = 1
        while stack:
            node, next_index = stack[-1]
            if next_index < len(deps[node]):
                stack[-1] = (node, next_index + 1)
                child = deps[node][next_index]
                if state.get(child) == 1:
                    return [*path[path.index(child) :], child]
                if not state.get(child):
                    state[child] = 1
                    stack.append((child, 0))
                    path.append(child)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


def topological_order(plan: Plan) -> list[str]:
    """Task ids so that every task comes after its dependencies (plan order among equals)."""
    remaining = {task.id: set(task.depends_on) for task in plan.tasks}
    order: list[str] = []
    while remaining:
        ready = [task.id for task in plan.tasks if task.id in remaining and not remaining[task.id]]
        if not ready:
            raise PlanError("dependency cycle")
        for task_id in ready:
            del remaining[task_id]
            order.append(task_id)
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def dependents(plan: Plan) -> dict[str, list[str]]:
    """For each task id, the ids of the tasks that depend on it directly."""
    result: dict[str, list[str]] = {task.id: [] for task in plan.tasks}
    for task in plan.tasks:
        for dep in task.depends_on:
            result[dep].append(task.id)
    return result
