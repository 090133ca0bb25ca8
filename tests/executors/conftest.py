"""Fixtures for executor tests: the fake Messages API server, a real SDK provider, recorders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from buildrunner.routing.providers.anthropic import AnthropicProvider
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.messages_server import MessagesServer, running_server
from tests.fakes.recorder import Recorder


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    yield from running_server()


@pytest.fixture
def provider(server: MessagesServer) -> AnthropicProvider:
    # The real SDK against the fake server; a short timeout so the timeout test is quick.
    return AnthropicProvider("sk-test-not-a-real-key", base_url=server.base_url, timeout_s=2.0)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text("print('hello')\n")
    (root / "README.md").write_text("# demo\n")
    return root


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeClaude:
    return FakeClaude.install(tmp_path, monkeypatch)
