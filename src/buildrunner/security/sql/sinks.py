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
    # what the constant text must look like for a weak sink: a statement, a WHERE predicate, or
    # (`fragment`: SQLAlchemy's filter/order_by/...) anything, on a query object or in a file
    # that imports SQLAlchemy
    shape: Literal["statement", "predicate", "fragment"] = "statement"
    not_receivers: tuple[str, ...] = ()  # receivers for which the name means something else


_NOT_PG8000 = ("subprocess", "os", "asyncio", "loop", "trio", "anyio", "app", "runner", "uvicorn",
               "pool", "executor", "cli", "invoke", "c", "ctx", "context", "docker", "container")

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
    Sink("literal_column", "SQLAlchemy", "high", "strong", call_style="any"),
    Sink("filter", "SQLAlchemy Query", "high", "weak", shape="fragment"),
    Sink("order_by", "SQLAlchemy Query", "medium", "weak", shape="fragment"),
    Sink("group_by", "SQLAlchemy Query", "medium", "weak", shape="fragment"),
    Sink("having", "SQLAlchemy Query", "high", "weak", shape="fragment"),
    Sink("distinct", "SQLAlchemy Query", "medium", "weak", shape="fragment"),
    Sink("run", "pg8000", "high", "weak", not_receivers=_NOT_PG8000),
    Sink("SQL", "psycopg sql", "high", "weak", call_style="any"),
)

# Modules whose import makes a weak sink strong in that file: `text()` from SQLAlchemy, `raw()`
# on a Django manager.
PYTHON_STRONG_WHEN_IMPORTED: dict[str, tuple[str, ...]] = {
    "text": ("sqlalchemy",),
    "raw": ("django",),
    "extra": ("django",),
    "read_sql": ("pandas",),
    "read_sql_query": ("pandas",),
    "SQL": ("psycopg", "psycopg2"),
    "filter": ("sqlalchemy", "flask_sqlalchemy", "sqlmodel"),
    "order_by": ("sqlalchemy", "flask_sqlalchemy", "sqlmodel"),
    "group_by": ("sqlalchemy", "flask_sqlalchemy", "sqlmodel"),
    "having": ("sqlalchemy", "flask_sqlalchemy", "sqlmodel"),
    "distinct": ("sqlalchemy", "flask_sqlalchemy", "sqlmodel"),
}

# Modules whose import makes a file database code: there, request data handed straight to
# `execute()` is reported even though nothing was spliced into it.
PYTHON_DB_MODULES: frozenset[str] = frozenset({
    "sqlite3", "psycopg", "psycopg2", "pymysql", "MySQLdb", "mysql", "asyncpg", "aiopg",
    "aiomysql", "aiosqlite", "pg8000", "sqlalchemy", "django", "cx_Oracle", "oracledb", "pyodbc",
    "pymssql", "snowflake", "duckdb", "databases", "peewee", "records", "flask_sqlalchemy",
    "sqlmodel", "tortoise", "clickhouse_driver", "trino", "ibm_db", "teradatasql",
})

# Methods that produce SQL and are judged by what they return (Django custom expressions):
# the first element of the returned (sql, params) is SQL.
PYTHON_RETURN_SINKS: dict[str, Sink] = {
    name: Sink(name, "Django expression", "high", "strong")
    for name in ("as_sql", "as_sqlite", "as_postgresql", "as_mysql", "as_oracle")
}

# Calls whose result is SQL text made safely from safe parts (compiled Django expressions).
PYTHON_SQL_PRODUCERS: frozenset[str] = frozenset(
    {"compile", "as_sql", "process_lhs", "process_rhs", "get_db_prep_lookup", "SQL", "Composed"}
)

# Web request data, read by shape wherever it appears: `<object>.<attribute>...`.
REQUEST_OBJECT_NAMES: frozenset[str] = frozenset({"request", "req"})
REQUEST_DATA_ATTRIBUTES: frozenset[str] = frozenset({
    "args", "form", "values", "json", "data", "cookies", "headers", "files", "get_json",
    "get_data", "view_args", "GET", "POST", "COOKIES", "META", "FILES", "body", "query_params",
    "path_params", "params", "matchdict", "json_body", "query_string", "GET_dict", "POST_dict",
})
# Decorators (attribute form: `@app.route`, `@router.get`) that make a function a route handler;
# the typed ones validate annotated parameters (FastAPI, Starlette-based frameworks).
ROUTE_DECORATORS: frozenset[str] = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
)
TYPED_ROUTE_DECORATORS: frozenset[str] = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
)
FRAMEWORK_VALIDATED_TYPES: frozenset[str] = frozenset(
    {"int", "float", "bool", "UUID", "UUID4", "UUID1", "date", "datetime", "time", "Decimal",
     "PositiveInt", "NegativeInt", "NonNegativeInt", "conint", "confloat", "StrictInt", "StrictBool"}
)

# Calls that take a string for other purposes than running it: a built SQL string passed to them
# is not "passed on" to be run (log messages, errors, output, string helpers).
PASSED_ON_IGNORED: frozenset[str] = frozenset({
    "print", "debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log",
    "write", "writelines", "echo", "secho", "append", "extend", "insert", "add", "format", "join",
    "startswith", "endswith", "replace", "split", "encode", "decode", "strip", "len", "str",
    "repr", "isinstance", "setattr", "getattr", "hasattr", "fail", "skip", "xfail", "exit",
    "abort", "compile", "match", "search", "sub", "findall", "fullmatch", "dedent", "indent",
    "escape", "quote", "hash", "md5", "sha1", "sha256", "update", "Text", "Markup", "Panel",
    "emit", "send", "put", "set", "dumps", "dump", "count", "index", "find", "rfind",
})

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
    Sink("prepare", "better-sqlite3/sqlite3", "high", "weak"),
    Sink("all", "sqlite3", "high", "weak"),
    Sink("get", "sqlite3", "high", "weak"),
    Sink("run", "sqlite3", "high", "weak"),
    Sink("each", "sqlite3", "high", "weak"),
    Sink("exec", "sqlite3/better-sqlite3", "high", "weak"),
    Sink("any", "pg-promise", "high", "weak"),
    Sink("one", "pg-promise", "high", "weak"),
    Sink("many", "pg-promise", "high", "weak"),
    Sink("none", "pg-promise", "high", "weak"),
    Sink("oneOrNone", "pg-promise", "high", "weak"),
    Sink("manyOrNone", "pg-promise", "high", "weak"),
    Sink("unsafe", "postgres.js", "critical", "strong"),
)

# Any method whose name says it runs a query (`runQuery`, `executeSql`, `rawQuery`): a string
# built from request data and handed to one is reported whatever its constant parts look like.
JS_QUERY_METHOD = re.compile(
    r"^\$?(?:query|execute|raw|sql)|Query|Execute|Raw|Sql|SQL|_(?:query|execute|raw|sql)"
)

# Request data in JS: `<object>.<first property>` (Express `req.query`, Koa `ctx.request.body`).
JS_REQUEST_DATA: dict[str, frozenset[str]] = {
    name: frozenset({"query", "params", "body", "cookies", "signedCookies", "headers", "files",
                     "file", "fields"})
    for name in ("req", "request", "ctx")
}

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

# What a whole statement looks like from its start: a built string with this shape that is
# returned or handed to an unknown function is SQL made to be run elsewhere (bandit's B608 view,
# stricter: the statement must start the string, so prose like "select one from the list" is not).
SQL_STATEMENT_START = re.compile(
    r"(?is)^[\s(]*(?:select\b.+?\bfrom\b|insert\s+(?:or\s+\w+\s+)?into\b|"
    r"update\s+[\w.\"`\[\]?]+\s+set\b|delete\s+from\b|replace\s+into\b|merge\s+into\b|"
    r"(?:drop|alter|create|truncate)\s+(?:temp\w*\s+)?(?:table|index|view|database|schema|"
    r"role|user|sequence|trigger|function)\b|with\s+\w+\s+as\s*\()"
)

# A comparison whose right side is spliced data (`name = '?'`, spliced parts read as '?'): what
# a WHERE predicate built from strings looks like, enough for the TypeORM where-family.
SQL_PREDICATE = re.compile(r"(?i)(=|<>|!=|<|>|\blike\b|\bin\b|\bis\b)\s*['\"(%]*\?")



def looks_like_sql(constant_text: str, shape: str = "statement") -> bool:
    """True when the constant parts of a query read as SQL (for weak sinks)."""
    if SQL_SHAPE.search(constant_text):
        return True
    return shape in ("predicate", "fragment") and bool(SQL_PREDICATE.search(constant_text))


# Words of prose that never stand between SELECT and FROM in a query ("Select the rows you want
# from the list"): a message, not SQL.
_PROSE_SELECT = re.compile(
    r"(?is)^[\s(]*select\b(?:(?!\bfrom\b).)*?\b(?:the|you|your|want|which|please|will|would|"
    r"should|can|this|these|those|one|some|any)\b"
)


def is_sql_statement(constant_text: str) -> bool:
    """True when a string starts like a whole SQL statement (for strings returned or passed on)."""
    return bool(SQL_STATEMENT_START.search(constant_text)) and not _PROSE_SELECT.search(constant_text)


def index_sinks(sinks: tuple[Sink, ...]) -> dict[str, Sink]:
    """Sinks keyed by call name for O(1) lookup at each call site."""
    return {sink.name: sink for sink in sinks}
