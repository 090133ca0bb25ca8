# ruff: noqa: UP031, UP032
"""Development cases written late: first meant as held-out, but the analyser was then changed for them."""

import sqlite3
from typing import Any

from flask import request

TENANT_SCHEMA = "tenant_main"
VALID_DIRECTIONS = ("ASC", "DESC")


# case: py-late-flask-view vulnerable
def user_view(db: sqlite3.Connection) -> list:
    name = request.args["name"]
    rows = db.execute("SELECT * FROM users WHERE name LIKE '%" + name + "%'").fetchall()
    return rows


# case: py-late-flask-view-safe safe
def user_view_safe(db: sqlite3.Connection) -> list:
    name = request.args["name"]
    return db.execute("SELECT * FROM users WHERE name LIKE ?", ("%" + name + "%",)).fetchall()


# case: py-late-schema-constant safe
def tenant_users(cur: Any) -> list:
    cur.execute("SELECT * FROM %s.users" % TENANT_SCHEMA)
    return cur.fetchall()


# case: py-late-direction-guard safe
def ordered(cur: Any, direction: str) -> list:
    direction = direction.upper()
    if direction not in VALID_DIRECTIONS:
        direction = "ASC"
    cur.execute(f"SELECT * FROM users ORDER BY created_at {direction}")
    return cur.fetchall()


# case: py-late-direction-unchecked vulnerable
def ordered_unchecked(cur: Any, direction: str) -> list:
    cur.execute(f"SELECT * FROM users ORDER BY created_at {direction.upper()}")
    return cur.fetchall()


# case: py-late-copy-expert vulnerable
def export(cur: Any, table: str, out: Any) -> None:
    cur.copy_expert(f"COPY {table} TO STDOUT WITH CSV HEADER", out)


# case: py-late-string-template-var vulnerable
def by_email(cur: Any, email: str) -> list:
    template = "SELECT id FROM users WHERE email = '{email}'"
    sql = template.format(email=email)
    cur.execute(sql)
    return cur.fetchall()


# case: py-late-tuple-unpack vulnerable
def pair_lookup(cur: Any, pair: tuple[str, str]) -> list:
    first, last = pair
    cur.execute(f"SELECT * FROM people WHERE first = '{first}' AND last = '{last}'")
    return cur.fetchall()


# case: py-late-bool-flag safe
def active(cur: Any, only_active: bool) -> list:
    flag = 1 if only_active else 0
    cur.execute(f"SELECT * FROM users WHERE active = {flag}")
    return cur.fetchall()


# case: py-late-date-isoformat vulnerable
def since(cur: Any, day: Any) -> list:
    cur.execute("SELECT * FROM events WHERE day >= '" + day.isoformat() + "'")
    return cur.fetchall()


# case: py-late-uuid-cast safe
def by_uuid(cur: Any, raw: str) -> list:
    import uuid

    key = uuid.UUID(raw)
    cur.execute("SELECT * FROM events WHERE id = %s", (str(key),))
    return cur.fetchall()


# case: py-late-executemany-values-built vulnerable
def import_rows(cur: Any, rows: list[dict[str, str]]) -> None:
    for row in rows:
        values = ", ".join(f"'{v}'" for v in row.values())
        cur.execute(f"INSERT INTO staging VALUES ({values})")


# case: py-late-sqlite-pragma-int safe
def set_cache(conn: sqlite3.Connection, pages: int) -> None:
    conn.execute(f"PRAGMA cache_size = {int(pages)}")


# case: py-late-sqlite-attach vulnerable
def attach(conn: sqlite3.Connection, path: str) -> None:
    conn.execute(f"ATTACH DATABASE '{path}' AS other")


# case: py-late-global-query-param safe
def q_constant(cur: Any, user_id: int) -> list:
    cur.execute(QUERY_BY_ID, (user_id,))
    return cur.fetchall()


QUERY_BY_ID = "SELECT * FROM users WHERE id = %s"


# case: py-late-dict-cursor-self vulnerable
class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def delete(self, key: str) -> None:
        self.conn.execute("DELETE FROM kv WHERE key = '%s'" % key)


# case: py-late-percent-escape-literal safe
def like_all(cur: Any, pattern: str) -> list:
    cur.execute("SELECT * FROM kv WHERE key LIKE '%%' || %s || '%%'", (pattern,))
    return cur.fetchall()


# case: py-late-nested-format vulnerable
def nested(cur: Any, col: str, val: str) -> list:
    cur.execute("SELECT * FROM kv WHERE {} = '{}'".format(col, val.strip()))
    return cur.fetchall()
