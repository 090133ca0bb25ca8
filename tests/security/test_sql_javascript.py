"""JS/TS analyser: finding fields, dialects, tagged templates, robustness, lazy loading."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from buildrunner.security.findings import Finding
from buildrunner.security.sql import scan_source


def scan(code: str, path: str = "src/db.ts") -> list[Finding]:
    findings, reason = scan_source(path, textwrap.dedent(code))
    assert reason is None
    return findings


def test_finding_names_sink_line_and_tainted_expression() -> None:
    findings = scan(
        """
        export async function byName(pool: Pool, req: Request) {
          const name = req.query.name as string;
          const sql = `SELECT * FROM users WHERE name = '${name}'`;
          return pool.query(sql);
        }
        """
    )
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.rule_id, finding.kind, finding.line) == ("sqli-js-template", "sql_injection", 5)
    assert finding.match == "req.query.name"
    assert "pool.query()" in finding.message
    assert finding.severity == "high"


@pytest.mark.parametrize("suffix", [".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts"])
def test_every_suffix_is_analysed(suffix: str) -> None:
    code = "async function f(db, id) { return db.query('SELECT * FROM t WHERE id = ' + id); }\n"
    findings, reason = scan_source(f"src/a{suffix}", code)
    assert reason is None
    assert [finding.rule_id for finding in findings] == ["sqli-js-concat"]


def test_jsx_component_file_parses() -> None:
    code = """
        export function Row({ id }) { return <tr><td>{id}</td></tr>; }
        export async function load(db, id) { return db.query(`SELECT * FROM t WHERE id = ${id}`); }
        """
    assert len(scan(code, path="src/Row.jsx")) == 1
    assert len(scan(code, path="src/Row.tsx")) == 1


def test_tagged_templates_are_parameterized() -> None:
    code = """
        import { Prisma } from "@prisma/client";
        export async function f(prisma, sql, id) {
          await prisma.$queryRaw`SELECT * FROM t WHERE id = ${id}`;
          await prisma.$executeRaw(Prisma.sql`DELETE FROM t WHERE id = ${id}`);
          await sql`SELECT * FROM t WHERE id = ${id}`;
          return prisma.$queryRawUnsafe(`SELECT * FROM t WHERE id = ${id}`);
        }
        """
    findings = scan(code)
    assert [(finding.line, finding.severity) for finding in findings] == [(7, "critical")]


def test_string_raw_tag_builds_a_plain_string() -> None:
    findings = scan(
        "function f(db, x) { return db.query(String.raw`SELECT * FROM t WHERE a = '${x}'`); }"
    )
    assert len(findings) == 1


def test_fingerprint_is_stable_when_lines_move() -> None:
    code = "function f(db, x) { return db.query(`SELECT * FROM t WHERE a = '${x}'`); }\n"
    first = scan(code)[0]
    moved = scan("// header\n\n" + code)[0]
    assert moved.line == first.line + 2
    assert moved.fingerprint == first.fingerprint


def test_syntax_error_is_skipped_with_line() -> None:
    findings, reason = scan_source(
        "bad.js", "const a = 1;\nfunction f(db) {\n  db.query('SELECT' +;\n}\n"
    )
    assert findings == []
    assert reason is not None and reason.startswith("syntax error at line 3")


def test_typescript_syntax_in_js_file_is_a_skip_not_a_crash() -> None:
    findings, reason = scan_source(
        "x.js", "function f(db: Pool, id: number) { db.query('S' + id) }\n"
    )
    assert findings == []
    assert reason is not None


def test_garbage_input_never_raises() -> None:
    for text in ["\x00\x01query(", "`${`${`${", "query(" * 2000, "}}}}query{{{{"]:
        findings, reason = scan_source("g.ts", text)
        assert findings == [] or reason is None


def test_python_scan_does_not_import_tree_sitter() -> None:
    code = (
        "import sys\n"
        "from buildrunner.security.sql import scan_source\n"
        "scan_source('a.py', 'def f(c, x):\\n    c.execute(\"SELECT \" + x)\\n')\n"
        "assert 'tree_sitter' not in sys.modules, 'tree_sitter imported'\n"
        "scan_source('a.js', 'db.query(\"SELECT \" + x)')\n"
        "assert 'tree_sitter' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_unsupported_suffix_returns_nothing() -> None:
    assert scan_source("README.md", "db.query(`SELECT ${x}`)") == ([], None)


def test_request_data_into_any_query_method_and_through_a_helper() -> None:
    findings = scan(
        """
        function runQuery(text) { return pool.query(text); }
        app.get("/a", (req, res) => runQuery("SELECT * FROM t WHERE id = " + req.params.id));
        app.get("/b", (req, res) => repo.rawQuery(`DELETE ${req.query.table}`));
        app.get("/c", (req, res) => runQuery("SELECT count(*) FROM t"));
        app.get("/d", (req, res) => cache.get("user:" + req.params.id));
        """
    )
    assert [(f.line, f.extra["sink"]) for f in findings] == [
        (3, "runQuery() -> pool.query"),
        (4, "repo.rawQuery"),
    ]
