"""Verified agent tasks end to end: `br run` against the local Messages API server.

The 'models' are scripted by family: each writes calc.py, right or wrong as the scenario says,
and answers a failed check in the next round. The checks are real commands run by br.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan
from tests.fakes.messages_server import MessagesServer, RecordedRequest, Reply, text, tool_use
from tests.security.tokens import TokenFactory

RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
CHECK = "python -c \"import calc; assert calc.add(2, 3) == 5, 'add(2, 3) is not 5'\""
SECRET = TokenFactory(11).github()


def _rounds(request: RecordedRequest) -> int:
    """How many failed checks this conversation was told about (0: the first answer)."""
    count = 0
    for message in request.body["messages"]:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        count += sum("The check `" in str(block.get("text", "")) for block in blocks)
    return count


def agent(
    right_on: Callable[[str, int], bool],
    input_tokens: Callable[[str, bool], int] = lambda family, done: 400 if done else 600,
) -> Callable[[RecordedRequest], Reply]:
    """A model that writes calc.py (right when `right_on(family, round)`), then says it is done;
    `input_tokens(family, done)` is what each call reads."""

    def respond(request: RecordedRequest) -> Reply:
        last = request.body["messages"][-1]
        content = last.get("content")
        family = next(f for f in ("haiku", "sonnet", "opus") if f in request.model)
        if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):
            return text(
                "I wrote calc.add.", input_tokens=input_tokens(family, True), output_tokens=20
            )
        code = RIGHT if right_on(family, _rounds(request)) else WRONG
        return tool_use(
            "write_file",
            {"path": "calc.py", "content": code},
            input_tokens=input_tokens(family, False),
            output_tokens=80,
        )

    return respond


@pytest.fixture
def project_with(project: Path) -> Iterator[Callable[..., MessagesServer]]:
    servers: list[MessagesServer] = []

    def start(responder: Callable[[RecordedRequest], Reply], **routing: Any) -> MessagesServer:
        server = MessagesServer(responder=responder).start()
        servers.append(server)
        extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in routing.items())
        (project / ".buildrunner").mkdir(exist_ok=True)
        (project / ".buildrunner" / "config.toml").write_text(
            f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n{extra}'
        )
        (project / "calc.py").write_text("def add(a, b):\n    raise NotImplementedError\n")
        return server

    yield start
    for server in servers:
        server.stop()


def plan(check: str = CHECK, **task: Any) -> str:
    extra = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in task.items())
    return (
        "name: verified\ntasks:\n  - id: add\n    prompt: Make calc.add return the sum\n"
        f"    files: [calc.py]\n    check: {json.dumps(check)}\n{extra}"
    )


def events(root: Path, *types: str) -> list[dict[str, Any]]:
    conn = Store(root).connect()
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT type, payload FROM events ORDER BY ts, id").fetchall()
    return [json.loads(r["payload"]) | {"type": r["type"]} for r in rows if r["type"] in types]


def run(root: Path) -> tuple[int, dict[str, Any], str]:
    result = run_br("run", "plan.yaml", "--json", timeout=180)
    human = run_br("parallel", "status", "--json")
    assert human.returncode == 0
    return result.returncode, json.loads(result.stdout), result.stderr


def test_accepted_on_the_first_try(project: Path, project_with: Any) -> None:
    server = project_with(agent(lambda family, rounds: True))
    write_plan(project, plan())
    code, data, _ = run(project)
    assert code == 0 and data["status"] == "completed"
    assert (project / "calc.py").read_text() == RIGHT
    accepted = events(project, "task_accepted")
    assert len(accepted) == 1 and accepted[0]["rung"] == 1 and accepted[0]["fix_rounds"] == 0
    assert "haiku" in server.models_called[0]  # a checked task starts on the cheap rung
    checks = events(project, "check_started", "check_passed")
    assert [e["type"] for e in checks] == ["check_started", "check_passed"]
    conn = Store(project).connect()
    row = conn.execute("SELECT verdict, rung, fix_rounds FROM tasks").fetchone()
    assert tuple(row) == ("accepted", 1, 0)
    stats = json.loads(run_br("routing", "stats", "--json").stdout)
    assert stats  # the rung outcome was recorded for routing by outcomes


def test_a_failed_check_is_fixed_in_the_loop(project: Path, project_with: Any) -> None:
    server = project_with(agent(lambda family, rounds: rounds >= 1))
    write_plan(project, plan())
    code, data, _ = run(project)
    assert code == 0, data
    assert (project / "calc.py").read_text() == RIGHT
    failed = events(project, "check_failed")
    assert len(failed) == 1 and "add(2, 3) is not 5" in failed[0]["output_tail"]
    accepted = events(project, "task_accepted")[0]
    assert accepted["rung"] == 1 and accepted["fix_rounds"] == 1
    # the fix round went back into the same conversation, with the check's output
    fix_request = next(r for r in server.requests if _rounds(r) == 1)
    assert "add(2, 3) is not 5" in json.dumps(fix_request.body["messages"])
    assert len({r.model for r in server.requests}) == 1


def test_fix_rounds_spent_the_task_climbs_and_opus_is_accepted(
    project: Path, project_with: Any
) -> None:
    server = project_with(agent(lambda family, rounds: family == "opus"), value_of_resolve=8)
    write_plan(project, plan(fix_attempts=1))
    code, _, stderr = run(project)
    assert code == 0, stderr
    assert (project / "calc.py").read_text() == RIGHT
    climbs = events(project, "task_escalated")
    assert [(e["rung"], e["to_model"].split("-")[1]) for e in climbs] == [
        (2, "sonnet"),
        (3, "opus"),
    ]
    accepted = events(project, "task_accepted")[0]
    assert accepted["rung"] == 3 and "opus" in accepted["model"]
    # each rung started from the files as they were: the next one was told what failed
    opus_first = next(r for r in server.requests if "opus" in r.model)
    assert "did not pass the task's checks" in json.dumps(opus_first.body["messages"][0])
    assert len(events(project, "check_failed")) == 4  # 2 rounds on each of 2 rungs
    outcomes = json.loads(run_br("routing", "stats", "--json").stdout)
    assert outcomes


def test_the_budget_stops_the_climb_and_the_task_is_rejected(
    project: Path, project_with: Any
) -> None:
    # the ladder fits the limit by estimate (haiku -> sonnet), but haiku reads far more than
    # estimated: what is left cannot pay for sonnet's first call
    def reads(family: str, done: bool) -> int:
        if family == "haiku":
            return 33_000 if done else 30_000
        return 400 if done else 600

    server = project_with(agent(lambda family, rounds: False, reads))
    write_plan(project, plan(fix_attempts=0, cost_limit_usd=0.07))
    code, data, _ = run(project)
    assert code == 1
    row = data["results"][0]
    assert row["status"] == "failed" and "money stopped the climb" in row["error"]
    rejected = events(project, "task_rejected")
    assert len(rejected) == 1 and rejected[0]["rung"] <= 2
    assert all("opus" not in model for model in server.models_called)
    spent = Store(project).connect().execute("SELECT SUM(cost_micro_usd) FROM costs").fetchone()[0]
    assert spent <= 70_000  # the cost limit held over the whole climb


def test_a_check_that_hangs_is_stopped(project: Path, project_with: Any) -> None:
    project_with(agent(lambda family, rounds: True))
    write_plan(project, plan(check="sleep 600", fix_attempts=0, timeout_s=1))
    code, data, _ = run(project)
    assert code == 1
    failed = events(project, "check_failed")
    assert failed and all(e["timed_out"] for e in failed)
    assert "timed out" in data["results"][0]["error"]


def test_a_check_that_prints_a_secret_is_masked_everywhere(
    project: Path, project_with: Any
) -> None:
    server = project_with(agent(lambda family, rounds: rounds >= 1))
    leaky = f"echo deploy token {SECRET}; {CHECK}"
    write_plan(project, plan(check=leaky))
    code, _, stderr = run(project)
    assert code == 0, stderr
    everything = [stderr, json.dumps([r.body for r in server.requests])]
    everything += [p.read_text(errors="replace") for p in (project / ".buildrunner").rglob("*.log")]
    exported = project / "events.jsonl"
    assert run_br("telemetry", "export", str(exported), "--format", "jsonl").returncode == 0
    everything.append(exported.read_text())
    conn = Store(project).connect()
    everything += [str(tuple(row)) for row in conn.execute("SELECT * FROM events")]
    for surface in everything:
        assert SECRET not in surface
    assert any(SECRET[:4] + "…" in surface for surface in everything)  # masked, not dropped


def test_a_task_without_checks_is_unverified(project: Path, project_with: Any) -> None:
    project_with(agent(lambda family, rounds: True))
    write_plan(
        project,
        "name: plain\ntasks:\n  - id: add\n    prompt: Make calc.add return the sum"
        "\n    files: [calc.py]\n",
    )
    result = run_br("run", "plan.yaml", timeout=180)
    assert result.returncode == 0, result.stderr
    assert "unverified: no checks" in result.stderr
    conn = Store(project).connect()
    assert conn.execute("SELECT verdict FROM tasks").fetchone()[0] == "unverified"
    gaps = json.loads(run_br("gaps", "analyze", "--json").stdout)["gaps"]
    assert [g["kind"] for g in gaps if g["subject"] == "add"] == ["task_unverified"]
