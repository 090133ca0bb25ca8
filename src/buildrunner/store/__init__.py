"""The SQLite store: one database per project, WAL, numbered migrations."""

from buildrunner.store.db import (
    BUSY_TIMEOUT_S,
    Store,
    connect,
    now,
    open_store,
    transaction,
)

__all__ = ["BUSY_TIMEOUT_S", "Store", "connect", "now", "open_store", "transaction"]
