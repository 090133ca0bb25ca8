"""BuildRunner's own source scans clean for SQL injection (issue 17, item 11).

Each finding the analysers once reported in `src/` was either fixed in the code (a column name or a
PRAGMA value that could come from a caller) or taught to the analyser (a constant chosen from a
fixed set through a same-file helper: `_window()`, private helpers only ever called with
allow-listed columns).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_br

SOURCE = Path(__file__).resolve().parents[2] / "src"


def test_br_own_tree_has_no_sql_injection_findings() -> None:
    result = run_br(
        "security", "scan", "--no-secrets", "--format", "json", str(SOURCE), cwd=SOURCE.parent
    )
    report = json.loads(result.stdout)
    assert report["findings"] == [], [
        (f["path"], f["line"], f["message"]) for f in report["findings"]
    ]
    assert result.returncode == 0, result.stderr
    assert report["files_scanned"] > 100


def test_a_reviewed_query_marked_br_allow_is_not_reported() -> None:
    from buildrunner.security.filescan import sql_scan

    source = (
        "import sqlite3\n\n"
        "def names(conn: sqlite3.Connection, column: str) -> None:\n"
        "    conn.execute(f'SELECT {column} FROM t')  # br: allow (a catalog name)\n"
        "    conn.execute(f'SELECT {column} FROM u')\n"
    )
    findings, _ = sql_scan("app.py", source)
    assert [f.line for f in findings if f.kind == "sql_injection"] == [5]
