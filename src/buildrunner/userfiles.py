"""Reading files a user hands to br: regular files only, size-capped, UTF-8, bounded nesting.

Plans, settings and `--from-file` task lists come from users (and from tools that may go wrong), so
each read refuses what would hang or exhaust memory (a FIFO, `/dev/zero`, a 10 GB file, JSON nested
100,000 levels) with a one-line error of the caller's own error class, naming the file and line.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from buildrunner.errors import BuildRunnerError, InputError

MAX_JSON_DEPTH = 64
MAX_JSONL_LINE_BYTES = 1_000_000


def read_text(
    path: Path, *, max_bytes: int, what: str = "file", error: type[BuildRunnerError] = InputError
) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes` bytes, else `error` naming it."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise error(f"{path}: cannot read: {_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file (a device, FIFO or socket is never read)")
    if info.st_size > max_bytes:
        raise error(f"{path}: {what} is larger than {max_bytes:,} bytes")
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise error(f"{path}: cannot read: {_reason(exc)}") from None
    if len(data) > max_bytes:
        raise error(f"{path}: {what} is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte {exc.start})") from None


def iter_jsonl(
    lines: Iterable[bytes | str],
    *,
    source: str,
    error: type[BuildRunnerError] = InputError,
    max_depth: int = MAX_JSON_DEPTH,
    max_line_bytes: int = MAX_JSONL_LINE_BYTES,
) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank JSON line; a bad line stops with `error`.

    Lines may be bytes (a binary file or stdin buffer: decoded as UTF-8 here) or text.
    """
    for number, raw in enumerate(lines, 1):
        if len(raw) > max_line_bytes:
            raise error(f"{source}:{number}: line is longer than {max_line_bytes:,} bytes")
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{source}:{number}: not UTF-8 text (byte {exc.start})") from None
        else:
            text = raw
        if not text.strip():
            continue
        yield number, parse_json(text, where=f"{source}:{number}", error=error, max_depth=max_depth)


def read_jsonl(
    path: Path,
    *,
    error: type[BuildRunnerError] = InputError,
    max_depth: int = MAX_JSON_DEPTH,
    max_line_bytes: int = MAX_JSONL_LINE_BYTES,
) -> Iterator[tuple[int, Any]]:
    """`iter_jsonl` over a regular file (`-` reads standard input)."""
    if str(path) == "-":
        import sys

        yield from iter_jsonl(
            _bounded_lines(sys.stdin.buffer, max_line_bytes),
            source="<stdin>",
            error=error,
            max_depth=max_depth,
            max_line_bytes=max_line_bytes,
        )
        return
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file")
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise error(f"{path}: cannot read: {_reason(exc)}") from None
    with handle:
        yield from iter_jsonl(
            _bounded_lines(handle, max_line_bytes),
            source=str(path),
            error=error,
            max_depth=max_depth,
            max_line_bytes=max_line_bytes,
        )


def parse_json(
    text: str,
    *,
    where: str,
    error: type[BuildRunnerError] = InputError,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """One JSON value, nested at most `max_depth` levels; else `error` naming `where`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise error(f"{where}: JSON nested deeper than {max_depth} levels") from None
    if json_depth(value, stop_after=max_depth) > max_depth:
        raise error(f"{where}: JSON nested deeper than {max_depth} levels")
    return value


def json_depth(value: Any, *, stop_after: int | None = None) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if stop_after is not None and deepest > stop_after:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _bounded_lines(handle: IO[bytes], max_line_bytes: int) -> Iterator[bytes]:
    """Lines of a binary stream, each read at most `max_line_bytes + 1` bytes at a time."""
    while True:
        line = handle.readline(max_line_bytes + 1)
        if not line:
            return
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            yield line  # too long: the caller reports it before anything else is read
            return
        yield line


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
