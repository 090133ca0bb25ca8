"""A fake `claude` executable: a small Python script put on PATH that prints the CLI's JSON output.

Scripted with a queue of runs in a JSON file; each run may write files into its working
directory (as Claude Code's edit tools would), print a result object, write to stderr, exit with
a code, or sleep. Every invocation's argv, stdin and cwd are appended to a JSONL log.

    fake = FakeClaude.install(tmp_path, monkeypatch)
    fake.script(fake.run(result="done", writes={"app.py": "x = 1\\n"}, cost=0.0123))
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = """\
#!{python}
import json, os, sys, time
plan_path = os.environ["FAKE_CLAUDE_PLAN"]
log_path = os.environ["FAKE_CLAUDE_LOG"]
prompt = sys.stdin.read()
with open(log_path, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": prompt, "cwd": os.getcwd(),
                          "env_key": os.environ.get("ANTHROPIC_API_KEY"),
                          "max_retries": os.environ.get("CLAUDE_CODE_MAX_RETRIES")}}) + "\\n")
with open(plan_path) as handle:
    runs = json.load(handle)
if not runs:
    print("fake claude: no run scripted", file=sys.stderr)
    sys.exit(3)
run, rest = runs[0], runs[1:]
with open(plan_path, "w") as handle:
    json.dump(rest, handle)
time.sleep(run.get("sleep_s", 0))
for name, content in run.get("writes", {{}}).items():
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open(name, "w") as handle:
        handle.write(content)
if run.get("stderr"):
    print(run["stderr"], file=sys.stderr)
if run.get("stdout") is not None:
    sys.stdout.write(run["stdout"])
sys.exit(run.get("exit_code", 0))
"""


def result_json(
    *,
    result: str = "done",
    is_error: bool = False,
    subtype: str = "success",
    input_tokens: int = 1200,
    output_tokens: int = 340,
    cache_write: int = 2000,
    cache_read: int = 15000,
    cost: float | None = 0.0421,
    num_turns: int = 4,
    model: str = "claude-sonnet-4-5",
    permission_denials: list[dict[str, Any]] | None = None,
    session_id: str = "0b7c9c1e-5a34-4a51-9a2b-1f3c2d4e5f60",
    top_level_usage: dict[str, int] | None = None,
    api_error_status: int | None = None,
) -> dict[str, Any]:
    """A result object in the shape `claude -p --output-format json` prints.

    `top_level_usage` overrides the `usage` object (the real CLI's can disagree with its
    per-model `modelUsage`, which the token arguments fill).
    """
    data: dict[str, Any] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 8123,
        "duration_api_ms": 7001,
        "num_turns": num_turns,
        "result": result,
        "api_error_status": api_error_status,
        "session_id": session_id,
        "usage": {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": output_tokens,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard",
            **(top_level_usage or {}),
        },
        "modelUsage": {
            model: {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "cacheReadInputTokens": cache_read,
                "cacheCreationInputTokens": cache_write,
                "costUSD": cost,
            }
        },
        "permission_denials": permission_denials or [],
        "uuid": "5f0e1d2c-3b4a-4968-8776-a5b4c3d2e1f0",
    }
    if cost is not None:
        data["total_cost_usd"] = cost
    return data


def verbose_output(
    result: dict[str, Any], tool_calls: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The `--verbose` JSON array: init, one assistant message per tool call, the result."""
    items: list[dict[str, Any]] = [
        {"type": "system", "subtype": "init", "session_id": result["session_id"]}
    ]
    for number, (name, tool_input) in enumerate(tool_calls):
        block = {"type": "tool_use", "id": f"toolu_{number}", "name": name, "input": tool_input}
        items.append({"type": "assistant", "message": {"role": "assistant", "content": [block]}})
        items.append(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": f"toolu_{number}", "content": "ok"}
                    ],
                },
            }
        )
    return [*items, result]


@dataclass
class FakeClaude:
    bin_dir: Path
    plan_path: Path
    log_path: Path

    @classmethod
    def install(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeClaude:
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir()
        executable = bin_dir / "claude"
        executable.write_text(_SCRIPT.format(python=sys.executable))
        executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        fake = cls(bin_dir, tmp_path / "fake-claude-plan.json", tmp_path / "fake-claude-log.jsonl")
        fake.plan_path.write_text("[]")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FAKE_CLAUDE_PLAN", str(fake.plan_path))
        monkeypatch.setenv("FAKE_CLAUDE_LOG", str(fake.log_path))
        return fake

    @staticmethod
    def run(
        *,
        output: dict[str, Any] | list[dict[str, Any]] | str | None = None,
        writes: dict[str, str] | None = None,
        stderr: str = "",
        exit_code: int = 0,
        sleep_s: float = 0.0,
        tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
        **result_fields: Any,
    ) -> dict[str, Any]:
        """One scripted invocation; by default prints `result_json(**result_fields)`.

        With `tool_calls` it prints what `--verbose` prints: the session's messages (one
        assistant message per tool call) ending with the result object.
        """
        if output is None:
            output = result_json(**result_fields)
            if tool_calls is not None:
                output = verbose_output(output, tool_calls)
        stdout = output if isinstance(output, str) else json.dumps(output)
        return {
            "stdout": stdout,
            "writes": writes or {},
            "stderr": stderr,
            "exit_code": exit_code,
            "sleep_s": sleep_s,
        }

    def script(self, *runs: dict[str, Any]) -> None:
        queued = json.loads(self.plan_path.read_text())
        self.plan_path.write_text(json.dumps([*queued, *runs]))

    @property
    def invocations(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]
