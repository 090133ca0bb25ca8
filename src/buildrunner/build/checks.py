"""Acceptance checks of an agent task: commands that must pass for its work to be accepted.

After the agent stops, each check runs in the task's working directory with the task's
environment and timeout, its output masked into the task's log (the same runner as command
tasks). The first failing check ends the round: its command and the tail of its output are what
the agent sees in the next fix round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildrunner.executors.command import CommandRunner
from buildrunner.security.masking import mask_text

TAIL_LINES = 40  # of a failing check's output, sent back to the agent and kept in events
TAIL_CHARS = 4_000


@dataclass(frozen=True)
class CheckResult:
    command: str
    passed: bool
    exit_code: int | None
    duration_s: float
    timed_out: bool
    output_tail: str  # the last lines of its output, masked

    def feedback(self) -> str:
        """What the agent is told about this failure in its next fix round."""
        how = "timed out" if self.timed_out else f"exited with code {self.exit_code}"
        tail = self.output_tail or "(no output)"
        return f"The check `{self.command}` {how}. The end of its output:\n\n{tail}"


@dataclass(frozen=True)
class Round:
    """Where on the ladder a check runs, for its events."""

    attempt: int
    rung: int
    round: int
    model: str


def run_checks(
    commands: Sequence[str],
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout_s: float | None,
    log_path: Path,
    where: Round,
    emit: Callable[[dict[str, Any]], None],
    runner_factory: Callable[[], CommandRunner] = CommandRunner,
) -> list[CheckResult]:
    """Run `commands` in order until one fails; every result, the failing one last.

    Checks write no Python bytecode: a check that imports a module would cache it, and when the
    next fix round rewrites the module in the same second at the same size (`a - b` -> `a + b`),
    Python would trust the cached file and the check would run the old code again.
    """
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    results: list[CheckResult] = []
    for index, command in enumerate(commands, 1):
        shown = mask_text(command)  # a command can hold a credential too
        common = {
            "attempt": where.attempt,
            "rung": where.rung,
            "round": where.round,
            "model": where.model,
            "command": shown,
        }
        emit({"type": "check_started", **common})
        header = (
            f"--- check {index}/{len(commands)} (rung {where.rung}, round {where.round}, "
            f"{where.model}): {shown}\n"
        )
        _append(log_path, header)
        start = _size(log_path)
        started = time.monotonic()
        outcome = runner_factory().run(
            command, cwd=workdir, env=env, log_path=log_path, timeout_s=timeout_s
        )
        duration_s = time.monotonic() - started
        passed = outcome.exit_code == 0 and not outcome.timed_out and not outcome.cancelled
        tail = "" if passed else _tail(log_path, start)
        result = CheckResult(shown, passed, outcome.exit_code, duration_s, outcome.timed_out, tail)
        results.append(result)
        timing = {"exit_code": outcome.exit_code, "duration_ms": round(duration_s * 1000, 3)}
        if passed:
            emit({"type": "check_passed", **common, **timing})
            continue
        if outcome.timed_out:
            _append(log_path, f"[BuildRunner: the check timed out after {timeout_s:g}s]\n")
        emit(
            {
                "type": "check_failed",
                **common,
                **timing,
                "timed_out": outcome.timed_out,
                "output_tail": tail,
            }
        )
        break
    return results


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(text)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, start: int) -> str:
    """The last lines the check wrote (the log is masked as it is written)."""
    try:
        with path.open("rb") as log:
            log.seek(max(start, _size(path) - TAIL_CHARS * 4))
            data = log.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()[-TAIL_LINES:]
    text = "\n".join(lines)
    return text[-TAIL_CHARS:]
