# ruff: noqa: UP031, UP032
"""asyncpg: fetch / fetchrow / fetchval / execute."""

import asyncpg


# case: py-asyncpg-fetch-fstring vulnerable
async def tickets_for(pool: asyncpg.Pool, email: str) -> list:
    async with pool.acquire() as conn:
        return await conn.fetch(f"SELECT * FROM tickets WHERE email = '{email}'")


# case: py-asyncpg-fetch-dollar-params safe
async def tickets_for_safe(pool: asyncpg.Pool, email: str) -> list:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT * FROM tickets WHERE email = $1", email)


# case: py-asyncpg-fetchrow-concat vulnerable
async def ticket(conn: asyncpg.Connection, ticket_id: str) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM tickets WHERE id = " + ticket_id)


# case: py-asyncpg-fetchval-format vulnerable
async def total(conn: asyncpg.Connection, column: str) -> int:
    return await conn.fetchval("SELECT sum({}) FROM invoices".format(column))


# case: py-asyncpg-execute-percent vulnerable
async def archive(conn: asyncpg.Connection, before: str) -> None:
    await conn.execute("UPDATE invoices SET archived = true WHERE due < '%s'" % before)


# case: py-asyncpg-placeholders-generated safe
async def by_ids(conn: asyncpg.Connection, ids: list[int]) -> list:
    placeholders = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
    return await conn.fetch(f"SELECT * FROM invoices WHERE id IN ({placeholders})", *ids)


# case: py-asyncpg-any-array safe
async def by_ids_any(conn: asyncpg.Connection, ids: list[int]) -> list:
    return await conn.fetch("SELECT * FROM invoices WHERE id = ANY($1::int[])", ids)


# case: py-asyncpg-fetchval-constant safe
async def ping(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT 1")
