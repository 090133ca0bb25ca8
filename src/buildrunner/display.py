"""Text made safe to show on a terminal: control characters escaped, never interpreted.

File names, task ids, commands and model output can hold escape sequences (`\\x1b[31m`, an OSC
that sets the window title, a bare carriage return that hides what came before). Every human
output runs what it did not write itself through `printable` first.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and the C1 controls (U+0080-U+009F).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\x1b": "\\e"}.get(char, f"\\x{ord(char):02x}")


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with control characters shown as escapes (`\\e`, `\\r`, `\\x07`).

    Newlines and tabs are kept unless `one_line`, which escapes them too.
    """
    pattern = _CONTROL_ONE_LINE if one_line else _CONTROL
    return pattern.sub(_escape, text) if pattern.search(text) else text
