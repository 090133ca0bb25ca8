"""A session budget holds when agent tasks run in parallel (issue 23: 4 workers spent 2.1x it)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan
from tests.fakes.messages_server import MessagesServer, RecordedRequest, Reply, slow, text, tool_use

TASKS = 8
BUDGET = Decimal("0.1")


def answer(request: RecordedRequest) -> Reply:
    """Each task writes its file (a slow call), then says it is done."""
    last = request.body["messages"][-1]
    content = last.get("content")
    if isinstance(content, list) and any(b.get("type") == "tool_result" for b in content):
        return slow(text("Done.", input_tokens=1200, output_tokens=40), 0.2)
    prompt = request.body["messages"][0]["content"]
    prompt = prompt if isinstance(prompt, str) else prompt[0]["text"]
    name = prompt.split()[1]
    return slow(
        tool_use(
            "write_file",
            {"path": f"{name}.txt", "content": "x\n"},
            input_tokens=5000,
            output_tokens=300,
        ),
        0.3,
    )


def test_parallel_agent_tasks_never_spend_past_the_session_budget(project: Path) -> None:
    tasks = "".join(
        f"  - id: t{i}\n    prompt: Write t{i}.txt with one line\n    files: [t{i}.txt]\n"
        f"    model: sonnet\n"
        for i in range(TASKS)
    )
    with MessagesServer(responder=answer) as server:
        (project / ".buildrunner").mkdir()
        (project / ".buildrunner" / "config.toml").write_text(
            f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n'
        )
        write_plan(project, f"name: money\nbudget_usd: {BUDGET}\ntasks:\n{tasks}")
        result = run_br("run", "plan.yaml", "--json", "--workers", str(TASKS), timeout=300)
        data = json.loads(result.stdout)
        conn = Store(project).connect()
        spent = (
            Decimal(
                conn.execute("SELECT COALESCE(SUM(cost_micro_usd), 0) FROM costs").fetchone()[0]
            )
            / 1_000_000
        )
        assert spent <= BUDGET, f"spent ${spent} of a ${BUDGET} budget"
        assert data["status"] == "paused" and result.returncode == 1
        done = sum(1 for row in data["results"] if row["status"] == "succeeded")
        assert 0 < done < TASKS
        assert not conn.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0]
        # raising the budget goes on where it stopped: the finished tasks do not run again
        calls_before = len(server.requests)
        resumed = run_br(
            "parallel", "resume", data["session_id"], "--budget", "1", "--json", timeout=300
        )
        assert resumed.returncode == 0, resumed.stderr
        final = json.loads(resumed.stdout)
        assert final["status"] == "completed"
        assert len(server.requests) - calls_before == 2 * (TASKS - done)
