"""Shared fixtures: a temporary project directory and a way to run the real `br` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BR = [sys.executable, "-m", "buildrunner"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project directory, made the current directory and BuildRunner's project root."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("BR_PROJECT_DIR", str(root))
    for name in list(os.environ):
        if name.startswith("BR_") and name != "BR_PROJECT_DIR":
            monkeypatch.delenv(name)
    # tests never reach a paid API, whatever the machine's environment holds
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    yield root


def run_br(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `br` in a subprocess and capture its output."""
    return subprocess.run(
        [*BR, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, input=input,
    )


def write_plan(root: Path, text: str, name: str = "plan.yaml") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path
