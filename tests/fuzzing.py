"""Inputs that try to break br, and the one property every answer must have.

Each generator takes a `random.Random` so a run is fixed by its seed: a failure names the seed
and the case number, and `replay(seed, number)` rebuilds that very input. The property: br exits
0, 1 or 2; never 3 (a bug), never a traceback or `internal error`, never a hang (a per-case alarm);
an exit 2 ends with one `br: error: ...` line.
"""

from __future__ import annotations

import contextlib
import io
import random
import signal
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from buildrunner.cli.main import run_cli

CASE_TIMEOUT_S = 20  # a case still running after this is a hang

ODD_NUMBERS = [
    "0",
    "-1",
    "-3",
    "1e308",
    "1e400",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    ".inf",
    ".nan",
    "99999999999999999999999",
    "1e-6",
    "0.0000001",
    "3",
    "1_000",
    "0x10",
    "1e3",
]
ODD_TEXT = [
    "",
    " ",
    "a",
    "\u00e9\u00e8",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "a\rb",
    "x" * 5000,
    "../..",
    "/",
    "~",
    "$HOME",
    "`id`",
    "a;b",
    "*",
    "[z-a]",
    "\\",
    "\udcff",
    "-",
    "--",
    "--json",
    "nul\x00byte",
    "\u202etxt.exe",
    "NaN",
    "null",
    "{}",
    "[]",
]
GOOD_PLAN = {
    "name": "fuzz",
    "tasks": [
        {"id": "a", "run": "true"},
        {"id": "b", "run": "echo b", "depends_on": ["a"], "files": ["out/b.txt"]},
        {"id": "c", "prompt": "Add a README", "files": ["README.md"], "depends_on": ["a"]},
    ],
}
TASK_KEYS = [
    "id",
    "run",
    "prompt",
    "files",
    "depends_on",
    "model",
    "cost_limit_usd",
    "retries",
    "timeout_s",
    "priority",
    "env",
    "cwd",
    "cpus",
    "resources",
    "allow_commands",
    "max_turns",
    "test",
    "check",
    "fix_attempts",
    "escalate",
    "inputs",
    "cache",
    "isolate",
    "approve",
    "description",
    "bogus",
]
PLAN_KEYS = [
    "name",
    "description",
    "budget_usd",
    "workers",
    "env",
    "workdir",
    "check",
    "fix_attempts",
    "isolate",
    "cache_env",
    "tasks",
    "extra",
]
SETTINGS = {
    "store": ["busy_timeout_s"],
    "run": ["workers", "backend", "default_timeout_s", "log_max_bytes"],
    "parallel": ["heartbeat_interval_s", "heartbeat_timeout_s", "lock_poll_s", "queue_ahead"],
    "telemetry": ["retention_days", "batch_size", "flush_interval_s", "window_s"],
    "routing": ["max_turns", "request_timeout_s", "default_cost_limit_usd", "estimator"],
    "security": ["max_file_bytes", "gate", "secrets"],
    "quality": ["min_coverage"],
}
READ_COMMANDS = [
    ["plan", "validate", "plan.yaml"],
    ["plan", "validate"],
    ["plan", "schema"],
    ["run", "plan.yaml", "--dry-run"],
    ["run", "plan.yaml", "--dry-run", "--json"],
    ["parallel", "list"],
    ["parallel", "status"],
    ["parallel", "workers"],
    ["parallel", "locks"],
    ["parallel", "summary"],
    ["telemetry", "summary"],
    ["telemetry", "events"],
    ["telemetry", "alerts"],
    ["telemetry", "performance"],
    ["routing", "estimate"],
    ["routing", "select"],
    ["routing", "models"],
    ["routing", "costs"],
    ["routing", "budget", "show"],
    ["quality", "check"],
    ["gaps", "analyze"],
]
OPTIONS = [
    "--json",
    "--hours",
    "--limit",
    "--status",
    "--session",
    "--type",
    "--since",
    "--by",
    "--level",
    "--workers",
    "--budget",
    "--backend",
    "--isolate",
    "--name",
    "--period",
    "--cost-limit",
    "--model",
    "--slowest",
    "--all",
    "-n",
    "-s",
    "-w",
]


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def odd_scalar(rng: random.Random) -> Any:
    """A value of a surprising type or size."""
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice([True, False, None])
    if choice == 1:
        return rng.choice([0, -1, 10**30, -(10**30), 2**63, 1, 256, 257])
    if choice == 2:
        return rng.choice([float("inf"), float("-inf"), float("nan"), 1e308, 1e-9, -0.0, 0.5])
    if choice == 3:
        return rng.choice(ODD_TEXT)
    if choice == 4:
        return [odd_scalar(rng) for _ in range(rng.randrange(3))]
    if choice == 5:
        return {rng.choice([*ODD_TEXT[:8], "A", "PATH"]): odd_scalar(rng)}
    if choice == 6:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(12)))
    return rng.choice(ODD_NUMBERS)


def plan_text(rng: random.Random) -> str:
    """A plan: a good one mutated, random YAML-ish text, or a structural attack."""
    kind = rng.randrange(10)
    if kind == 0:
        depth = rng.choice([50, 70, 1000, 3000])
        return "name: x\ntasks: " + "[" * depth + "]" * depth + "\n"
    if kind == 1:
        return "name: x\ntasks:\n" + "".join(
            f"  - id: t{i}\n    run: 'true'\n"
            + (f"    depends_on: [t{rng.randrange(i)}]\n" if i else "")
            for i in range(rng.randrange(1, 300))
        )
    if kind == 2:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        lines += [
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, rng.randrange(2, 9))
        ]
        return "\n".join(lines) + f"\nname: x\ntasks: *a{len(lines) - 1}\n"
    if kind == 3:
        alphabet = "abcxyz:- \n[]{}'\"#&*!|>%@`\t0123456789.\\"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(200)))
    if kind == 4:
        good = yaml.safe_dump(GOOD_PLAN, sort_keys=False)
        lines = good.splitlines()
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index])  # a duplicated line: often a duplicate key
        return "\n".join(lines) + "\n"
    plan: dict[str, Any] = {"name": "fuzz", "tasks": [dict(task) for task in GOOD_PLAN["tasks"]]}
    for _ in range(rng.randrange(1, 4)):
        if rng.random() < 0.3:
            plan[rng.choice(PLAN_KEYS)] = odd_scalar(rng)
        else:
            task = (
                rng.choice(plan["tasks"])
                if isinstance(plan.get("tasks"), list) and plan["tasks"]
                else {}
            )
            if isinstance(task, dict):
                task[rng.choice(TASK_KEYS)] = odd_scalar(rng)
    try:
        return yaml.safe_dump(plan, allow_unicode=rng.random() < 0.5)
    except yaml.YAMLError:
        return "name: x\n"


def settings_text(rng: random.Random) -> str:
    """A buildrunner.toml with odd values (or plain junk)."""
    if rng.random() < 0.15:
        return "".join(rng.choice("[]=\"'abrunworkesdtlmy_.0123456789 \n-\\") for _ in range(80))
    lines = []
    for section, keys in SETTINGS.items():
        if rng.random() < 0.4:
            lines.append(f"[{section}]")
            for key in rng.sample(keys, rng.randrange(1, len(keys) + 1)):
                value = rng.choice([*ODD_NUMBERS, '"x"', "true", "[]", '"inf"', "-0.0"])
                lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def environment(rng: random.Random) -> dict[str, str]:
    """BR_* variables with odd values."""
    env = {}
    for _ in range(rng.randrange(3)):
        section = rng.choice(list(SETTINGS))
        key = rng.choice(SETTINGS[section])
        env[f"BR_{section.upper()}_{key.upper()}"] = rng.choice([*ODD_NUMBERS, "x", "", "true"])
    return env


def arguments(rng: random.Random) -> list[str]:
    """A read-only command with random options and odd values."""
    args = list(rng.choice(READ_COMMANDS))
    for _ in range(rng.randrange(4)):
        if rng.random() < 0.6:
            args.append(rng.choice(OPTIONS))
        args.append(rng.choice(ODD_NUMBERS + [text for text in ODD_TEXT if "\x00" not in text]))
    return args


def invoke(args: list[str]) -> Outcome:
    """`br ARGS` in this process through the real entry point, with a hang alarm."""
    out, err = io.StringIO(), io.StringIO()

    def hang(signum: int, frame: Any) -> None:
        raise TimeoutError(f"br {' '.join(args)!r} still running after {CASE_TIMEOUT_S}s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(args)
    except SystemExit as exc:  # a command may still raise it deep inside
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue())


def check(outcome: Outcome, what: str) -> None:
    """The property every answer of br must have."""
    text = outcome.stdout + outcome.stderr
    assert outcome.code in (0, 1, 2), f"{what}: exit {outcome.code}\n{outcome.stderr[-3000:]}"
    assert "Traceback" not in text and "internal error" not in text, f"{what}\n{text[-3000:]}"
    if outcome.code == 2 and "br: error:" in outcome.stderr:
        last = outcome.stderr.strip().splitlines()[-1]
        assert last.startswith("br: error: "), f"{what}\n{outcome.stderr[-3000:]}"


def cases(seed: int, count: int) -> Iterator[tuple[int, random.Random]]:
    """(case number, its own generator): case N is the same whatever ran before it."""
    for number in range(count):
        yield number, random.Random(f"{seed}:{number}")


def run_campaign(
    project: Path,
    seed: int,
    count: int,
    set_env: Callable[[dict[str, str]], None],
    clear_env: Callable[[], None],
    *,
    budget_s: float | None = None,
) -> int:
    """Run up to `count` cases (fewer if `budget_s` runs out) in `project`; how many ran."""
    ran = 0
    deadline = None if budget_s is None else time.monotonic() + budget_s
    for number, rng in cases(seed, count):
        if deadline is not None and time.monotonic() > deadline:
            break
        kind = number % 3
        (project / "plan.yaml").write_text(
            plan_text(rng), encoding="utf-8", errors="surrogateescape"
        )
        (project / "buildrunner.toml").unlink(missing_ok=True)
        clear_env()
        if kind == 0:
            args = rng.choice(
                [
                    ["plan", "validate", "plan.yaml"],
                    ["run", "plan.yaml", "--dry-run"],
                    ["run", "plan.yaml", "--dry-run", "--json"],
                ]
            )
        elif kind == 1:
            (project / "buildrunner.toml").write_text(settings_text(rng), encoding="utf-8")
            set_env(environment(rng))
            args = rng.choice(READ_COMMANDS)
        else:
            args = arguments(rng)
        check(invoke(args), f"seed {seed} case {number}: br {args!r}")
        ran += 1
    (project / "buildrunner.toml").unlink(missing_ok=True)
    clear_env()
    return ran


def env_setters(monkeypatch: Any) -> tuple[Callable[[dict[str, str]], None], Callable[[], None]]:
    """(set, clear) for BR_* variables through a pytest MonkeyPatch (BR_PROJECT_DIR is kept)."""
    import os

    def set_env(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    def clear_env() -> None:
        for name in list(os.environ):
            if name.startswith("BR_") and name != "BR_PROJECT_DIR":
                monkeypatch.delenv(name)

    return set_env, clear_env
