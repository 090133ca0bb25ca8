"""Strings and calls that look like SQL injection but are not."""

import logging
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


# case: py-look-log-message safe
def audit(conn: sqlite3.Connection, user: str) -> None:
    log.info(f"SELECT issued by {user}")
    conn.execute("SELECT 1")


# case: py-look-executor-execute safe
def run_job(executor: Any, job_name: str) -> None:
    executor.execute(f"job-{job_name}")


# case: py-look-shell-execute safe
def run_shell(shell: Any, path: str) -> None:
    shell.execute("ls -la " + path)


# case: py-look-threadpool safe
def fan_out(items: list[str]) -> list:
    with ThreadPoolExecutor() as pool:
        return list(pool.map(len, items))


# case: py-look-subprocess-update safe
def upgrade(package: str) -> None:
    subprocess.run(["pip", "install", "--upgrade", package], check=True)


# case: py-look-error-message-select safe
def explain(column: str) -> str:
    return f"Please select a value from the {column} list"


# case: py-look-sql-string-not-executed vulnerable
# (relabelled for issue 19: SQL built from a parameter and returned is reported, at medium, as bandit does)
def describe_query(table: str) -> str:
    return f"SELECT * FROM {table}"


# case: py-look-html-fetch safe
async def fetch_page(client: Any, page: str) -> Any:
    return await client.fetch(f"https://example.com/{page}?select=all")


# case: py-look-graphql-execute safe
def gql(client: Any, user_id: str) -> Any:
    return client.execute('query { user(id: "' + user_id + '") { name } }')


# case: py-look-constant-concat safe
def constant_concat(conn: sqlite3.Connection) -> list:
    query = "SELECT id " + "FROM users " + "WHERE active = 1"
    return conn.execute(query).fetchall()


# case: py-look-constant-format safe
def constant_format(conn: sqlite3.Connection) -> list:
    return conn.execute("SELECT {} FROM users".format("id, name")).fetchall()


# case: py-look-read-sql-table safe
def whole_table(conn: Any, reader: Any) -> Any:
    return reader.read_sql_table("users", conn)


# case: py-look-raw-file-read safe
def read_raw(storage: Any, name: str) -> bytes:
    return storage.raw(f"/uploads/{name}")


# case: py-look-text-widget safe
def label(widget: Any, name: str) -> None:
    widget.text(f"Hello {name}, select an option")
