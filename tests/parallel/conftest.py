"""Fixtures shared by the parallel tests: a store in a temp folder, and a pid nobody uses."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from buildrunner.store.db import Store


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


@pytest.fixture
def conn(store: Store) -> sqlite3.Connection:
    return store.connect()
