"""Python analyser: finding fields, flow through variables, safe forms, robustness."""

from __future__ import annotations

import textwrap

import pytest

from buildrunner.security.findings import Finding
from buildrunner.security.sql import scan_source


def scan(code: str, path: str = "app/db.py") -> list[Finding]:
    findings, reason = scan_source(path, textwrap.dedent(code))
    assert reason is None
    return findings


def test_finding_names_sink_line_and_tainted_expression() -> None:
    findings = scan(
        """
        def lookup(cur, request):
            user = request.args["user"]
            query = f"SELECT * FROM users WHERE name = '{user}'"
            cur.execute(query)
        """
    )
    assert len(findings) == 1
    finding = findings[0]
    assert finding.kind == "sql_injection"
    assert finding.rule_id == "sqli-python-fstring"
    assert finding.line == 5  # the sink's line, not the f-string's
    assert finding.severity == "high"
    assert finding.match == "request.args['user']"
    assert "cur.execute()" in finding.message
    assert "request.args['user']" in finding.message
    assert finding.path == "app/db.py"


@pytest.mark.parametrize(
    ("expression", "rule_id"),
    [
        ("f\"SELECT * FROM t WHERE a = '{x}'\"", "sqli-python-fstring"),
        ("\"SELECT * FROM t WHERE a = '%s'\" % x", "sqli-python-percent"),
        ("\"SELECT * FROM t WHERE a = '{}'\".format(x)", "sqli-python-format"),
        ('"SELECT * FROM t WHERE a = \'" + x + "\'"', "sqli-python-concat"),
        ('"SELECT * FROM t WHERE a IN (" + ",".join(x) + ")"', "sqli-python-join"),
    ],
)
def test_rule_id_names_the_construction(expression: str, rule_id: str) -> None:
    findings = scan(f"def f(cur, x):\n    cur.execute({expression})\n")
    assert [finding.rule_id for finding in findings] == [rule_id]


@pytest.mark.parametrize(
    ("call", "severity"),
    [
        ("conn.executescript", "critical"),
        ("cur.execute", "high"),
        ("qs.extra", "medium"),
    ],
)
def test_severity_follows_the_sink(call: str, severity: str) -> None:
    argument = "where=[q]" if call == "qs.extra" else "q"
    findings = scan(
        f"""
        def f(conn, cur, qs, x):
            q = "UPDATE t SET a = 1 WHERE b = '" + x + "'"
            {call}({argument})
        """
    )
    assert [finding.severity for finding in findings] == [severity]


def test_fingerprint_is_stable_when_lines_move() -> None:
    code = "def f(cur, x):\n    cur.execute(f\"SELECT * FROM t WHERE a = '{x}'\")\n"
    first = scan(code)[0]
    moved = scan("import os\n\n\n" + code)[0]
    assert moved.line == first.line + 3
    assert moved.fingerprint == first.fingerprint
    other_path = scan(code, path="app/other.py")[0]
    assert other_path.fingerprint != first.fingerprint


def test_match_is_truncated() -> None:
    long_name = "x" * 300
    findings = scan(
        f'def f(cur, {long_name}):\n    cur.execute(f"SELECT {{{long_name}}} FROM t")\n'
    )
    assert len(findings[0].match) <= 120
    assert findings[0].match.endswith("...")


def test_weak_sink_needs_sql_but_strong_sink_does_not() -> None:
    assert scan("def f(runner, x):\n    runner.execute(f'deploy {x}')\n") == []
    flagged = scan("def f(conn, x):\n    conn.executescript(f'{x}')\n")
    assert [finding.rule_id for finding in flagged] == ["sqli-python-fstring"]


def test_text_is_strong_only_when_sqlalchemy_is_imported() -> None:
    code = "def f(session, x):\n    session.execute(text(x + ' DESC'))\n"
    assert scan(code) == []
    assert len(scan("from sqlalchemy import text\n" + code)) == 1


def test_module_constant_is_safe_but_module_level_tainted_value_is_not() -> None:
    code = """
        import sys
        TABLE = "users"
        target = sys.argv[1]

        def safe(cur):
            cur.execute(f"SELECT * FROM {TABLE}")

        def unsafe(cur):
            cur.execute(f"SELECT * FROM {target}")
        """
    findings = scan(code)
    assert [finding.line for finding in findings] == [10]


def test_module_level_script_code_is_scanned() -> None:
    findings = scan(
        "import sys\nimport sqlite3\nsqlite3.connect('x').execute('DELETE FROM t WHERE id = ' + sys.argv[1])\n"
    )
    assert len(findings) == 1


def test_a_sink_receives_the_finding_once() -> None:
    findings = scan(
        """
        def f(cur, a, b):
            cur.execute(f"SELECT * FROM t WHERE a = '{a}' AND b = '{b}'")
        """
    )
    assert len(findings) == 1
    assert findings[0].extra["tainted"] == ["a", "b"]


@pytest.mark.parametrize(
    "code",
    [
        "def f(:\n    cur.execute('SELECT 1 FROM t')\n",
        "cur.execute(f'SELECT {')\n",
        "\x00cur.execute('SELECT a FROM t')",
    ],
)
def test_unparsable_file_is_skipped_with_reason(code: str) -> None:
    findings, reason = scan_source("broken.py", code)
    assert findings == []
    assert reason is not None
    assert "line" in reason or "parse" in reason


def test_syntax_error_reason_names_the_line() -> None:
    _, reason = scan_source("broken.py", "import os\n\ndef f(cur):\n    cur.execute('SELECT' +)\n")
    assert reason is not None and reason.startswith("syntax error at line 4")


def test_deeply_nested_expression_does_not_crash() -> None:
    code = "def f(cur, x):\n    cur.execute('SELECT ' + " + "(" * 50 + "x" + ")" * 50 + ")\n"
    findings, reason = scan_source("deep.py", code)
    assert reason is None and len(findings) == 1
    huge = "def f(cur, x):\n    cur.execute('SELECT ' + " + " + ".join(["x"] * 5000) + ")\n"
    findings, reason = scan_source("huge.py", huge)
    assert (len(findings) == 1) != (reason is not None)


def test_file_without_sink_names_is_not_parsed() -> None:
    # a syntax error in a file that never names a sink cannot hide SQL injection: no skip reported
    assert scan_source("notes.py", "def f(:\n    return 1\n") == ([], None)


@pytest.mark.timeout(60)
def test_deeply_nested_loops_are_analysed_once_per_level() -> None:
    # the work per loop level is bounded: 20 nested loops would be 2**20 passes if every level
    # re-ran its body; the timeout turns such a regression into a failure
    lines = ["def f(cur, rows):", "    q = 'SELECT * FROM t WHERE 1 = 1'"]
    for depth in range(20):
        lines.append("    " * (depth + 1) + f"for r{depth} in rows:")
    lines.append("    " * 21 + "q += ' AND a = ' + r19")
    lines.append("    cur.execute(q)")
    findings = scan("\n".join(lines) + "\n")
    assert [finding.match for finding in findings] == ["rows"]


def test_branches_that_keep_a_value_do_not_grow_its_text() -> None:
    from buildrunner.security.sql.taint import Scope, merge, safe

    base = safe()
    scope: Scope[object] = Scope({"q": base}, None)
    for _ in range(10):
        scope.join([scope.copy(), scope.copy()])
    assert scope.names["q"] is base
    assert merge([base, base]) is base


def test_sql_built_and_returned_is_medium_with_its_flow() -> None:
    findings = scan(
        """
        def statement(table, key):
            return f"DELETE FROM {table} WHERE key = '{key}'"
        """
    )
    assert [(f.severity, f.extra["flow"], f.line) for f in findings] == [("medium", "returned", 3)]
    assert "is returned, to be run elsewhere" in findings[0].message


def test_a_same_file_helper_makes_its_call_site_a_sink() -> None:
    findings = scan(
        """
        def _run(cur, statement):
            cur.execute(statement)


        def search(cur, term):
            _run(cur, "SELECT * FROM docs WHERE body LIKE '%" + term + "%'")
        """
    )
    assert [(f.line, f.extra["sink"], f.severity) for f in findings] == [
        (7, "_run() -> cur.execute", "high")
    ]


def test_request_data_passed_unchanged_in_database_code() -> None:
    findings = scan(
        """
        import sqlite3
        from flask import request

        def console(db):
            return db.execute(request.form["sql"]).fetchall()
        """
    )
    assert [(f.rule_id, f.match) for f in findings] == [
        ("sqli-python-request", "request.form['sql']")
    ]


def test_fastapi_validates_annotated_route_parameters_but_plain_functions_do_not() -> None:
    code = """
        from fastapi import APIRouter
        router = APIRouter()

        @router.get("/posts/{{user_id}}")
        def posts(user_id: {annotation}, db):
            return db.execute(f"SELECT * FROM posts WHERE user_id = {{user_id}}").fetchall()

        def helper(user_id: int, db):
            return db.execute(f"SELECT * FROM posts WHERE user_id = {{user_id}}").fetchall()
        """
    trusted = scan(code.format(annotation="int"))
    assert [f.line for f in trusted] == [
        10
    ]  # only the plain function: its annotation is not enforced
    untrusted = scan(code.format(annotation="str"))
    assert [f.line for f in untrusted] == [7, 10]
