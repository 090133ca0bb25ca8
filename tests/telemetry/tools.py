"""The real tools some telemetry tests plug into, installed by `make tools` (.ci/tools/*.sh)."""

from __future__ import annotations

import shutil
import socket

import pytest


def require_tool(name: str, script: str) -> str:
    """The path of `name`; a missing tool fails the test (it is part of `make test`)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make tools` (it runs .ci/tools/{script})")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot be given port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
