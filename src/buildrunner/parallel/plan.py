"""Plan files: YAML (safe loader) validated with pydantic; errors name the file, line and task.

Every number has a range a build can honour (a timeout of `.inf` or a priority past SQLite's
64-bit integers is refused here, not when the store or a timer meets it), text fields hold no NUL
byte, and paths (`files`, `inputs`, `cwd`) stay inside the project.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from buildrunner.errors import PlanError
from buildrunner.parallel import plan_graph
from buildrunner.parallel.plan_messages import check_graph, describe_validation
from buildrunner.parallel.plan_yaml import PlanYAMLError, gc_paused, load_yaml
from buildrunner.userfiles import read_text

TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PLAN_BYTES = 5_000_000
MAX_TIMEOUT_S = 30 * 24 * 3600.0  # a task that may run a month is a task without a timeout
MAX_USD = 1_000_000.0
MAX_PRIORITY = 1_000_000  # far inside SQLite's 64-bit integers
MAX_CPUS = 4096.0
MAX_TURNS = 10_000

# Shared by TaskSpec and Plan: floats are finite (no .inf / .nan), strings hold no NUL byte.
MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TaskSpec(BaseModel):
    """One task of a plan: a shell command (`run`) or an agent prompt (`prompt`)."""

    model_config = MODEL_CONFIG

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
    cost_limit_usd: float | None = Field(
        None, gt=0, le=MAX_USD, description="Most this task may spend."
    )
    retries: int = Field(
        0, ge=0, le=20, description="Extra attempts after a failure or lost worker."
    )
    timeout_s: float | None = Field(
        None, gt=0, le=MAX_TIMEOUT_S, description="Kill the task after this many seconds."
    )
    priority: int = Field(
        0, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Higher runs first among ready tasks."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    cwd: str | None = Field(
        None,
        description="Working directory, relative to the folder the tasks run in; stays inside it.",
    )
    cpus: float = Field(
        1.0, gt=0, le=MAX_CPUS, description="CPUs the task needs (used by the Ray backend)."
    )
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom resources (Ray backend)."
    )
    allow_commands: bool = Field(
        False, description="Agent tasks: allow the run_command tool (off by default)."
    )
    max_turns: int | None = Field(
        None, ge=1, le=MAX_TURNS, description="Agent tasks: most tool-loop turns."
    )
    test: bool = Field(False, description="This task is the plan's test task (quality gate).")
    check: list[str] | None = Field(
        None,
        description="Agent tasks: command(s) that must pass for the agent's work to be accepted "
        "(default: the plan's `check`).",
    )
    fix_attempts: int | None = Field(
        None,
        ge=0,
        le=10,
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
        None,
        description="Run in its own git worktree (task), the session's (session) or in place (none).",
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
            _check_inside(path)
        return value

    @field_validator("cwd")
    @classmethod
    def _check_cwd(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("must not be empty (leave it out to run in the plan's folder)")
            _check_inside(value)
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_env_names(value)

    @field_validator("resources")
    @classmethod
    def _check_resources(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            if not 0 <= amount <= MAX_CPUS * 1000:
                raise ValueError(f"resource '{name}' must be between 0 and {MAX_CPUS * 1000:g}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> TaskSpec:
        if (self.run is None) == (self.prompt is None):
            if self.run is None:
                raise ValueError(
                    "a task needs either 'run' (a command) or 'prompt' (an agent task)"
                )
            raise ValueError("a task has either 'run' or 'prompt', not both")
        if self.run is not None and not self.run.strip():
            raise ValueError("'run' must not be empty")
        if self.run is not None and (
            self.check is not None or self.fix_attempts is not None or self.escalate is not None
        ):
            agent_only = [
                name
                for name in ("check", "fix_attempts", "escalate")
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

    model_config = MODEL_CONFIG

    name: str = Field(description="Name of the build.")
    description: str | None = None
    budget_usd: float | None = Field(
        None, gt=0, le=MAX_USD, description="Hard budget for the whole session."
    )
    workers: int | None = Field(None, ge=1, le=256, description="Default --workers.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for every task.")
    workdir: str | None = Field(
        None,
        description="Folder the tasks run in, relative to the plan file (default: its folder).",
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

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_env_names(value)

    def task(self, task_id: str) -> TaskSpec:
        return self.tasks_by_id[task_id]

    @cached_property
    def tasks_by_id(self) -> dict[str, TaskSpec]:
        """The tasks by id (built once; not a field, so not dumped or compared)."""
        return {task.id: task for task in self.tasks}

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A plan stored by `to_json`; PlanError (one line) if the stored text is damaged."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "plan"
            raise PlanError(f"stored plan is damaged: '{where}': {error['msg']}") from None
        except (ValueError, TypeError) as exc:
            raise PlanError(f"stored plan is damaged: {exc}") from None


def _check_inside(path: str) -> None:
    """A declared path must be relative and stay inside the folder the tasks run in."""
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts:
        raise ValueError(f"'{path}' must be relative to the project and stay inside it")


def _check_env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not ENV_NAME.match(name):
            raise ValueError(f"'{name}' is not an environment variable name (letters, digits, _)")
    return env


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


def load_plan(path: Path | str) -> Plan:
    """Read, parse and validate a plan file; PlanError names file, line and task on failure."""
    path = Path(path)
    text = read_text(path, max_bytes=MAX_PLAN_BYTES, what="plan file", error=PlanError)
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """Parse plan YAML text (see load_plan)."""
    try:
        data, lines = load_yaml(text)
    except PlanYAMLError as exc:
        raise PlanError(f"{source}:{exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise PlanError(f"{source}{line}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        raise PlanError(
            f"{source}: not YAML text: character {exc.character!r} at offset {exc.position}"
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: YAML error: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{source}:1: a plan is a mapping with 'name' and 'tasks'")
    with gc_paused():  # thousands of new objects: generational GC would make this quadratic
        try:
            plan = Plan.model_validate(data)
        except ValidationError as exc:
            raise PlanError(describe_validation(exc, data, lines, source)) from None
        check_graph(plan.tasks, data, lines, source)
    return plan


def find_cycle(plan: Plan) -> list[str] | None:
    """A dependency cycle as a list of ids (first repeated at the end), or None."""
    return plan_graph.find_cycle(plan.tasks)


def topological_order(plan: Plan) -> list[str]:
    """Task ids so that every task comes after its dependencies (plan order among equals)."""
    try:
        return plan_graph.topological_order(plan.tasks)
    except ValueError:
        raise PlanError("dependency cycle") from None


def dependents(plan: Plan) -> dict[str, list[str]]:
    """For each task id, the ids of the tasks that depend on it directly."""
    return plan_graph.dependents(plan.tasks)
