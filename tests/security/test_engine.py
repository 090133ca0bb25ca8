"""The secret engine's cost is linear in the input and its memory bounded (issue 21, item 3).

Memory is measured (tracemalloc), never time: a run of one character used to match a rule keyword
at every position and keep every hit (494 MB for a 1.9 MB notebook image, 11.9 GB for a 50 MB line).
"""

from __future__ import annotations

import base64
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from buildrunner.security.engine import CHUNK_CHARS, MAX_LINE_HITS
from buildrunner.security.masking import default_engine
from buildrunner.security.scanner import ScanOptions, scan_paths
from tests.security.tokens import TokenFactory

T = TypeVar("T")


def _peak_mb(action: Callable[[], T]) -> tuple[T, float]:
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def test_notebook_image_of_zero_bytes_stays_under_100_mb_and_secrets_around_it_are_found() -> None:
    token = TokenFactory(seed=21).github()
    image = base64.b64encode(bytes(1_400_000)).decode()  # 1.9 MB of "AAAA..."
    notebook = json.dumps(
        {
            "cells": [
                {"outputs": [{"data": {"image/png": image}}]},
                {"source": [f'GITHUB_TOKEN = "{token}"']},
            ]
        },
        indent=1,
    )
    engine = default_engine()
    engine.find("warm up the rule table", "x.ipynb")
    matches, peak = _peak_mb(lambda: engine.find(notebook, "analysis.ipynb"))
    assert peak < 100, f"{peak:.0f} MB"
    assert [match.rule.id for match in matches] == ["github-token"]


def test_dense_line_keeps_a_bounded_number_of_keyword_positions() -> None:
    # runs broken every 1000 characters: no window is one repeated character, and a rule keyword
    # (21 "a"s) still matches at almost every position
    text = ("a" * 1000 + "b") * (CHUNK_CHARS // 100)
    matches, peak = _peak_mb(lambda: default_engine().find(text, "data.txt"))
    assert matches == []
    # bounded by one window's hit list (CHUNK_CHARS hits at most), not by the text's length
    assert peak < 5 * len(text) / 1e6 + CHUNK_CHARS * 300 / 1e6, f"{peak:.1f} MB"
    assert MAX_LINE_HITS < 1000


def test_a_50_mb_single_line_scans_in_bounded_memory(tmp_path: Path) -> None:
    line = base64.b64encode(bytes(37_500_000))  # 50 MB, one line
    (tmp_path / "blob.txt").write_bytes(b'blob = "' + line + b'"\n')
    size_mb = (len(line) + 10) / 1e6
    del line
    options = ScanOptions(max_file_bytes=60_000_000, jobs=1, sql=False)
    report, peak = _peak_mb(lambda: scan_paths([tmp_path], root=tmp_path, options=options))
    assert report.files_scanned == 1 and report.findings == []
    # the bytes, their text and one lowered copy for the keyword pass: about 3x, never 200x
    assert peak < 4 * size_mb, f"{peak:.0f} MB for a {size_mb:.0f} MB file"
