"""Process helpers shared by executors, providers and backends."""

from __future__ import annotations

import contextlib
import os
import signal


def kill_process_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (a child started in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
