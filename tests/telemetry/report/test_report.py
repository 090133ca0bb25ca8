"""The build report, looked at as a person would: rendered by a real headless Chromium at 1280 px,
a screenshot taken, and the rendered DOM (after the page's script ran) checked against the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildrunner.store.db import Store, connect
from buildrunner.telemetry.report import render_report, write_report
from tests.conftest import run_br, write_plan
from tests.fakes.messages_server import MessagesServer, RecordedRequest, Reply, text, tool_use
from tests.telemetry.browser import chromium, opened, png_size
from tests.telemetry.sessions import SECRET, SessionWriter, write_verified_session

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def store_cost(db_path: Path, session_id: str) -> float:
    conn = connect(db_path)
    try:
        micro = conn.execute(
            "SELECT SUM(cost_micro_usd) FROM events WHERE session_id = ?"
            " AND type LIKE 'model_call_%'",
            (session_id,),
        ).fetchone()[0]
    finally:
        conn.close()
    return (micro or 0) / 1_000_000


def dom_facts(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => ({
        rows: document.querySelectorAll('#task-table tbody tr').length,
        totalTasks: document.getElementById('total-tasks').textContent,
        visible: document.getElementById('visible-count').textContent,
        costUsd: parseFloat(document.getElementById('total-cost').dataset.usd),
        costText: document.getElementById('total-cost').firstChild.textContent.trim(),
        criticalS: parseFloat(document.getElementById('critical-path-length').dataset.seconds),
        criticalTasks: parseInt(document.getElementById('critical-path-length').dataset.tasks),
        bars: document.querySelectorAll('#gantt rect.bar').length,
        criticalBars: [...document.querySelectorAll('#gantt rect.bar.critical')]
            .map(bar => bar.dataset.task),
        pageWidth: document.documentElement.scrollWidth,
        chartWidth: document.getElementById('gantt').getBoundingClientRect().width,
        smallestText: Math.min(...[...document.querySelectorAll('body *')]
            .filter(node => node.childNodes.length && [...node.childNodes]
                .some(child => child.nodeType === 3 && child.textContent.trim()))
            .filter(node => node.getClientRects().length)
            .map(node => parseFloat(getComputedStyle(node).fontSize)
                 * (node.closest('svg') ? node.closest('svg').getBoundingClientRect().width
                    / node.closest('svg').viewBox.baseVal.width : 1))),
    })""")


def test_a_verified_build_in_a_real_browser(db_path: Path, tmp_path: Path, browser: Any) -> None:
    logs = tmp_path / "logs"
    session_id = write_verified_session(db_path, T0, logs_root=logs)
    conn = connect(db_path)
    result = write_report(
        conn, session_id, tmp_path / "report.html", logs_root=logs, clock=lambda: T0 + 60
    )
    conn.close()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert SECRET not in html and "AKIA" in html  # masked, not dropped
    assert "http://" not in html and "https://" not in html and "<link" not in html

    with opened(browser, tmp_path / "report.html") as page:
        facts = dom_facts(page)
        assert facts["rows"] == 7 and facts["totalTasks"] == "7" and facts["visible"] == "7"
        assert (
            facts["costUsd"]
            == pytest.approx(store_cost(db_path, session_id))
            == (pytest.approx(0.057))
        )
        assert facts["costText"] == "$0.0570"
        # setup 0.9 + fix-auth 7.9 + tests (0.9 + 1.4) + package 0.4
        assert facts["criticalS"] == pytest.approx(11.5) == pytest.approx(result.critical_path_s)
        assert facts["criticalTasks"] == 4
        assert sorted(facts["criticalBars"]) == ["fix-auth", "package", "setup", "tests", "tests"]
        assert facts["bars"] == 7  # one per attempt
        assert facts["pageWidth"] <= 1280 and facts["chartWidth"] <= 1280  # no sideways scroll
        assert facts["smallestText"] >= 11  # readable, chart labels included
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert png_size(shot)[0] == 1280

        ladder = page.inner_text("#ladder-table tr:has(a[href='#task-fix-auth'])")
        assert "1. haiku ✓0 ✗2 · 1 fix" in ladder and "2. sonnet ✓1 ✗0" in ladder
        assert "3. opus" in ladder and "accepted" in ladder
        assert page.locator("#check-table tbody tr").count() == 3
        assert "AKIA…MJ5K" in page.inner_text("#finding-table")
        marks = page.inner_text("#mark-table")
        for wanted in (
            "escalated haiku → sonnet",
            "fallback sonnet → sonnet-backup",
            "retry (attempt 2)",
            "alert consecutive_failures",
            "cache hit",
        ):
            assert wanted in marks

        page.click("button[data-status='failed']")
        assert page.inner_text("#visible-count") == "1"
        assert page.locator("#task-table tbody tr:not([hidden])").get_attribute("id") == "task-lint"
        page.click("button[data-status='all']")
        page.fill("#task-search", "fix-auth")
        assert page.inner_text("#visible-count") == "1"
        page.fill("#task-search", "")
        page.click("#task-table th:has-text('cost')")
        page.click("#task-table th:has-text('cost')")  # descending
        assert page.locator("#task-table tbody tr").first.get_attribute("id") == "task-fix-auth"

        page.click("#task-lint a[href='#log-lint-1']")
        assert page.locator("#log-lint-1").get_attribute("open") is not None
        log_text = page.inner_text("#log-lint-1 pre")
        assert "AWS_ACCESS_KEY_ID=AKIA" in log_text and SECRET not in log_text
        page.locator("#log-tests-1 summary").click()
        assert "<script>alert(1)</script>" in page.inner_text("#log-tests-1 pre")  # as text


def test_a_real_agent_build_reported_by_br(project: Path, browser: Any) -> None:
    def answer(request: RecordedRequest) -> Reply:
        last = request.body["messages"][-1].get("content")
        if isinstance(last, list) and any(
            isinstance(block, dict) and block.get("type") == "tool_result" for block in last
        ):
            return text("Done.", input_tokens=900, output_tokens=40)
        return tool_use(
            "write_file",
            {"path": "NOTES.md", "content": "# Notes\n"},
            input_tokens=700,
            output_tokens=60,
        )

    with MessagesServer(responder=answer) as server:
        (project / ".buildrunner").mkdir()
        (project / ".buildrunner" / "config.toml").write_text(
            f'[routing]\nbase_url = "{server.base_url}"\napi_key = "sk-ant-test-0000"\n'
        )
        write_plan(
            project,
            "name: agents\ntasks:\n"
            "  - id: prepare\n    run: python -c \"print('ready')\"\n"
            "  - id: notes\n    prompt: Write a NOTES.md file with a title\n"
            "    files: [NOTES.md]\n    depends_on: [prepare]\n"
            '  - id: broken\n    run: python -c "import sys; sys.exit(5)"\n'
            '  - id: after-broken\n    run: python -c "print(1)"\n'
            "    depends_on: [broken]\n",
        )
        build = run_br("run", "plan.yaml", "--json", cwd=project, timeout=300)
    assert build.returncode == 1, build.stderr
    session_id = json.loads(build.stdout)["session_id"]
    result = run_br("report", "-o", "out.html", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert (written["session_id"], written["tasks"], written["attempts"]) == (session_id, 4, 3)
    db = Store(project).db_path
    conn = connect(db)
    busy = {
        row["task_id"]: row["ended_at"] - row["started_at"]
        for row in conn.execute("SELECT * FROM attempts WHERE session_id = ?", (session_id,))
    }
    conn.close()
    expected_path = max(busy["prepare"] + busy["notes"], busy["broken"])

    with opened(browser, project / "out.html") as page:
        facts = dom_facts(page)
        assert facts["rows"] == 4 and facts["bars"] == 3
        assert facts["costUsd"] == pytest.approx(store_cost(db, session_id), abs=1e-6)
        assert facts["costUsd"] > 0
        assert facts["criticalS"] == pytest.approx(expected_path, abs=1e-3)
        assert page.locator("#task-notes td").nth(8).inner_text() != "-"  # the model it used
        assert page.inner_text("#task-after-broken .badge") == "skipped"
        calls = page.inner_text("#cost-by-model tbody")
        assert "2" in calls  # two calls of the agent loop
        assert page.locator("#log-broken-1").count() == 1


def test_a_session_with_nothing_run_yet_still_renders(
    db_path: Path, browser: Any, tmp_path: Path
) -> None:
    writer = SessionWriter(db_path, "name: idle\ntasks:\n  - id: a\n    run: x\n", t0=T0)
    writer.collector.close()
    writer.conn.close()
    conn = connect(db_path)
    html, view = render_report(conn, writer.session_id, clock=lambda: T0 + 5)
    conn.close()
    assert view.attempts == 0 and view.critical.task_ids == ()
    (tmp_path / "idle.html").write_text(html, encoding="utf-8")
    with opened(browser, tmp_path / "idle.html") as page:
        facts = dom_facts(page)
        assert (facts["rows"], facts["bars"], facts["criticalS"]) == (1, 0, 0)
        assert "No task logs" in page.inner_text("#logs")
