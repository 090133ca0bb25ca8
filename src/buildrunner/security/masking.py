"""Masking: the only form in which a secret may be shown, logged, stored or exported.

`mask_secret("sk-ant-api03-abcd…wxyz")` keeps the first and last 4 characters; anything shorter than
12 characters becomes `****`. `mask_text(text)` masks every secret the rules find in free text
(task logs, telemetry, error messages). Importing this module is cheap; the rule engine loads on the
first `mask_text` call.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildrunner.security.engine import SecretEngine

MASK = "****"
ELLIPSIS = "…"
MIN_PARTIAL = 12
FREE_TEXT_PATH = "output.log"


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
    matches = (engine or default_engine()).find(text, FREE_TEXT_PATH)
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
