"""`br review`, and the isolation side of `br parallel status|dashboard|cleanup`, on real git.

A real `br run` makes the session; the isolation library plays the build loop's part (snapshot,
task worktrees, commits, a review request), as the loop will call it; the commands run as the
real `br` in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from buildrunner.build.isolation import Isolation
from buildrunner.build.review import get_review, request_review, wait_for_decision
from buildrunner.store.db import Store
from tests.conftest import run_br, write_plan
from tests.security.tokens import TokenFactory


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def session(project: Path) -> str:
    """A finished session of a real `br run` in a git repository."""
    git(project, "init", "-q", "-b", "main")
    (project / "app.py").write_text("def main():\n    return 1\n")
    git(project, "add", "app.py")
    git(project, "commit", "-qm", "initial")
    write_plan(
        project,
        "name: reviewed\ntasks:\n  - id: feature\n    run: 'true'\n"
        "  - id: rival\n    run: 'true'\n",
    )
    result = run_br("run", "plan.yaml", "--json")
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["session_id"])


def isolated_work(
    project: Path, session_id: str, secret: str, *, reviews: bool = True
) -> Isolation:
    """What the loop does: 'feature' and 'rival' edit the same line; 'feature' leaks a token."""
    iso = Isolation(project, project / ".buildrunner", session_id)
    iso.snapshot()
    (iso.workspace("feature") / "app.py").write_text(
        f'TOKEN = "{secret}"\n\n\ndef main():\n    return 2\n'
    )
    (iso.workspace("rival") / "app.py").write_text("def main():\n    return 3\n")
    iso.commit_task("feature")
    iso.commit_task("rival")
    iso.merge("feature")
    assert iso.merge("rival").status == "conflict"
    if reviews:
        conn = Store(project).connect()
        request_review(conn, session_id, "feature")
        request_review(conn, session_id, "rival")
        conn.close()
    return iso


def record_agent_facts(project: Path, session_id: str) -> None:
    """What the build records for an agent task: check runs (events), model calls (costs)."""
    from decimal import Decimal

    from buildrunner.routing.costs import CostTracker
    from buildrunner.telemetry.collector import INSERT_SQL, event_row
    from buildrunner.telemetry.events import CheckFailed, CheckPassed

    conn = Store(project).connect()
    for event in (
        CheckFailed(
            session_id=session_id,
            task_id="feature",
            command="pytest -q",
            exit_code=1,
            output_tail="1 failed",
        ),
        CheckPassed(session_id=session_id, task_id="feature", command="pytest -q", round=1),
    ):
        conn.execute(INSERT_SQL, event_row(event))
    CostTracker(conn).record(
        session_id,
        "feature",
        "claude-sonnet-test",
        "anthropic",
        1000,
        200,
        0,
        0,
        Decimal("0.0123"),
        900.0,
    )
    conn.execute("UPDATE tasks SET model = 'claude-sonnet-test' WHERE task_id = 'feature'")
    conn.close()


def br_json(*args: str) -> object:
    result = run_br(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_review_shows_the_masked_diff_checks_cost_and_model(project: Path, session: str) -> None:
    secret = TokenFactory(7).github()
    isolated_work(project, session, secret)
    record_agent_facts(project, session)

    listed = br_json("review")
    assert listed["session_id"] == session  # type: ignore[index]
    assert [(r["task_id"], r["status"]) for r in listed["reviews"]] == [  # type: ignore[index]
        ("feature", "pending"),
        ("rival", "pending"),
    ]
    assert [(i["task_id"], i["state"], i["conflicts"]) for i in listed["isolated"]] == [  # type: ignore[index]
        ("feature", "merged", []),
        ("rival", "conflict", ["app.py"]),
    ]

    shown = br_json("review", session[:12], "feature")
    assert isinstance(shown, dict)
    assert shown["review_status"] == "pending" and shown["files"] == ["app.py"]
    assert "+    return 2" in shown["diff"] and secret not in shown["diff"]
    assert secret[-4:] in shown["diff"]  # masked to its ends, still recognisable
    assert [(c["command"], c["passed"], c["exit_code"]) for c in shown["checks"]] == [
        ("pytest -q", False, 1),
        ("pytest -q", True, 0),
    ]
    assert (shown["model"], shown["cost_usd"], shown["task_status"]) == (
        "claude-sonnet-test",
        0.0123,
        "succeeded",
    )

    conflict = br_json("review", session, "rival")
    assert isinstance(conflict, dict)
    assert conflict["state"] == "conflict" and conflict["conflicts"] == ["app.py"]
    [hunk] = conflict["hunks"]
    assert "return 3" in hunk["theirs"] and "return 2" in hunk["ours"]

    human = run_br("review", session, "feature")
    assert human.returncode == 0 and human.stdout == ""
    assert "+    return 2" in human.stderr and secret not in human.stderr
    assert "check failed (exit 1): pytest -q" in human.stderr
    assert "model claude-sonnet-test, cost $0.0123" in human.stderr


def test_a_conflict_shows_its_hunks_without_a_review(project: Path, session: str) -> None:
    isolated_work(project, session, TokenFactory(11).github(), reviews=False)
    listed = br_json("review", session)
    assert isinstance(listed, dict) and listed["reviews"] == []
    assert {item["task_id"]: item["state"] for item in listed["isolated"]} == {
        "feature": "merged",
        "rival": "conflict",
    }
    shown = br_json("review", session, "rival")
    assert isinstance(shown, dict) and shown["review_status"] is None
    assert [hunk["path"] for hunk in shown["hunks"]] == ["app.py"]
    human = run_br("review", session, "rival")
    assert "never sent for review" in human.stderr and "conflict in app.py" in human.stderr
    missing = run_br("review", session, "nope")
    assert missing.returncode == 2 and "no task 'nope' in session" in missing.stderr


def test_approve_reject_and_retry_are_stored_for_the_build_to_read(
    project: Path, session: str
) -> None:
    isolated_work(project, session, TokenFactory(8).github())

    approved = br_json("review", "approve", "feature")
    assert isinstance(approved, dict)
    assert (approved["status"], approved["session_id"]) == ("approved", session)
    again = run_br("review", "approve", "feature")
    assert again.returncode == 2 and "already approved" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1

    no_reason = run_br("review", "reject", "rival", "--reason", "  ")
    assert no_reason.returncode == 2 and "needs a reason" in no_reason.stderr
    retry = br_json(
        "review",
        "reject",
        "rival",
        "--reason",
        "keep main() returning 2",
        "--retry",
        "--session",
        session,
    )
    assert isinstance(retry, dict) and retry["status"] == "retry"

    conn = Store(project).connect()
    decided = wait_for_decision(conn, session, "rival", timeout_s=0)
    assert (decided.status, decided.reason) == ("retry", "keep main() returning 2")
    assert decided.decided_by and "@" in decided.decided_by
    # the agent's fix round is reviewed again: a new round, pending
    assert request_review(conn, session, "rival").round == 2
    events = conn.execute(
        "SELECT type, task_id FROM events WHERE type LIKE 'review_%' ORDER BY id"
    ).fetchall()
    assert [tuple(row) for row in events] == [
        ("review_requested", "feature"),
        ("review_requested", "rival"),
        ("review_decided", "feature"),
        ("review_decided", "rival"),
        ("review_requested", "rival"),
    ]
    assert get_review(conn, session, "feature").status == "approved"  # type: ignore[union-attr]

    unknown = run_br("review", "approve", "nope")
    assert unknown.returncode == 2 and "no review of task 'nope'" in unknown.stderr


def test_dashboard_and_status_show_waiting_reviews_and_kept_branches(
    project: Path, session: str
) -> None:
    isolated_work(project, session, TokenFactory(9).github())
    frame = run_br("parallel", "dashboard", "--once")
    assert frame.returncode == 0 and "waiting for review" in frame.stderr
    assert f"br review {session} feature" in frame.stderr.replace("\n", "")
    status = br_json("parallel", "status")
    assert isinstance(status, dict)
    assert [item["task_id"] for item in status["reviews"]] == ["feature", "rival"]
    kept = {item["task_id"]: item["state"] for item in status["kept_branches"]}
    assert kept == {"feature": "merged", "rival": "conflict"}  # nothing landed yet


def test_cleanup_removes_worktrees_and_keeps_unlanded_work_until_forced(
    project: Path, session: str
) -> None:
    iso = isolated_work(project, session, TokenFactory(10).github())
    iso.land()  # 'feature' lands; 'rival' conflicted: its work exists only on its branch
    assert "return 2" in (project / "app.py").read_text()

    dry = br_json("parallel", "cleanup", "--older-than", "0", "--dry-run")
    assert isinstance(dry, dict) and dry["isolation"]["dry_run"] is True
    assert len(git(project, "worktree", "list").splitlines()) == 3

    done = br_json("parallel", "cleanup", "--older-than", "0")
    assert isinstance(done, dict) and done["deleted"] == 1
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert [item["branch"] for item in done["isolation"]["kept"]] == [f"br/{session}/rival"]
    assert git(project, "show", f"br/{session}/rival:app.py") == "def main():\n    return 3\n"
    listed = br_json("parallel", "status")
    assert isinstance(listed, dict) and listed["session"] is None
    assert [item["task_id"] for item in listed["kept_branches"]] == ["rival"]
    human = run_br("parallel", "cleanup", "--older-than", "0")
    assert "kept branches" in human.stderr and "--force" in human.stderr

    forced = br_json("parallel", "cleanup", "--older-than", "0", "--force")
    assert isinstance(forced, dict)
    assert forced["isolation"]["branches_deleted"] == [f"br/{session}/rival"]
    assert git(project, "branch", "--list", "br/*") == ""
    assert git(project, "for-each-ref", "refs/buildrunner/") == ""
    assert br_json("parallel", "status")["kept_branches"] == []  # type: ignore[index]
