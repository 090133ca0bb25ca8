"""The shared readers for files users hand to br: regular, capped, UTF-8, bounded nesting."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from buildrunner.errors import InputError, PlanError
from buildrunner.userfiles import iter_jsonl, json_depth, read_jsonl, read_text


def test_read_text_refuses_what_would_hang_or_flood(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_text(fifo, max_bytes=10)
    with pytest.raises(PlanError, match="not a regular file"):
        read_text(Path("/dev/zero"), max_bytes=10, error=PlanError)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    with pytest.raises(InputError, match="larger than 10 bytes"):
        read_text(big, max_bytes=10)
    binary = tmp_path / "binary"
    binary.write_bytes(b"ok\xff")
    with pytest.raises(InputError, match=r"not a UTF-8 text file \(byte 2\)"):
        read_text(binary, max_bytes=10)
    with pytest.raises(InputError, match="cannot read"):
        read_text(Path("bad\x00name"), max_bytes=10)
    assert read_text(big, max_bytes=11) == "x" * 11


def test_jsonl_lines_are_checked_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b'{"id": "a", "text": "x"}\n\n{"id": "b"}\n')
    assert [number for number, _ in read_jsonl(path)] == [1, 3]
    for content, expected in (
        (b'{"id": "a"}\n\xff\xfe\n', r"tasks.jsonl:2: not UTF-8 text"),
        (b'{"id": "a"}\n{"id": \n', r"tasks.jsonl:2: invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", r"tasks.jsonl:1: JSON nested deeper than 64"),
        (b'{"a": ' * 70 + b"1" + b"}" * 70 + b"\n", r"tasks.jsonl:1: JSON nested deeper than 64"),
    ):
        path.write_bytes(content)
        with pytest.raises(InputError, match=expected):
            list(read_jsonl(path))


def test_a_long_line_is_refused_before_it_is_parsed() -> None:
    stream = io.BytesIO(b"1\n" + b"2" * 50 + b"\n")
    with pytest.raises(InputError, match="<stdin>:2: line is longer than 20 bytes"):
        list(iter_jsonl(stream, source="<stdin>", max_line_bytes=20))


def test_json_depth_without_recursion() -> None:
    deep: object = 1
    for _ in range(50_000):
        deep = [deep]
    assert json_depth(deep) == 50_000
    assert json_depth({"a": [1, {"b": 2}]}) == 3
