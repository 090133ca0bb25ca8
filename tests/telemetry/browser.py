"""A real headless Chromium (Debian's, installed by .ci/tools/chromium.sh) driven by Playwright.

Playwright launches the system browser (`executable_path`); it never downloads one. The flags are
the ones this machine needs (docs of the machine): no sandbox as root, no GPU, and none of the
background connections a closed network refuses. Playwright gives each launch a fresh profile.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .tools import require_tool

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless browser (a Playwright `Browser`)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = require_tool("chromium", "chromium.sh")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def opened(browser: Any, path: Path, *, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """`path` open in a new page once its script has run; fails on any request that is not
    the file itself (a report needs no network) and on any dialog (an injected script)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    requests: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.resolve().as_uri())
        page.wait_for_function("document.documentElement.dataset.ready === '1'", timeout=30_000)
        yield page
        assert errors == [], errors
        assert dialogs == [], dialogs
        assert [url for url in requests if url != path.resolve().as_uri()] == []
    finally:
        page.close()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, from its header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
