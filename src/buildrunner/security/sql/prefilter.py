"""Which files the SQL pass parses: one cheap multi-pattern pass over the text before any tree.

Parsing is what costs (Python's `ast.parse` runs at a few MB/s), and most source files hold no
query, so a file is parsed only when its text shows that a finding is possible:

- a sink that runs anything as SQL (`executescript(`, `RawSQL(`, `whereRaw(`, `$queryRawUnsafe(`,
  `def as_sql`, ...): always;
- a sink whose name other libraries use too (`execute(`, `.run(`, `.filter(`, `.query(`, `.get(`,
  ...): with SQL in the text as well, or with a database import (Python) or request data (JS/TS:
  `req.`, `ctx.`, `event.`) in the file;
- SQL in a string (`"SELECT `, `'insert into `, `DELETE FROM`, ...) in Python: the rules on SQL
  built and returned or passed on need nothing else.

All patterns go into one Aho-Corasick automaton (`ahocorasick_rs`, already used by the secret
engine; a `str.find` loop when it is missing). A file the prefilter drops cannot produce a
finding except through SQL written without any of these words (`execute("set " + x)` in a file
that names no other sink): a documented blind spot, traded for parsing a small share of files.
"""

from __future__ import annotations

from functools import cache
from pathlib import PurePath
from typing import Any, NamedTuple

from buildrunner.security.sql import JAVASCRIPT_SUFFIXES, PYTHON_SUFFIXES, SUPPORTED_SUFFIXES

# Sinks that run their argument as SQL whatever it looks like: always parse.
RARE_PYTHON = (
    "executescript(",
    "exec_driver_sql(",
    "RawSQL(",
    "literal_column(",
    "copy_expert(",
    "def as_sql",
    "def as_postgresql",
    "def as_mysql",
    "def as_sqlite",
    "def as_oracle",
)
# Sinks whose name other libraries use too: parse only with SQL or a database import in the file.
COMMON_PYTHON = (
    "execute(",
    "executemany(",
    "fetchrow(",
    "fetchval(",
    ".fetch(",
    "read_sql",
    ".extra(",
    "mogrify(",
    ".raw(",
    "SQL(",
    ".run(",
    ".copy(",
    ".filter(",
    ".order_by(",
    ".group_by(",
    ".having(",
    ".distinct(",
    "text(",
)
RARE_JAVASCRIPT = (
    "whereRaw(",
    "havingRaw(",
    "joinRaw(",
    "orderByRaw(",
    "groupByRaw(",
    "$queryRaw",
    "$executeRaw",
    ".raw(",
    ".literal(",
    ".unsafe(",
)
COMMON_JAVASCRIPT = (
    ".query(",
    ".execute(",
    "Query(",
    "Execute(",
    "Raw(",
    "Sql(",
    "SQL(",
    "query(",
    "execute(",
    ".where(",
    ".andWhere(",
    ".orWhere(",
    ".having(",
    ".all(",
    ".get(",
    ".run(",
    ".each(",
    ".exec(",
    ".prepare(",
    ".any(",
    ".one(",
    ".many(",
    ".none(",
    ".oneOrNone(",
    ".manyOrNone(",
)
# Evidence that a common sink may be one: a database import (Python), request data (JS/TS: a
# query method given request data is reported whatever the string looks like).
CONTEXT_PYTHON = (
    "sqlite3",
    "psycopg",
    "pymysql",
    "MySQLdb",
    "mysql.connector",
    "asyncpg",
    "aiopg",
    "aiomysql",
    "aiosqlite",
    "pg8000",
    "sqlalchemy",
    "django.db",
    "cx_Oracle",
    "oracledb",
    "pyodbc",
    "pymssql",
    "duckdb",
    "databases",
    "peewee",
    "snowflake",
    "sqlmodel",
    "flask_sqlalchemy",
)
CONTEXT_JAVASCRIPT = ("req.", "request.", "ctx.", "event.", "event?.")
_STATEMENTS = (
    "select ",
    "select\n",
    "insert into",
    "delete from",
    "update ",
    "create table",
    "drop table",
    "alter table",
    "truncate ",
    "pragma ",
    "replace into",
)
_QUOTES = ('"', "'", "`", '"""', "'''", '" ', "' ", "` ", '"\n', "'\n", "`\n")
# SQL in a string: a quote followed by a statement's first words (any case), or the upper-case
# spellings that next to nothing but SQL uses (triple-quoted queries start on their own line).
SQL_EVIDENCE = tuple(
    dict.fromkeys(
        [quote + word for quote in _QUOTES for word in _STATEMENTS]
        + [quote + word.upper().strip() for quote in _QUOTES for word in _STATEMENTS]
        + [
            "SELECT ",
            "INSERT INTO",
            "DELETE FROM",
            " WHERE ",
            "CREATE TABLE",
            "DROP TABLE",
            "ALTER TABLE",
            " ORDER BY ",
            " GROUP BY ",
            " VALUES ",
            "UPDATE ",
            " WHERE\n",
            "ATTACH ",
            "PRAGMA ",
        ]
    )
)

_RARE, _COMMON, _EVIDENCE, _CONTEXT = 0, 1, 2, 3


class _Matcher(NamedTuple):
    automaton: Any  # ahocorasick_rs.BytesAhoCorasick, or None (fallback)
    patterns: list[str]
    kinds: list[int]


@cache
def _matcher(language: str) -> _Matcher:
    rare, common, context = (
        (RARE_PYTHON, COMMON_PYTHON, CONTEXT_PYTHON)
        if language == "python"
        else (RARE_JAVASCRIPT, COMMON_JAVASCRIPT, CONTEXT_JAVASCRIPT)
    )
    patterns = [*rare, *common, *SQL_EVIDENCE, *context]
    kinds = (
        [_RARE] * len(rare)
        + [_COMMON] * len(common)
        + [_EVIDENCE] * len(SQL_EVIDENCE)
        + [_CONTEXT] * len(context)
    )
    try:
        import ahocorasick_rs

        automaton: Any = ahocorasick_rs.BytesAhoCorasick(
            [p.encode() for p in patterns], implementation=ahocorasick_rs.Implementation.DFA
        )
    except ImportError:  # pure-Python fallback: same answers, slower
        automaton = None
    return _Matcher(automaton, patterns, kinds)


def might_hold_sql(path: str, text: str, data: bytes | None = None) -> bool:
    """False when `path` cannot hold an SQL-injection finding (no parse needed)."""
    suffix = PurePath(path).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return False
    language = "python" if suffix in PYTHON_SUFFIXES else "javascript"
    automaton, patterns, kinds = _matcher(language)
    found: set[int] = set()
    if automaton is not None:
        haystack = data if data is not None else text.encode("utf-8", "replace")
        kinds_found = (kinds[index] for index, _, _ in automaton.find_matches_as_indexes(haystack))
    else:
        kinds_found = (kinds[index] for index, pattern in enumerate(patterns) if pattern in text)
    for kind in kinds_found:
        if kind == _RARE or (kind == _EVIDENCE and language == "python"):
            return True  # a strong sink; or SQL in a string (built and returned/passed on)
        found.add(kind)
        if _COMMON in found and (_EVIDENCE in found or _CONTEXT in found):
            return True
    return False


__all__ = ["JAVASCRIPT_SUFFIXES", "might_hold_sql"]
