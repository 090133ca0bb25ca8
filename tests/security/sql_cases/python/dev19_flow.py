"""Issue 19 development cases: SQL built here and returned or passed on; same-file helpers."""

import logging

log = logging.getLogger(__name__)
REPORTS = {"daily": "daily_totals", "weekly": "weekly_totals"}


# case: py-dev19-return-fstring vulnerable
def delete_statement(table: str, key: str) -> str:
    return f"DELETE FROM {table} WHERE key = '{key}'"


# case: py-dev19-return-constant-choice safe
def report_statement(kind: str) -> str:
    table = REPORTS[kind]
    return f"SELECT * FROM {table}"


# case: py-dev19-return-tuple-params safe
def window(start) -> tuple:
    if start is None:
        return "ts <= ?", ()
    return "ts >= ?", (start,)


def totals(conn, start) -> list:
    where, params = window(start)
    return conn.execute(f"SELECT sum(x) FROM t WHERE {where}", params).fetchall()


# case: py-dev19-helper-param-executes vulnerable
def _fetch_all(conn, statement: str) -> list:
    return conn.execute(statement).fetchall()


def search(conn, term: str) -> list:
    return _fetch_all(conn, "SELECT * FROM docs WHERE body LIKE '%" + term + "%'")


# case: py-dev19-helper-param-parameterised safe
def _fetch_where(conn, where: str, params: tuple) -> list:
    return conn.execute("SELECT * FROM docs WHERE " + where, params).fetchall()


def by_author(conn, author: str) -> list:
    return _fetch_where(conn, "author = ?", (author,))


# case: py-dev19-helper-builds-caller-executes vulnerable
def build_update(column: str, value: str) -> str:
    return "UPDATE settings SET " + column + " = '" + value + "'"


def save_setting(conn, column: str, value: str) -> None:
    conn.execute(build_update(column, value))


# case: py-dev19-private-helper-constant-args safe
def _count_rows(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def inventory(conn) -> dict:
    return {"users": _count_rows(conn, "users"), "orders": _count_rows(conn, "orders")}


# case: py-dev19-private-helper-mixed-args vulnerable
def _sum_column(conn, column: str) -> int:
    return conn.execute(f"SELECT sum({column}) FROM sales").fetchone()[0]


def sales(conn, requested: str) -> dict:
    return {"total": _sum_column(conn, "total"), "asked": _sum_column(conn, requested)}


# case: py-dev19-passed-to-unknown vulnerable
def queue_cleanup(jobs, user: str) -> None:
    jobs.enqueue(f"DELETE FROM sessions WHERE user_name = '{user}'")


# case: py-dev19-passed-to-logging safe
def announce(user: str) -> None:
    log.info(f"SELECT for user {user} from the cache was slow")


# case: py-dev19-error-message safe
def refuse(table: str) -> None:
    raise ValueError(f"cannot select rows from {table}: table is archived")


# case: py-dev19-kwargs-columns-allowlisted safe
TASK_COLUMNS = ("status", "error", "ended_at")


def set_task(conn, task_id: str, **fields: object) -> None:
    columns = ", ".join(f"{name} = ?" for name in TASK_COLUMNS if name in fields)
    values = [fields[name] for name in TASK_COLUMNS if name in fields]
    conn.execute(f"UPDATE tasks SET {columns} WHERE id = ?", (*values, task_id))


# case: py-dev19-kwargs-columns-unchecked vulnerable
def set_worker(conn, worker_id: str, **fields: object) -> None:
    columns = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(f"UPDATE workers SET {columns} WHERE id = ?", (*fields.values(), worker_id))
