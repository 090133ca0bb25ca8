"""Masking: the only form in which a secret may be shown, logged, stored or exported.

`mask_secret("sk-ant-api03-abcd…wxyz")` keeps the first and last 4 characters; anything shorter than
12 characters becomes `****`. `mask_text(text)` masks every secret the rules find in free text
(task logs, telemetry, error messages). Importing this module is cheap; the rule engine loads on the
first `mask_text` call.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildrunner.security.engine import SecretEngine

MASK = "****"
ELLIPSIS = "…"
MIN_PARTIAL = 12
FREE_TEXT_PATH = "output.log"
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def mask_secret(value: str) -> str:
    """First 4 + '…' + last 4 characters; values shorter than 12 characters are fully masked."""
    value = value.strip()
    if len(value) < MIN_PARTIAL:
        return MASK
    return value[:4] + ELLIPSIS + value[-4:]


@lru_cache(maxsize=1)
def default_engine() -> SecretEngine:
    """The shared engine with every rule (built once: it is immutable after construction)."""
    from buildrunner.security.engine import SecretEngine

    return SecretEngine()


def mask_text(text: str, engine: SecretEngine | None = None) -> str:
    """`text` with every detected secret replaced by its masked form."""
    if not text:
        return text
    # Free text is read like a log/config file: `password=value` counts even without quotes.
    return _masked(text, text, engine)


def _masked(text: str, searchable: str, engine: SecretEngine | None) -> str:
    """`text` with the secrets found in `searchable` (same length, same offsets) masked."""
    matches = (engine or default_engine()).find(searchable, FREE_TEXT_PATH)
    if not matches:
        return text
    parts: list[str] = []
    position = 0
    for match in matches:
        if match.start < position:
            continue
        parts.append(text[position : match.start])
        parts.append(mask_secret(match.secret))
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def mask_bytes(data: bytes, engine: SecretEngine | None = None) -> bytes:
    """`data` with every detected secret masked; bytes that are not UTF-8 pass through unchanged."""
    text = data.decode("utf-8", "surrogateescape")  # one stand-in character per invalid byte
    searchable = _ESCAPED_BYTE.sub("\ufffd", text) if not data.isascii() else text
    masked = _masked(text, searchable, engine)
    return data if masked is text else masked.encode("utf-8", "surrogateescape")
