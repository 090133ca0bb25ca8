# ruff: noqa: UP031, UP032
"""DB-API drivers: sqlite3, psycopg 2/3, mysql-connector, pymysql."""

import sqlite3

import psycopg
import pymysql
from psycopg import sql

USERS_TABLE = "users"
ORDER_COLUMNS = {"name": "name", "newest": "created_at DESC"}


# case: py-sqlite-fstring-where vulnerable
def find_user(conn: sqlite3.Connection, username: str) -> list:
    cur = conn.cursor()
    cur.execute(f"SELECT id, email FROM users WHERE username = '{username}'")
    return cur.fetchall()


# case: py-sqlite-param-qmark safe
def find_user_safe(conn: sqlite3.Connection, username: str) -> list:
    cur = conn.cursor()
    cur.execute("SELECT id, email FROM users WHERE username = ?", (username,))
    return cur.fetchall()


# case: py-sqlite-percent-inline vulnerable
def delete_session(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token = '%s'" % token)
    conn.commit()


# case: py-sqlite-named-params safe
def delete_session_safe(conn: sqlite3.Connection, token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token = :token", {"token": token})
    conn.commit()


# case: py-sqlite-executescript-concat vulnerable
def restore_table(conn: sqlite3.Connection, name: str) -> None:
    script = "DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name + " (id INTEGER);"
    conn.executescript(script)


# case: py-sqlite-executescript-constant safe
def init_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT);
        CREATE INDEX IF NOT EXISTS users_name ON users(name);
        """
    )


# case: py-sqlite-executemany-format vulnerable
def bulk_tag(conn: sqlite3.Connection, table: str, rows: list[tuple[int, str]]) -> None:
    conn.executemany("INSERT INTO {} (id, tag) VALUES (?, ?)".format(table), rows)


# case: py-sqlite-executemany-params safe
def bulk_insert(conn: sqlite3.Connection, rows: list[tuple[int, str]]) -> None:
    conn.executemany("INSERT INTO tags (id, tag) VALUES (?, ?)", rows)


# case: py-psycopg2-percent-tuple vulnerable
def orders_between(cur: psycopg.Cursor, start: str, end: str) -> list:
    query = "SELECT * FROM orders WHERE created_at BETWEEN '%s' AND '%s'" % (start, end)
    cur.execute(query)
    return cur.fetchall()


# case: py-psycopg2-pyformat-params safe
def orders_between_safe(cur: psycopg.Cursor, start: str, end: str) -> list:
    query = "SELECT * FROM orders WHERE created_at BETWEEN %s AND %s"
    cur.execute(query, (start, end))
    return cur.fetchall()


# case: py-psycopg2-named-pyformat safe
def order_by_ref(cur: psycopg.Cursor, ref: str) -> list:
    cur.execute("SELECT * FROM orders WHERE ref = %(ref)s", {"ref": ref})
    return cur.fetchall()


# case: py-psycopg3-sql-composition safe
def count_rows(conn: psycopg.Connection, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    return row[0] if row else 0


# case: py-psycopg3-fstring-conn-execute vulnerable
def count_rows_unsafe(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return row[0] if row else 0


# case: py-psycopg-mogrify-percent vulnerable
def preview(cur: psycopg.Cursor, name: str) -> bytes:
    return cur.mogrify("SELECT * FROM users WHERE name = '%s'" % name)


# case: py-pymysql-format-like vulnerable
def search_products(conn: pymysql.connections.Connection, term: str) -> tuple:
    with conn.cursor() as cursor:
        cursor.execute("SELECT id, title FROM products WHERE title LIKE '%{}%'".format(term))
        return cursor.fetchall()


# case: py-pymysql-like-param safe
def search_products_safe(conn: pymysql.connections.Connection, term: str) -> tuple:
    with conn.cursor() as cursor:
        cursor.execute("SELECT id, title FROM products WHERE title LIKE %s", (f"%{term}%",))
        return cursor.fetchall()


# case: py-mysql-concat-update vulnerable
def set_status(cursor: pymysql.cursors.Cursor, order_id: str, status: str) -> None:
    cursor.execute("UPDATE orders SET status = '" + status + "' WHERE id = " + order_id)


# case: py-mysql-escape-string safe
def set_status_escaped(conn: pymysql.connections.Connection, order_id: int, status: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            "UPDATE orders SET status = '%s' WHERE id = %d"
            % (conn.escape_string(status), int(order_id))
        )


# case: py-module-constant-table safe
def list_users(conn: sqlite3.Connection) -> list:
    return conn.execute(f"SELECT id, name FROM {USERS_TABLE} ORDER BY id").fetchall()


# case: py-allowlist-dict-lookup safe
def list_users_sorted(conn: sqlite3.Connection, sort: str) -> list:
    order = ORDER_COLUMNS.get(sort, "id")
    return conn.execute(f"SELECT id, name FROM users ORDER BY {order}").fetchall()


# case: py-int-cast-limit safe
def page(conn: sqlite3.Connection, limit: str, offset: str) -> list:
    query = f"SELECT * FROM events ORDER BY id LIMIT {int(limit)} OFFSET {int(offset)}"
    return conn.execute(query).fetchall()


# case: py-percent-d-limit safe
def recent(conn: sqlite3.Connection, limit: int) -> list:
    return conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT %d" % limit).fetchall()


# case: py-fstring-numeric-spec safe
def recent_two(conn: sqlite3.Connection, limit: int) -> list:
    return conn.execute(f"SELECT * FROM events ORDER BY id DESC LIMIT {limit:d}").fetchall()


# case: py-fstring-with-params-still-injects vulnerable
def rows_from(conn: sqlite3.Connection, table: str, owner: int) -> list:
    return conn.execute(f"SELECT * FROM {table} WHERE owner = ?", (owner,)).fetchall()
