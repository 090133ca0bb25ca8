# ruff: noqa: UP031, UP032
"""SQLAlchemy: text(), exec_driver_sql(), Engine/Session.execute()."""

import sqlalchemy as sa
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

REPORT_VIEW = "monthly_report"


# case: py-sa-text-fstring vulnerable
def find_account(session: Session, account_no: str) -> list:
    stmt = text(f"SELECT * FROM accounts WHERE account_no = '{account_no}'")
    return list(session.execute(stmt))


# case: py-sa-text-bindparam safe
def find_account_safe(session: Session, account_no: str) -> list:
    stmt = text("SELECT * FROM accounts WHERE account_no = :no")
    return list(session.execute(stmt, {"no": account_no}))


# case: py-sa-text-module-attr-fstring vulnerable
def rename(engine: Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


# case: py-sa-exec-driver-sql-concat vulnerable
def vacuum(engine: Engine, table: str) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE " + table)


# case: py-sa-exec-driver-sql-params safe
def rows_by_user(engine: Engine, user_id: int) -> list:
    with engine.connect() as conn:
        return list(conn.exec_driver_sql("SELECT * FROM audit WHERE user_id = %s", (user_id,)))


# case: py-sa-engine-execute-percent vulnerable
def legacy_lookup(engine: Engine, sku: str) -> list:
    return list(engine.execute("SELECT * FROM stock WHERE sku = '%s'" % sku))


# case: py-sa-core-select safe
def core_lookup(engine: Engine, sku: str) -> list:
    stock = sa.table("stock", sa.column("sku"), sa.column("qty"))
    with engine.connect() as conn:
        return list(conn.execute(select(stock).where(stock.c.sku == sku)))


# case: py-sa-text-expanding-bindparam safe
def by_skus(session: Session, skus: list[str]) -> list:
    stmt = text("SELECT * FROM stock WHERE sku IN :skus").bindparams(
        bindparam("skus", expanding=True)
    )
    return list(session.execute(stmt, {"skus": skus}))


# case: py-sa-text-constant-view safe
def report(session: Session) -> list:
    return list(session.execute(text(f"SELECT * FROM {REPORT_VIEW}")))


# case: py-sa-session-execute-format-var vulnerable
def cleanup(session: Session, days: str) -> None:
    stmt = "DELETE FROM logs WHERE created_at < now() - interval '{} days'".format(days)
    session.execute(text(stmt))


# case: py-sa-text-order-by-join vulnerable
def sorted_accounts(session: Session, columns: list[str]) -> list:
    order = ", ".join(columns)
    return list(session.execute(text("SELECT * FROM accounts ORDER BY " + order)))
