# ruff: noqa: UP032
"""pandas: read_sql / read_sql_query."""

import sqlite3

import pandas as pd

SALES_COLUMNS = ("region", "amount", "sold_at")


# case: py-pandas-read-sql-fstring vulnerable
def sales_for(conn: sqlite3.Connection, region: str) -> pd.DataFrame:
    return pd.read_sql(f"SELECT * FROM sales WHERE region = '{region}'", conn)


# case: py-pandas-read-sql-params safe
def sales_for_safe(conn: sqlite3.Connection, region: str) -> pd.DataFrame:
    return pd.read_sql("SELECT * FROM sales WHERE region = ?", conn, params=(region,))


# case: py-pandas-read-sql-query-format vulnerable
def sales_since(conn: sqlite3.Connection, since: str) -> pd.DataFrame:
    query = "SELECT * FROM sales WHERE sold_at >= '{since}'".format(since=since)
    return pd.read_sql_query(query, conn)


# case: py-pandas-read-sql-query-constant-columns safe
def sales_columns(conn: sqlite3.Connection) -> pd.DataFrame:
    query = "SELECT " + ", ".join(SALES_COLUMNS) + " FROM sales"
    return pd.read_sql_query(query, conn)


# case: py-pandas-keyword-sql-concat vulnerable
def sales_table(conn: sqlite3.Connection, table: str) -> pd.DataFrame:
    return pd.read_sql_query(sql="SELECT * FROM " + table, con=conn)
