# ruff: noqa: UP031, SIM108
"""Queries assembled across statements: variables, +=, branches, loops, lists and join."""

import sqlite3
from typing import Any

ALLOWED_FILTERS = frozenset({"status", "owner", "region"})
SORT_KEYS = {"new": "created_at DESC", "old": "created_at ASC"}
BASE_QUERY = "SELECT id, title FROM tickets"


# case: py-flow-augassign-branch vulnerable
def search(conn: sqlite3.Connection, status: str | None, owner: str | None) -> list:
    query = "SELECT * FROM tickets WHERE 1 = 1"
    if status:
        query += " AND status = '" + status + "'"
    if owner:
        query += f" AND owner = '{owner}'"
    return conn.execute(query).fetchall()


# case: py-flow-augassign-params safe
def search_safe(conn: sqlite3.Connection, status: str | None, owner: str | None) -> list:
    query = "SELECT * FROM tickets WHERE 1 = 1"
    params: list[Any] = []
    if status:
        query += " AND status = ?"
        params.append(status)
    if owner:
        query += " AND owner = ?"
        params.append(owner)
    return conn.execute(query, params).fetchall()


# case: py-flow-reassign-chain vulnerable
def by_title(conn: sqlite3.Connection, title: str) -> list:
    where = f"title = '{title}'"
    query = BASE_QUERY + " WHERE " + where
    final = query
    return conn.execute(final).fetchall()


# case: py-flow-clauses-list-join vulnerable
def filtered(conn: sqlite3.Connection, filters: dict[str, str]) -> list:
    clauses = []
    for column, value in filters.items():
        clauses.append(f"{column} = '{value}'")
    sql = "SELECT * FROM tickets WHERE " + " AND ".join(clauses)
    return conn.execute(sql).fetchall()


# case: py-flow-clauses-placeholders safe
def filtered_safe(conn: sqlite3.Connection, filters: dict[str, str]) -> list:
    clauses = []
    values = []
    for column, value in filters.items():
        if column not in ALLOWED_FILTERS:
            raise ValueError(f"unknown filter {column}")
        clauses.append(f"{column} = ?")
        values.append(value)
    sql = "SELECT * FROM tickets WHERE " + " AND ".join(clauses)
    return conn.execute(sql, values).fetchall()


# case: py-flow-in-list-placeholders safe
def by_ids(conn: sqlite3.Connection, ids: list[int]) -> list:
    marks = ",".join("?" * len(ids))
    return conn.execute(f"SELECT * FROM tickets WHERE id IN ({marks})", ids).fetchall()


# case: py-flow-in-list-percent-s-join safe
def by_ids_pg(cur: Any, ids: list[int]) -> list:
    query = "SELECT * FROM tickets WHERE id IN (%s)" % ", ".join(["%s"] * len(ids))
    cur.execute(query, ids)
    return cur.fetchall()


# case: py-flow-in-list-values-joined vulnerable
def by_names(cur: Any, names: list[str]) -> list:
    quoted = ", ".join(f"'{name}'" for name in names)
    cur.execute(f"SELECT * FROM tickets WHERE owner IN ({quoted})")
    return cur.fetchall()


# case: py-flow-in-list-str-ints vulnerable
def by_id_list(cur: Any, ids: list[str]) -> list:
    cur.execute("SELECT * FROM tickets WHERE id IN (" + ",".join(ids) + ")")
    return cur.fetchall()


# case: py-flow-in-list-int-map safe
def by_id_list_ints(cur: Any, ids: list[str]) -> list:
    cur.execute("SELECT * FROM tickets WHERE id IN (" + ",".join(map(str, map(int, ids))) + ")")
    return cur.fetchall()


# case: py-flow-allowlist-guard safe
def sorted_by(conn: sqlite3.Connection, column: str) -> list:
    if column not in ALLOWED_FILTERS:
        raise ValueError(column)
    return conn.execute(f"SELECT * FROM tickets ORDER BY {column}").fetchall()


# case: py-flow-allowlist-ternary safe
def sorted_by_default(conn: sqlite3.Connection, column: str) -> list:
    column = column if column in ALLOWED_FILTERS else "id"
    return conn.execute(f"SELECT * FROM tickets ORDER BY {column}").fetchall()


# case: py-flow-allowlist-map-subscript safe
def sorted_tickets(conn: sqlite3.Connection, key: str) -> list:
    order = SORT_KEYS[key]
    return conn.execute(f"{BASE_QUERY} ORDER BY {order}").fetchall()


# case: py-flow-guard-wrong-branch vulnerable
def sorted_by_broken(conn: sqlite3.Connection, column: str) -> list:
    if column not in ALLOWED_FILTERS:
        print("unknown column, using it anyway", column)
    return conn.execute(f"SELECT * FROM tickets ORDER BY {column}").fetchall()


# case: py-flow-if-else-both-constant safe
def by_state(conn: sqlite3.Connection, closed: bool) -> list:
    if closed:
        state = "closed"
    else:
        state = "open"
    return conn.execute(f"SELECT * FROM tickets WHERE state = '{state}'").fetchall()


# case: py-flow-if-else-one-tainted vulnerable
def by_state_or_custom(conn: sqlite3.Connection, closed: bool, custom: str) -> list:
    if closed:
        state = "closed"
    else:
        state = custom
    return conn.execute(f"SELECT * FROM tickets WHERE state = '{state}'").fetchall()


# case: py-flow-loop-batched-insert vulnerable
def insert_tags(cur: Any, ticket_id: int, tags: list[str]) -> None:
    for tag in tags:
        cur.execute(f"INSERT INTO tags (ticket_id, tag) VALUES ({ticket_id}, '{tag}')")


# case: py-flow-loop-batched-params safe
def insert_tags_safe(cur: Any, ticket_id: int, tags: list[str]) -> None:
    for tag in tags:
        cur.execute("INSERT INTO tags (ticket_id, tag) VALUES (?, ?)", (ticket_id, tag))


# case: py-flow-enumerate-placeholders safe
def insert_row(cur: Any, values: list[str]) -> None:
    marks = []
    for index, _value in enumerate(values):
        marks.append(f"${index + 1}")
    cur.execute("INSERT INTO row_data VALUES (" + ", ".join(marks) + ")", values)


# case: py-flow-update-set-from-dict vulnerable
def update_ticket(cur: Any, ticket_id: int, changes: dict[str, str]) -> None:
    assignments = ", ".join(f"{key} = %s" for key in changes)
    cur.execute(f"UPDATE tickets SET {assignments} WHERE id = %s", [*changes.values(), ticket_id])


# case: py-flow-update-set-allowlisted safe
def update_ticket_safe(cur: Any, ticket_id: int, changes: dict[str, str]) -> None:
    keys = [key for key in changes if key in ALLOWED_FILTERS]
    assignments = ", ".join(f"{key} = %s" for key in keys if key in ALLOWED_FILTERS)
    cur.execute(f"UPDATE tickets SET {assignments} WHERE id = %s", [changes[k] for k in keys])


# case: py-flow-request-dict-value vulnerable
def from_request(cur: Any, request: Any) -> list:
    user_id = request.args.get("user_id")
    cur.execute("SELECT * FROM tickets WHERE owner_id = " + user_id)
    return cur.fetchall()


# case: py-flow-request-int-cast safe
def from_request_int(cur: Any, request: Any) -> list:
    user_id = int(request.args.get("user_id", "0"))
    cur.execute("SELECT * FROM tickets WHERE owner_id = " + str(user_id))
    return cur.fetchall()


# case: py-flow-try-except-fallback vulnerable
def try_table(cur: Any, name: str) -> list:
    try:
        table = "archive_" + name
    except TypeError:
        table = "archive_default"
    cur.execute("SELECT * FROM " + table)
    return cur.fetchall()


# case: py-flow-nested-function vulnerable
def make_loader(cur: Any) -> Any:
    def load(key: str) -> list:
        cur.execute(f"SELECT value FROM settings WHERE key = '{key}'")
        return cur.fetchall()

    return load


# case: py-flow-while-pagination safe
def all_rows(cur: Any, size: int) -> list:
    rows: list = []
    offset = 0
    while True:
        cur.execute(f"SELECT * FROM tickets LIMIT {int(size)} OFFSET {offset}")
        batch = cur.fetchall()
        if not batch:
            return rows
        rows.extend(batch)
        offset += len(batch)


# case: py-flow-method-class-constant safe
class TicketRepo:
    table = "tickets"

    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def count(self) -> int:
        self.cur.execute(f"SELECT count(*) FROM {self.table}")
        return self.cur.fetchone()[0]


# case: py-flow-method-instance-table vulnerable
class DynamicRepo:
    def __init__(self, cur: Any, table: str) -> None:
        self.cur = cur
        self.table_name = table

    def find(self, key: str) -> list:
        self.cur.execute(f"SELECT * FROM {self.table_name} WHERE key = '{key}'")
        return self.cur.fetchall()
