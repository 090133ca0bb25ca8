"""The security gate after agent tasks, through a real `br run` against the local Messages API.

The agent writes a module with an SQL injection; `[security] gate` decides what that does to the
task: `block` fails it, `warn` records the finding and lets it succeed, `off` does not scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan
from tests.fakes.messages_server import MessagesServer, text, tool_use

INJECTABLE = (
    "import sqlite3\n"
    "from flask import request\n\n\n"
    "def find_user(conn: sqlite3.Connection):\n"
    '    name = request.args["name"]\n'
    '    return conn.execute("SELECT * FROM users WHERE name = \'" + name + "\'").fetchall()\n'
)
PLAN = """\
name: gated
tasks:
  - id: users
    prompt: Add app/users.py with a find_user(conn) lookup by the request's name
    files: [app/users.py]
    model: haiku
"""


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


def build(project: Path, server: MessagesServer, gate: str) -> tuple[int, dict[str, Any]]:
    server.script(
        tool_use(
            "write_file",
            {"path": "app/users.py", "content": INJECTABLE},
            input_tokens=500,
            output_tokens=120,
        ),
        text("Added app/users.py.", input_tokens=700, output_tokens=20),
    )
    (project / "app").mkdir(exist_ok=True)
    write_plan(project, PLAN)
    result = run_br(
        "run",
        "plan.yaml",
        "--json",
        env={
            "BR_ROUTING_BASE_URL": server.base_url,
            "BR_ROUTING_API_KEY": "sk-ant-test-0000",
            "BR_ROUTING_MAX_RETRIES": "0",
            "BR_SECURITY_GATE": gate,
        },
        timeout=180,
    )
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def violations(project: Path) -> list[dict[str, Any]]:
    conn = Store(project).connect()
    rows = conn.execute(
        "SELECT task_id, level, payload FROM events WHERE type = 'security_violation'"
    ).fetchall()
    conn.close()
    return [{"task_id": row[0], "level": row[1], **json.loads(row[2])} for row in rows]


def test_block_fails_the_task_on_an_sql_injection(project: Path, server: MessagesServer) -> None:
    code, summary = build(project, server, "block")
    assert code == 1 and summary["status"] == "failed"
    [task] = summary["results"]
    assert task["status"] == "failed"
    assert task["error"].startswith(
        "security gate: 1 finding(s) in changed files, first app/users.py:7 sqli-python-concat"
    )
    [violation] = violations(project)
    assert (violation["task_id"], violation["kind"], violation["rule_id"]) == (
        "users",
        "sql_injection",
        "sqli-python-concat",
    )
    assert violation["blocked"] is True and violation["path"] == "app/users.py"


def test_warn_records_the_finding_and_lets_the_task_succeed(
    project: Path, server: MessagesServer
) -> None:
    code, summary = build(project, server, "warn")
    assert code == 0 and summary["status"] == "completed"
    assert summary["results"][0]["status"] == "succeeded"
    [violation] = violations(project)
    assert violation["kind"] == "sql_injection" and violation["blocked"] is False
    assert (project / "app" / "users.py").read_text() == INJECTABLE


def test_off_does_not_scan(project: Path, server: MessagesServer) -> None:
    code, summary = build(project, server, "off")
    assert code == 0 and summary["results"][0]["status"] == "succeeded"
    assert violations(project) == []
    assert len(server.requests) == 2  # the task really ran its model calls
