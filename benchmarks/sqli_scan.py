"""Throughput of the SQL-injection scan (files/s, MB/s) beside bandit B608 and ruff S608.

    .venv/bin/python benchmarks/sqli_scan.py [--quick] [--files N] [--json]

Generates a deterministic tree of realistic Python and JS/TS modules (data-access code, services,
utilities; most files touch a database) under benchmarks/.data/sqli-tree, then times whole
processes, best of --repeat runs: ours over the Python files, over the JS/TS files and over all;
bandit (`-t B608`, its SQL check only) over the Python files; ruff (`--select S608`) likewise.
bandit and ruff read Python only, so the like-for-like figure is the Python row. Peers are
installed into benchmarks/.venv-<peer> on first use.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / ".data" / "sqli-tree"
sys.path.insert(0, str(HERE))

from sqli_quality import peer_bin  # noqa: E402

PY_HEADER = '''"""{doc}"""

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
TABLE = "{table}"
ALLOWED = {{"id", "name", "created_at"}}
'''

PY_BLOCKS = [
    '''

def find_{name}(conn: sqlite3.Connection, key: str) -> list[Any]:
    """Rows of {table} whose key matches."""
    cur = conn.cursor()
    cur.execute("SELECT * FROM {table} WHERE key = ?", (key,))
    return cur.fetchall()
''',
    """

def search_{name}(conn: sqlite3.Connection, term: str, order: str = "id") -> list[Any]:
    if order not in ALLOWED:
        raise ValueError(order)
    query = f"SELECT * FROM {{TABLE}} WHERE title LIKE ? ORDER BY {{order}}"
    log.debug("query %s", query)
    return conn.execute(query, (f"%{{term}}%",)).fetchall()
""",
    """

def unsafe_{name}(cur: Any, value: str) -> None:
    sql = "UPDATE {table} SET state = '" + value + "' WHERE id = 1"
    cur.execute(sql)
""",
    """

@dataclass
class {cls}:
    id: int
    name: str
    tags: list[str]

    def describe(self) -> str:
        parts = [self.name.title()]
        for index, tag in enumerate(sorted(self.tags)):
            parts.append(f"{{index}}:{{tag}}")
        return ", ".join(parts)

    def score(self, weights: dict[str, float]) -> float:
        return sum(weights.get(tag, 0.0) for tag in self.tags) / max(len(self.tags), 1)
""",
    """

def paginate_{name}(conn: sqlite3.Connection, page: int, size: int = 50) -> list[Any]:
    clauses = []
    params: list[Any] = []
    if page > 0:
        clauses.append("id > ?")
        params.append(page * size)
    where = " AND ".join(clauses) or "1 = 1"
    return conn.execute(
        f"SELECT * FROM {{TABLE}} WHERE {{where}} LIMIT {{int(size)}}", params
    ).fetchall()
""",
    """

def transform_{name}(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {{}}
    for row in rows:
        key = str(row.get("kind", "other")).lower()
        grouped.setdefault(key, []).append(row)
    for key, items in grouped.items():
        items.sort(key=lambda item: (item.get("rank", 0), item.get("name", "")))
        log.info("group %s has %d items", key, len(items))
    return grouped
""",
]

JS_HEADER = """// {doc}
const {{ Pool }} = require("pg");
const pool = new Pool();
const TABLE = "{table}";
const SORTABLE = ["id", "name", "created_at"];
"""

JS_BLOCKS = [
    """
async function find{cls}(id) {{
  const {{ rows }} = await pool.query("SELECT * FROM {table} WHERE id = $1", [id]);
  return rows[0];
}}
""",
    """
async function search{cls}(req, res) {{
  const sort = SORTABLE.includes(req.query.sort) ? req.query.sort : "id";
  const result = await pool.query(`SELECT * FROM ${{TABLE}} ORDER BY ${{sort}} LIMIT 50`);
  res.json(result.rows);
}}
""",
    """
async function unsafe{cls}(name) {{
  let sql = "SELECT * FROM {table} WHERE 1=1";
  if (name) {{
    sql += ` AND name = '${{name}}'`;
  }}
  return pool.query(sql);
}}
""",
    """
class {cls}View {{
  constructor(items) {{
    this.items = items.filter((item) => item && item.visible);
  }}

  render() {{
    return this.items
      .map((item, index) => `<li data-index="${{index}}">${{item.label}}</li>`)
      .join("\\n");
  }}

  total() {{
    return this.items.reduce((sum, item) => sum + (item.price || 0), 0);
  }}
}}
""",
    """
function group{cls}(rows) {{
  const grouped = {{}};
  for (const row of rows) {{
    const key = String(row.kind || "other").toLowerCase();
    (grouped[key] = grouped[key] || []).push(row);
  }}
  return Object.entries(grouped).map(([key, items]) => ({{ key, count: items.length }}));
}}
""",
]


def generate(files: int, seed: int = 7) -> tuple[list[Path], list[Path]]:
    """Write `files` Python and `files` JS/TS modules (same tree every run for a given count)."""
    stamp = DATA / f".generated-{files}-{seed}"
    rng = random.Random(seed)
    py_files: list[Path] = []
    js_files: list[Path] = []
    for index in range(files):
        package = DATA / f"pkg{index % 40:02d}"
        py_files.append(package / f"module_{index}.py")
        js_files.append(package / f"service_{index}.{'ts' if index % 3 == 0 else 'js'}")
    if stamp.exists():
        return py_files, js_files
    for index, (py_path, js_path) in enumerate(zip(py_files, js_files, strict=True)):
        py_path.parent.mkdir(parents=True, exist_ok=True)
        table, cls = f"table_{index % 97}", f"Entity{index}"
        blocks = rng.choices(range(len(PY_BLOCKS)), k=rng.randint(8, 24))
        py_path.write_text(
            PY_HEADER.format(doc=f"Data access for {table}.", table=table)
            + "".join(
                PY_BLOCKS[b].format(name=f"{index}_{n}", table=table, cls=f"{cls}{n}")
                for n, b in enumerate(blocks)
            ),
            encoding="utf-8",
        )
        blocks = rng.choices(range(len(JS_BLOCKS)), k=rng.randint(8, 24))
        js_path.write_text(
            JS_HEADER.format(doc=f"Service for {table}.", table=table)
            + "".join(
                JS_BLOCKS[b].format(table=table, cls=f"{cls}x{n}") for n, b in enumerate(blocks)
            ),
            encoding="utf-8",
        )
    for old in DATA.glob(".generated-*"):
        old.unlink()
    stamp.touch()
    return py_files, js_files


_OUR_RUNNER = """
import sys
from buildrunner.security.sql import scan_source
count = 0
for line in sys.stdin:
    path = line.rstrip("\\n")
    with open(path, encoding="utf-8", errors="replace") as handle:
        findings, _ = scan_source(path, handle.read())
    count += len(findings)
print(count)
"""


def timed(command: list[str], stdin: str | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout


def best(runs: int, command: list[str], stdin: str | None = None) -> tuple[float, float, str]:
    """The fastest of `runs` (the machine may be shared: the minimum is the least disturbed)."""
    results = [timed(command, stdin) for _ in range(runs)]
    return min(results, key=lambda item: item[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1500, help="Python files (and as many JS/TS)")
    parser.add_argument("--quick", action="store_true", help="300 files of each, one run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (best is kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = 300 if args.quick else args.files
    runs = 1 if args.quick else args.repeat
    py_files, js_files = generate(files)
    py_bytes = sum(path.stat().st_size for path in py_files)
    js_bytes = sum(path.stat().st_size for path in js_files)
    rows: list[dict[str, object]] = []

    def record(
        tool: str,
        scope: str,
        timing: tuple[float, float, str],
        count: int,
        size: int,
        found: str | None = None,
    ) -> None:
        seconds, cpu, out = timing
        found = out if found is None else found
        rows.append(
            {
                "tool": tool,
                "files": scope,
                "seconds": round(seconds, 3),
                "cpu_s": round(cpu, 3),
                "files_per_s": round(count / seconds, 1),
                "mb_per_s": round(size / seconds / 1e6, 3),
                "findings": found.strip().splitlines()[-1] if found.strip() else "",
            }
        )

    ours = [sys.executable, "-c", _OUR_RUNNER]
    for scope, paths, size in (
        ("python", py_files, py_bytes),
        ("js/ts", js_files, js_bytes),
        ("python+js/ts", py_files + js_files, py_bytes + js_bytes),
    ):
        timing = best(runs, ours, "\n".join(map(str, paths)) + "\n")
        record("buildrunner", scope, timing, len(paths), size)
    bandit = peer_bin("bandit", "bandit", "bandit")
    if bandit is not None:
        timing = best(runs, [str(bandit), "-q", "-t", "B608", "-f", "json", "-r", str(DATA)])
        issues = len(json.loads(timing[2] or "{}").get("results", []))
        record("bandit B608", "python", timing, len(py_files), py_bytes, str(issues))
    ruff = peer_bin("ruff", "ruff", "ruff")
    if ruff is not None:
        command = [
            str(ruff),
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "S608",
            "--exit-zero",
            "--output-format",
            "json",
            str(DATA),
        ]
        timing = best(runs, command)
        record(
            "ruff S608 (Rust, multi-threaded)",
            "python",
            timing,
            len(py_files),
            py_bytes,
            str(len(json.loads(timing[2] or "[]"))),
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"tree: {len(py_files)} Python files ({py_bytes / 1e6:.1f} MB), "
        f"{len(js_files)} JS/TS files ({js_bytes / 1e6:.1f} MB); best of {runs}, whole process"
    )
    print(
        f"{'tool':<34} {'files':<13} {'wall s':>7} {'CPU s':>7} {'files/s':>8} {'MB/s':>6} "
        f"{'findings':>9}"
    )
    for row in rows:
        print(
            f"{row['tool']:<34} {row['files']:<13} {row['seconds']:>7.2f} {row['cpu_s']:>7.2f} "
            f"{row['files_per_s']:>8.1f} {row['mb_per_s']:>6.2f} {row['findings']:>9}"
        )


if __name__ == "__main__":
    main()
