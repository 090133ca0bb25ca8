"""Which files the SQL pass parses: one cheap multi-pattern pass over the text before any tree.

Parsing is what costs (Python's `ast.parse` runs at a few MB/s), and most source files hold no
query, so a file is parsed only when its text shows that a finding is possible:

- a *rare* sink call (`.execute(`, `executescript(`, `RawSQL(`, `whereRaw(`, `$queryRawUnsafe(`,
  `def as_sql`, ...): always;
- a *common* call that is a sink only for some libraries (`.run(`, `.copy(`, `.filter(`, `.get(`,
  `.all(`, ...): only with SQL in the text as well;
- SQL in a string (`"SELECT `, `'insert into `, `DELETE FROM`, ...): the rules on SQL built
  and returned or passed on need nothing else.

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

RARE_PYTHON = (
    ".execute(", "execute(", "executemany(", "executescript(", "fetchrow(", "fetchval(", ".fetch(",
    "exec_driver_sql(", "RawSQL(", "literal_column(", "read_sql", ".extra(", "copy_expert(",
    "mogrify(", "def as_sql", "def as_postgresql", "def as_mysql", "def as_sqlite", "def as_oracle",
    ".raw(", "SQL(",
)
COMMON_PYTHON = (".run(", ".copy(", ".filter(", ".order_by(", ".group_by(", ".having(",
                 ".distinct(", "text(")
RARE_JAVASCRIPT = (
    "whereRaw(", "havingRaw(", "joinRaw(", "orderByRaw(", "groupByRaw(", "$queryRaw",
    "$executeRaw", ".raw(", ".literal(", ".unsafe(", ".query(", ".execute(", "Query(", "Execute(",
    "Raw(", "Sql(", "SQL(", "query(", "execute(",
)
COMMON_JAVASCRIPT = (".where(", ".andWhere(", ".orWhere(", ".having(", ".all(", ".get(", ".run(",
                     ".each(", ".exec(", ".prepare(", ".any(", ".one(", ".many(", ".none(",
                     ".oneOrNone(", ".manyOrNone(")
_STATEMENTS = ("select ", "select\n", "insert into", "delete from", "update ", "create table",
               "drop table", "alter table", "truncate ", "pragma ", "replace into")
_QUOTES = ('"', "'", "`", '"""', "'''", '" ', "' ", "` ", '"\n', "'\n", "`\n")
# SQL in a string: a quote followed by a statement's first words (any case), or the upper-case
# spellings that next to nothing but SQL uses (triple-quoted queries start on their own line).
SQL_EVIDENCE = tuple(dict.fromkeys(
    [quote + word for quote in _QUOTES for word in _STATEMENTS]
    + [quote + word.upper() for quote in _QUOTES for word in _STATEMENTS]
    + ["SELECT ", "INSERT INTO", "DELETE FROM", " WHERE ", "CREATE TABLE", "DROP TABLE",
       "ALTER TABLE", " ORDER BY ", " GROUP BY ", " VALUES ", "UPDATE "]
))

_RARE, _COMMON, _EVIDENCE = 0, 1, 2


class _Matcher(NamedTuple):
    automaton: Any  # ahocorasick_rs.BytesAhoCorasick, or None (fallback)
    patterns: list[str]
    kinds: list[int]


@cache
def _matcher(language: str) -> _Matcher:
    rare, common = (RARE_PYTHON, COMMON_PYTHON) if language == "python" else (
        RARE_JAVASCRIPT, COMMON_JAVASCRIPT)
    patterns = [*rare, *common, *SQL_EVIDENCE]
    kinds = [_RARE] * len(rare) + [_COMMON] * len(common) + [_EVIDENCE] * len(SQL_EVIDENCE)
    try:
        import ahocorasick_rs

        automaton: Any = ahocorasick_rs.BytesAhoCorasick(
            [p.encode() for p in patterns], implementation=ahocorasick_rs.Implementation.DFA)
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
        for index, _, _ in automaton.find_matches_as_indexes(haystack):
            kind = kinds[index]
            if kind == _RARE or (kind == _EVIDENCE and language == "python"):
                return True
            found.add(kind)
            if len(found) == 2:
                return True
        return False
    for index, pattern in enumerate(patterns):
        if kinds[index] in found or pattern not in text:
            continue
        if kinds[index] == _RARE or (kinds[index] == _EVIDENCE and language == "python"):
            return True
        found.add(kinds[index])
        if len(found) == 2:
            return True
    return False


__all__ = ["JAVASCRIPT_SUFFIXES", "might_hold_sql"]
