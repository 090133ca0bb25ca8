"""Shared fixtures: a temporary project directory and a way to run the real `br` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

BR = [sys.executable, "-m", "buildrunner"]
OUTPUT_SHOWN = 4000  # characters of stdout / stderr a failed assertion shows (the end of each)


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


class BrOutcome(subprocess.CompletedProcess[str]):
    """What one run of `br` did; a CompletedProcess whose assertions explain themselves.

    `assert_success()` / `assert_exit(code)` fail with the command, its directory, the exit
    code and the output, the way tox's ToxRunOutcome does, so a red test says why at once.
    """

    def __init__(
        self,
        args: list[str],
        returncode: int,
        stdout: str,
        stderr: str,
        *,
        cwd: Path,
        duration_s: float,
    ) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.cwd = cwd
        self.duration_s = duration_s

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout parsed as the one JSON document `--json` prints."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"stdout is not one JSON document ({exc})\n{self.explain()}"
            ) from None

    def assert_success(self) -> BrOutcome:
        return self.assert_exit(0)

    def assert_exit(self, code: int) -> BrOutcome:
        if self.returncode != code:
            raise AssertionError(f"expected exit code {code}\n{self.explain()}")
        return self

    def explain(self) -> str:
        """The command, where it ran, how it ended and what it printed."""
        command = " ".join(["br", *(str(arg) for arg in self.args[len(BR) :])])
        return "\n".join(
            [
                f"command:   {command}",
                f"directory: {self.cwd}",
                f"exit code: {self.returncode} after {self.duration_s:.2f}s",
                f"--- stdout ({len(self.stdout)} characters) ---",
                _tail(self.stdout),
                f"--- stderr ({len(self.stderr)} characters) ---",
                _tail(self.stderr),
            ]
        )

    def __str__(self) -> str:
        return self.explain()


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_SHOWN else "[...]\n" + text[-OUTPUT_SHOWN:]


def run_br(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> BrOutcome:
    """Run the real `br` in a subprocess and capture its output."""
    started = time.monotonic()
    completed = subprocess.run(
        [*BR, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    return BrOutcome(
        completed.args,
        completed.returncode,
        completed.stdout,
        completed.stderr,
        cwd=(cwd or Path.cwd()).resolve(),
        duration_s=time.monotonic() - started,
    )


def write_plan(root: Path, text: str, name: str = "plan.yaml") -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` read-only for this process, even as root (a read-only bind mount).

    Root ignores file modes, and tests here run as root: a bind mount remounted read-only is
    what a read-only checkout really is. Without mount rights, as root, the test is skipped.
    """
    if os.getuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
        for path in modes:
            path.chmod(0o500 if path.is_dir() else 0o400)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount a read-only folder here: {bind.stderr.decode().strip()}")
    try:
        remount = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True
        )
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.decode().strip()}")
        yield
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # detach if busy
