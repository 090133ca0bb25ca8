"""Shared fixtures: a migrated database file in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buildrunner.store.db import connect


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "buildrunner.db"
    connect(path).close()
    yield path
