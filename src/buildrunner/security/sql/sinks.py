"""Where a query string becomes SQL: the sink tables for both analysers, and what makes data safe.

Data, not code: each analyser looks a call up here by its method or function name. A *strong* sink
executes its argument as SQL whatever it looks like (`executescript`, `knex.raw`,
`$queryRawUnsafe`); a *weak* sink has a name other libraries use too (`execute`, `query`, `fetch`),
so the analysers only report it when the constant parts of the string look like SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from buildrunner.security.findings import Severity

Strength = Literal["strong", "weak"]


@dataclass(frozen=True)
class Sink:
    """A call that runs its argument as SQL."""

    name: str  # method or function name as written at the call site
    family: str  # library family, shown in messages ("DB-API", "SQLAlchemy", ...)
    severity: Severity
    strength: Strength
    arg_index: int = 0  # positional index of the query argument
    keywords: tuple[str, ...] = ()  # keyword names that also carry SQL (Django extra(where=...))
    receivers: tuple[str, ...] = ()  # required receiver names (last segment); empty: any receiver
    call_style: Literal["method", "function", "any"] = "method"
    # what the constant text must look like for a weak sink: a statement, or a WHERE predicate
    shape: Literal["statement", "predicate"] = "statement"


# Python sinks. `execute` & co. are weak: executors, task queues and shells use the names too.
PYTHON_SINKS: tuple[Sink, ...] = (
    Sink("execute", "DB-API", "high", "weak", call_style="any"),
    Sink("executemany", "DB-API", "high", "weak"),
    Sink("executescript", "sqlite3", "critical", "strong"),
    Sink("mogrify", "psycopg", "medium", "weak"),
    Sink("copy_expert", "psycopg2", "high", "strong"),
    Sink("copy", "psycopg 3", "high", "weak"),
    Sink("fetch", "asyncpg", "high", "weak"),
    Sink("fetchrow", "asyncpg", "high", "weak"),
    Sink("fetchval", "asyncpg", "high", "weak"),
    Sink("exec_driver_sql", "SQLAlchemy", "high", "strong"),
    Sink("text", "SQLAlchemy", "high", "weak", call_style="any"),
    Sink("raw", "Django", "high", "weak"),
    Sink("extra", "Django", "medium", "weak", keywords=("where", "select", "tables", "order_by")),
    Sink("RawSQL", "Django", "high", "strong", call_style="any"),
    Sink("read_sql", "pandas", "high", "weak", call_style="any"),
    Sink("read_sql_query", "pandas", "high", "weak", call_style="any"),
)

# Modules whose import makes a weak sink strong in that file: `text()` from SQLAlchemy, `raw()`
# on a Django manager.
PYTHON_STRONG_WHEN_IMPORTED: dict[str, tuple[str, ...]] = {
    "text": ("sqlalchemy",),
    "raw": ("django",),
    "extra": ("django",),
    "read_sql": ("pandas",),
    "read_sql_query": ("pandas",),
}

# Calls whose result carries no attacker-controlled text: casts, quoting and escaping helpers,
# and query builders that compose SQL safely (psycopg.sql, SQLAlchemy Core).
PYTHON_SANITIZERS: frozenset[str] = frozenset(
    {
        "int", "float", "bool", "len", "abs", "round", "ord", "hash", "id",
        "quote_name", "quote_ident", "quote_identifier", "quote", "escape_string",
        "escape_identifier", "Identifier", "Literal", "Placeholder", "uuid4", "uuid1",
        "count", "isoformat_safe",
    }
)

# Functions whose result is safe when their arguments are: the result is a number or a
# combination of safe parts.
PYTHON_PASSTHROUGH: frozenset[str] = frozenset(
    {"str", "repr", "min", "max", "sum", "sorted", "list", "tuple", "set", "frozenset", "dict",
     "range", "enumerate", "reversed"}
)

# JavaScript / TypeScript sinks.
JS_SINKS: tuple[Sink, ...] = (
    Sink("query", "node-postgres/mysql/Sequelize/TypeORM", "high", "weak"),
    Sink("execute", "mysql2", "high", "weak"),
    Sink("raw", "knex", "high", "strong"),
    Sink("whereRaw", "knex", "high", "strong"),
    Sink("orWhereRaw", "knex", "high", "strong"),
    Sink("andWhereRaw", "knex", "high", "strong"),
    Sink("havingRaw", "knex", "high", "strong"),
    Sink("orHavingRaw", "knex", "high", "strong"),
    Sink("joinRaw", "knex", "high", "strong"),
    Sink("orderByRaw", "knex", "medium", "strong"),
    Sink("groupByRaw", "knex", "medium", "strong"),
    Sink("$queryRawUnsafe", "Prisma", "critical", "strong"),
    Sink("$executeRawUnsafe", "Prisma", "critical", "strong"),
    Sink("$queryRaw", "Prisma", "high", "strong"),
    Sink("$executeRaw", "Prisma", "high", "strong"),
    Sink("literal", "Sequelize", "high", "strong"),
    Sink("where", "TypeORM QueryBuilder", "high", "weak", shape="predicate"),
    Sink("andWhere", "TypeORM QueryBuilder", "high", "weak", shape="predicate"),
    Sink("orWhere", "TypeORM QueryBuilder", "high", "weak", shape="predicate"),
    Sink("having", "TypeORM QueryBuilder", "medium", "weak", shape="predicate"),
)

# Tags whose template literal builds a plain string (so substitutions are spliced, not bound).
JS_STRING_TAGS: frozenset[str] = frozenset({"String.raw"})

JS_SANITIZERS: frozenset[str] = frozenset(
    {
        "Number", "parseInt", "parseFloat", "Boolean", "escape", "escapeId", "escapeLiteral",
        "escapeIdentifier", "format", "quoteIdentifier", "quote", "isInteger", "Math.floor",
        "Math.ceil", "Math.round", "Math.trunc", "Math.min", "Math.max", "Math.abs",
        "Number.parseInt", "Number.parseFloat", "randomUUID",
    }
)

# Words that make the constant parts of a string read as SQL for weak sinks.
SQL_SHAPE = re.compile(
    r"(?is)"
    r"^\s*(select|insert|update|delete|replace|merge|with|create|drop|alter|truncate|pragma|"
    r"call|exec|grant|revoke|vacuum|analyze|explain|show|describe|upsert|copy|attach|detach|"
    r"begin|commit|rollback|savepoint|set|reindex|refresh)\b"
    r"|\bselect\b.+?\bfrom\b"
    r"|\binsert\s+into\b"
    r"|\bupdate\b.+?\bset\b"
    r"|\bdelete\s+from\b"
    r"|\b(where|having|order\s+by|group\s+by|inner\s+join|left\s+join|values)\b"
)

# A comparison whose right side is spliced data (`name = '?'`, spliced parts read as '?'): what
# a WHERE predicate built from strings looks like, enough for the TypeORM where-family.
SQL_PREDICATE = re.compile(r"(?i)(=|<>|!=|<|>|\blike\b|\bin\b|\bis\b)\s*['\"(%]*\?")



def looks_like_sql(constant_text: str, shape: str = "statement") -> bool:
    """True when the constant parts of a query read as SQL (for weak sinks)."""
    if SQL_SHAPE.search(constant_text):
        return True
    return shape == "predicate" and bool(SQL_PREDICATE.search(constant_text))


def index_sinks(sinks: tuple[Sink, ...]) -> dict[str, Sink]:
    """Sinks keyed by call name for O(1) lookup at each call site."""
    return {sink.name: sink for sink in sinks}
