# ruff: noqa: UP031, UP032, F821, SIM117
"""UNSEEN split: written and scored before the analyser was changed for issue 19. Do not tune on it.

SQLAlchemy query methods, async drivers, pg8000 and psycopg 3; values built and passed on.
"""

import aiomysql
import aiopg
import asyncpg
import pg8000.native
import psycopg
from psycopg import sql
from sqlalchemy import literal_column, select, text
from sqlalchemy.orm import Session

STATUS_COLUMNS = {"open": "opened_at", "closed": "closed_at"}


# case: py-unseen-sa-filter-format vulnerable
def by_owner(session: Session, owner: str) -> list:
    return session.query(Ticket).filter("owner = '{}'".format(owner)).all()


# case: py-unseen-sa-group-by-var vulnerable
def grouped(session: Session, column: str) -> list:
    return session.query(Ticket).group_by("%s" % column).all()


# case: py-unseen-sa-having-fstring vulnerable
def busy(session: Session, threshold: str) -> list:
    return (
        session.query(Ticket.owner).group_by(Ticket.owner).having(f"count(*) > {threshold}").all()
    )


# case: py-unseen-sa-literal-column vulnerable
def pick(session: Session, expr: str) -> list:
    return session.execute(select(literal_column(f"{expr} AS picked"))).all()


# case: py-unseen-sa-order-by-column-object safe
def ordered(session: Session, descending: bool) -> list:
    column = Ticket.created.desc() if descending else Ticket.created.asc()
    return session.query(Ticket).order_by(column).all()


# case: py-unseen-sa-map-lookup safe
def by_status(session: Session, status: str) -> list:
    column = STATUS_COLUMNS.get(status, "opened_at")
    return session.execute(text(f"SELECT id FROM ticket ORDER BY {column}")).all()


# case: py-unseen-sa-session-execute-concat vulnerable
def purge(session: Session, table: str) -> None:
    session.execute("TRUNCATE TABLE " + table)


# case: py-unseen-asyncpg-fetchrow vulnerable
async def account(pool: asyncpg.Pool, email: str):
    async with pool.acquire() as conn:
        return await conn.fetchrow(f"SELECT * FROM accounts WHERE email = '{email}'")


# case: py-unseen-asyncpg-executemany-built vulnerable
async def archive(conn: asyncpg.Connection, table: str, rows: list) -> None:
    await conn.executemany("INSERT INTO " + table + " (id, body) VALUES ($1, $2)", rows)


# case: py-unseen-asyncpg-args safe
async def account_safe(conn: asyncpg.Connection, email: str):
    return await conn.fetchval("SELECT id FROM accounts WHERE email = $1", email)


# case: py-unseen-aiopg-execute vulnerable
async def aiopg_lookup(pool: aiopg.Pool, name: str):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT * FROM tags WHERE name = '%s'" % name)
            return await cur.fetchall()


# case: py-unseen-aiomysql-execute-params safe
async def aiomysql_lookup(pool: aiomysql.Pool, name: str):
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT * FROM tags WHERE name = %s", (name,))
            return await cur.fetchall()


# case: py-unseen-aiomysql-fstring vulnerable
async def aiomysql_delete(pool: aiomysql.Pool, tag_id: str) -> None:
    async with pool.acquire() as conn:
        cur = await conn.cursor()
        await cur.execute(f"DELETE FROM tags WHERE id = {tag_id}")


# case: py-unseen-pg8000-run-fstring vulnerable
def pg8000_find(con: pg8000.native.Connection, city: str) -> list:
    return con.run(f"SELECT * FROM weather WHERE city = '{city}'")


# case: py-unseen-pg8000-run-named safe
def pg8000_find_safe(con: pg8000.native.Connection, city: str) -> list:
    return con.run("SELECT * FROM weather WHERE city = :city", city=city)


# case: py-unseen-psycopg3-sql-format safe
def psycopg_count(conn: psycopg.Connection, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    return conn.execute(query).fetchone()[0]


# case: py-unseen-psycopg3-sql-from-fstring vulnerable
def psycopg_count_bad(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL(f"SELECT count(*) FROM {table}")).fetchone()[0]


# case: py-unseen-psycopg3-cursor-fstring vulnerable
def psycopg_rename(conn: psycopg.Connection, old: str, new: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"ALTER TABLE {old} RENAME TO {new}")


# case: py-unseen-psycopg3-composed-literal safe
def psycopg_where(conn: psycopg.Connection, column: str, value: str) -> list:
    query = sql.SQL("SELECT * FROM t WHERE {} = {}").format(
        sql.Identifier(column), sql.Literal(value)
    )
    return conn.execute(query).fetchall()


# case: py-unseen-returned-query vulnerable
def build_lookup(username: str) -> str:
    return "SELECT * FROM users WHERE username = '%s'" % username


# case: py-unseen-returned-constant-choice safe
def build_listing(archived: bool) -> str:
    table = "archived_posts" if archived else "posts"
    return f"SELECT id, title FROM {table} ORDER BY id"


# case: py-unseen-helper-executes vulnerable
def _run(cursor, statement):
    cursor.execute(statement)
    return cursor.fetchall()


def orders_for(cursor, customer: str) -> list:
    return _run(cursor, "SELECT * FROM orders WHERE customer = '" + customer + "'")


# case: py-unseen-helper-executes-constant safe
def _run_all(cursor, statement):
    cursor.execute(statement)
    return cursor.fetchall()


def all_orders(cursor) -> list:
    return _run_all(cursor, "SELECT * FROM orders")


# case: py-unseen-float-format safe
def near(cursor, lat: str, lon: str) -> list:
    cursor.execute(
        "SELECT * FROM shops ORDER BY point(%f, %f) <-> location" % (float(lat), float(lon))
    )
    return cursor.fetchall()


# case: py-unseen-placeholders-join safe
def by_ids(cursor, ids: list) -> list:
    marks = ", ".join(["%s"] * len(ids))
    cursor.execute(f"SELECT * FROM users WHERE id IN ({marks})", ids)
    return cursor.fetchall()


# case: py-unseen-enum-operator safe
def compare(cursor, kind: str, value: int) -> list:
    operator = {"gt": ">", "lt": "<", "eq": "="}[kind]
    cursor.execute(f"SELECT * FROM scores WHERE points {operator} %s", (value,))
    return cursor.fetchall()
