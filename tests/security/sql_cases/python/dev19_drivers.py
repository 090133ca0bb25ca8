# ruff: noqa: UP031, UP032, SIM117
"""Issue 19 development cases: asyncpg, aiopg, aiomysql, pg8000, psycopg 3."""

import subprocess

import asyncpg
import pg8000
from psycopg import sql


# case: py-dev19-asyncpg-fetch-concat vulnerable
async def invoices(conn: asyncpg.Connection, customer: str) -> list:
    return await conn.fetch("SELECT * FROM invoices WHERE customer = '" + customer + "'")


# case: py-dev19-asyncpg-fetch-args safe
async def invoices_safe(conn: asyncpg.Connection, customer: str) -> list:
    return await conn.fetch("SELECT * FROM invoices WHERE customer = $1", customer)


# case: py-dev19-asyncpg-execute-format vulnerable
async def rename_role(conn: asyncpg.Connection, role: str) -> None:
    await conn.execute("ALTER ROLE {} RENAME TO archived".format(role))


# case: py-dev19-asyncpg-fetchval-percent vulnerable
async def total(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM %s" % table)


# case: py-dev19-asyncpg-executemany-args safe
async def insert_many(conn: asyncpg.Connection, rows: list) -> None:
    await conn.executemany("INSERT INTO log (a, b) VALUES ($1, $2)", rows)


# case: py-dev19-aiopg-fstring vulnerable
async def aiopg_find(pool, label: str) -> list:
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute(f"SELECT * FROM labels WHERE label = '{label}'")
            return await cur.fetchall()


# case: py-dev19-aiomysql-percent-args safe
async def aiomysql_find(pool, label: str) -> list:
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT * FROM labels WHERE label = %s", (label,))
            return await cur.fetchall()


# case: py-dev19-pg8000-run-concat vulnerable
def pg8000_purge(con: pg8000.native.Connection, table: str) -> None:
    con.run("DELETE FROM " + table)


# case: py-dev19-pg8000-run-params safe
def pg8000_get(con: pg8000.native.Connection, key: str) -> list:
    return con.run("SELECT v FROM kv WHERE k = :key", key=key)


# case: py-dev19-pg8000-dbapi-execute vulnerable
def pg8000_dbapi(conn, key: str) -> list:
    cursor = conn.cursor()
    cursor.execute("SELECT v FROM kv WHERE k = '%s'" % key)
    return cursor.fetchall()


# case: py-dev19-subprocess-run-lookalike safe
def backup(database: str) -> None:
    subprocess.run(f"pg_dump --table=users --where='SELECT 1' {database}", shell=False, check=True)


# case: py-dev19-psycopg3-sql-identifier safe
def psycopg_drop(conn, table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))


# case: py-dev19-psycopg3-sql-percent vulnerable
def psycopg_drop_bad(conn, table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE %s" % table))


# case: py-dev19-psycopg3-cursor-format vulnerable
def psycopg_select(conn, column: str) -> list:
    with conn.cursor() as cur:
        cur.execute("SELECT {} FROM metrics".format(column))
        return cur.fetchall()


# case: py-dev19-psycopg3-sql-join-identifiers safe
def psycopg_columns(conn, columns: list) -> list:
    query = sql.SQL("SELECT {} FROM metrics").format(
        sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    return conn.execute(query).fetchall()
