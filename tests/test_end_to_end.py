"""One real build through every subsystem, against a local Messages API server.

Agent tasks are routed by complexity to different tiers, a 529 on Opus falls back to Sonnet, costs
are recorded and summed, a task that writes a secret fails the security gate and shows up in the
gap analysis, a success-rate alert fires and is delivered to a local webhook, and the telemetry,
routing and parallel views all report the same build.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from buildrunner.routing.catalog import load_catalog, price_call
from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan
from tests.fakes.messages_server import (
    MessagesServer,
    RecordedRequest,
    Reply,
    overloaded,
    text,
    tool_use,
)

AWS_KEY = "AKIA" + "Q4XR7TZ2WB6NMJ5K"
AWS_SECRET = "kX9+vR2mT7qL4wN8pZ3yB6cD1fG5hJ0sA2eU7iO4"

PLAN = """\
name: e2e
tasks:
  - id: baseline
    test: true
    run: python -c "print('baseline ok')"
  - id: typo
    prompt: Fix a typo in the README title
    files: [README.md]
    depends_on: [baseline]
  - id: architecture
    prompt: >-
      Redesign the payment processing architecture for production: migrate the transaction
      database schema across all services without data loss, add encryption and an audit of
      the security of authentication, and make the distributed workers concurrent and scalable.
    files: [docs/DESIGN.md]
    depends_on: [baseline]
  - id: leaky
    prompt: Add the deployment settings module config/deploy.py with the storage credentials
    files: [config/deploy.py]
  - id: broken
    run: python -c "import sys; sys.exit(4)"
  - id: after-broken
    run: python -c "print('never')"
    depends_on: [broken]
"""


def prompt_of(request: RecordedRequest) -> str:
    content = request.body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content if isinstance(block, dict))


def answer(request: RecordedRequest) -> Reply:
    """The 'model': one file write per task, then done; Opus is always overloaded."""
    last = request.body["messages"][-1]
    content = last.get("content")
    if isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    ):
        return text("Done.", input_tokens=900, output_tokens=40)
    prompt = prompt_of(request)
    if "opus" in request.model:
        return overloaded()
    if "typo" in prompt:
        return tool_use(
            "write_file",
            {"path": "README.md", "content": "# Demo project\n"},
            input_tokens=700,
            output_tokens=60,
        )
    if "Redesign" in prompt:
        return tool_use(
            "write_file",
            {"path": "docs/DESIGN.md", "content": "# Design\n\nQueues.\n"},
            input_tokens=2000,
            output_tokens=400,
        )
    settings = f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\nAWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\n'
    return tool_use(
        "write_file",
        {"path": "config/deploy.py", "content": settings},
        input_tokens=800,
        output_tokens=120,
    )


class Webhook:
    """A local receiver for alert notifications."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                outer.posts.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services() -> Iterator[tuple[MessagesServer, Webhook]]:
    hook = Webhook()
    with MessagesServer(responder=answer) as server:
        yield server, hook
    hook.close()


def br_json(*args: str) -> Any:
    result = run_br(*args, "--json")
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_full_build_through_every_subsystem(
    project: Path, services: tuple[MessagesServer, Webhook]
) -> None:
    server, hook = services
    (project / "README.md").write_text("# Demo projcet\n")
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text(
        f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n'
        "max_retries = 1\n\n"
        "[[telemetry.notifiers]]\n"
        f'kind = "webhook"\nurl = "{hook.url}"\nmin_level = "warning"\nretries = 1\n'
    )
    write_plan(project, PLAN)

    result = run_br("run", "plan.yaml", "--json", "--workers", "3", timeout=300)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    by_id = {row["task_id"]: row for row in summary["results"]}
    assert {task: row["status"] for task, row in by_id.items()} == {
        "baseline": "succeeded",
        "typo": "succeeded",
        "architecture": "succeeded",
        "leaky": "failed",
        "broken": "failed",
        "after-broken": "skipped",
    }
    assert "security gate" in by_id["leaky"]["error"]
    assert AWS_SECRET not in by_id["leaky"]["error"]
    assert (project / "README.md").read_text() == "# Demo project\n"

    conn = Store(project).connect()
    session_id = summary["session_id"]
    events = [
        (row["type"], row["task_id"], json.loads(row["payload"]))
        for row in conn.execute(
            "SELECT type, task_id, payload FROM events WHERE session_id = ? ORDER BY ts, id",
            (session_id,),
        )
    ]

    # routed by complexity to different tiers
    selected = {task: payload for kind, task, payload in events if kind == "model_selected"}
    catalog = load_catalog()
    assert selected["typo"]["complexity"] in ("simple", "moderate")
    assert selected["architecture"]["complexity"] in ("complex", "critical")
    assert (
        catalog.get(selected["typo"]["model"]).tier
        != catalog.get(selected["architecture"]["model"]).tier
    )

    # 529 on Opus falls back to Sonnet
    fallbacks = [payload for kind, task, payload in events if kind == "fallback_triggered"]
    assert any("opus" in f["from_model"] and "sonnet" in f["to_model"] for f in fallbacks)
    assert any("sonnet" in model for model in server.models_called)

    # every call costs what the catalog says, to the micro-dollar, and the sums agree
    rows = conn.execute(
        "SELECT model, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens,"
        " cost_micro_usd FROM costs WHERE session_id = ?",
        (session_id,),
    ).fetchall()
    assert len(rows) >= 6  # two calls for each of the three agent tasks
    expected_total = Decimal(0)
    for row in rows:
        price = price_call(
            catalog.get(row["model"]),
            row["input_tokens"],
            row["output_tokens"],
            row["cache_write_tokens"],
            row["cache_read_tokens"],
        )
        assert int(price * 1_000_000) == row["cost_micro_usd"]
        expected_total += price
    costs = br_json("routing", "costs", "--period", "all")
    assert Decimal(costs["total"]["cost_usd"]) == expected_total
    assert costs["total"]["calls"] == len(rows)
    telemetry = br_json("telemetry", "summary")
    assert Decimal(str(telemetry["cost_usd"])).quantize(Decimal("0.000001")) == expected_total
    assert telemetry["model_calls"] - telemetry["model_calls_failed"] == len(rows)
    assert telemetry["model_calls_failed"] >= 1  # the 529 from Opus
    status = br_json("parallel", "status", session_id)
    assert Decimal(str(status["cost_usd"])).quantize(Decimal("0.000001")) == expected_total
    assert status["session"]["tasks"]["succeeded"] == 3
    assert status["session"]["tasks"]["failed"] == 2
    assert status["session"]["tasks"]["skipped"] == 1
    assert telemetry["tasks_succeeded"] == 3 and telemetry["tasks_failed"] == 2
    assert telemetry["security_violations"] >= 1

    # the secret failed the gate, is masked everywhere, and is a gap
    violations = [payload for kind, task, payload in events if kind == "security_violation"]
    assert violations and all(AWS_SECRET not in json.dumps(v) for v in violations)
    gaps = br_json("gaps", "analyze")
    kinds = {(gap["kind"], gap["subject"].split(":")[0]) for gap in gaps["gaps"]}
    assert ("task_failed", "leaky") in kinds
    assert ("security", "config/deploy.py") in kinds
    assert ("task_skipped", "after-broken") in kinds
    export = project / "events.jsonl"
    assert run_br("telemetry", "export", str(export), "--format", "jsonl").returncode == 0
    assert AWS_SECRET not in export.read_text() and AWS_KEY not in export.read_text()

    # the success-rate alert fired during the build and reached the webhook
    alerts = br_json("telemetry", "alerts", "--all")
    fired = {alert["threshold"] for alert in alerts["alerts"]}
    assert "low_success_rate" in fired
    delivered = json.dumps(hook.posts)
    assert "low_success_rate" in delivered or "success rate" in delivered


def test_a_spent_budget_pauses_the_session_and_a_raised_one_goes_on(
    project: Path, services: tuple[MessagesServer, Webhook]
) -> None:
    server, _ = services
    (project / "README.md").write_text("# Demo projcet\n")
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text(
        f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n'
    )
    write_plan(
        project,
        "name: tight\nbudget_usd: 0.000001\ntasks:\n"
        "  - id: typo\n    prompt: Fix a typo in the README title\n    files: [README.md]\n",
    )
    result = run_br("run", "plan.yaml", "--json", timeout=120)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["status"] == "paused" and "budget" in data["paused_reason"]
    assert data["results"][0]["status"] == "queued"  # not failed: it waits for more money
    assert (project / "README.md").read_text() == "# Demo projcet\n"  # nothing was written
    assert not server.models_called
    human = run_br("parallel", "list")
    assert data["session_id"] in human.stdout + human.stderr

    # raising the budget goes on where it stopped
    resumed = run_br(
        "parallel", "resume", data["session_id"], "--budget", "1", "--json", timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
    assert (project / "README.md").read_text() == "# Demo project\n"

    # a hard daily budget already spent refuses the task before any call, and pauses too
    write_plan(
        project,
        "name: daily\ntasks:\n"
        "  - id: typo\n    prompt: Fix a typo in the README title\n    files: [README.md]\n",
    )
    assert run_br("routing", "budget", "set", "daily", "0.000001").returncode == 0
    conn = Store(project).connect()
    calls_before = len(server.models_called)
    result = run_br("run", "plan.yaml", "--json", timeout=120)
    assert result.returncode == 1
    assert "daily" in json.loads(result.stdout)["paused_reason"]
    assert len(server.models_called) == calls_before
    types = [
        row[0] for row in conn.execute("SELECT type FROM events WHERE type = 'budget_exceeded'")
    ]
    assert len(types) >= 2
    assert not conn.execute("SELECT COUNT(*) FROM budget_reservations").fetchone()[0]


def test_cancel_stops_an_agent_task_between_model_calls(project: Path) -> None:
    import subprocess
    import time as clock

    from tests.conftest import BR
    from tests.fakes.messages_server import slow

    def endless(request: RecordedRequest) -> Reply:
        turn = len(request.body["messages"])
        return slow(
            tool_use(
                "write_file",
                {"path": "notes.md", "content": f"turn {turn}\n"},
                input_tokens=100,
                output_tokens=20,
            ),
            0.3,
        )

    with MessagesServer(responder=endless) as server:
        (project / ".buildrunner").mkdir()
        (project / ".buildrunner" / "config.toml").write_text(
            f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\nmax_turns = 200\n'
        )
        write_plan(
            project,
            "name: long\ntasks:\n  - id: chatty\n    prompt: Keep notes in notes.md\n"
            "    files: [notes.md]\n",
        )
        process = subprocess.Popen(
            [*BR, "run", "plan.yaml", "--json"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = clock.time() + 60
        while len(server.models_called) < 3 and clock.time() < deadline:
            clock.sleep(0.05)
        session_id = Store(project).connect().execute("SELECT id FROM sessions").fetchone()[0]
        assert run_br("parallel", "cancel", session_id, "--yes").returncode == 0
        stdout, stderr = process.communicate(timeout=60)
        calls_at_end = len(server.models_called)
    assert json.loads(stdout)["status"] == "cancelled", stderr
    assert calls_at_end < 30  # the loop stopped long before max_turns
