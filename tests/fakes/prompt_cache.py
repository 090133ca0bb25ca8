"""Token counts and a prompt cache for the fake Messages API, close to how the real API bills.

Counting: one token per 4 characters of the block's JSON (the real tokenizer is denser for prose,
looser for code; what matters here is that counts grow with the request). The prompt is the
sequence tools → system → messages, block by block. A block with `cache_control` is a cache
breakpoint: the prefix up to it is written to the cache (billed as `cache_creation_input_tokens`)
when it is at least `MIN_CACHEABLE_TOKENS` long, and a later request whose prefix matches a
written one, at a breakpoint or up to `LOOKBACK_BLOCKS` blocks before it, reads it instead
(`cache_read_input_tokens`). What follows the last breakpoint is plain `input_tokens`.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4
MIN_CACHEABLE_TOKENS = 1024  # Sonnet/Opus minimum; shorter prefixes are not cached
LOOKBACK_BLOCKS = 20  # the real API checks this many block boundaries before a breakpoint


def count_text(text: str) -> int:
    """Tokens of a piece of text (0 for an empty one)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def count_block(block: Any) -> int:
    """Tokens of one prompt block (a tool definition, a system block, a content block)."""
    if isinstance(block, dict):
        block = {key: value for key, value in block.items() if key != "cache_control"}
    return max(1, count_text(json.dumps(block, sort_keys=True)))


def prompt_blocks(body: dict[str, Any]) -> list[Any]:
    """The request's prompt as one list of blocks, in the order the API caches it."""
    blocks: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        blocks.append({"type": "text", "text": system})
    elif isinstance(system, list):
        blocks.extend(system)
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content, "role": message.get("role")})
        elif isinstance(content, list):
            blocks.extend(
                {**block, "role": message.get("role")} if isinstance(block, dict) else block
                for block in content
            )
    return blocks


@dataclass(frozen=True)
class PromptUsage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class PromptCache:
    """Prefix hashes written so far; thread-safe (the fake server is threaded)."""

    def __init__(self) -> None:
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any]) -> PromptUsage:
        """Bill one request: read what is cached, write new prefixes at breakpoints."""
        blocks = prompt_blocks(body)
        sizes = [count_block(block) for block in blocks]
        hashes = _prefix_hashes(blocks)
        breakpoints = [
            index
            for index, block in enumerate(blocks)
            if isinstance(block, dict) and block.get("cache_control")
        ]
        with self._lock:
            read_end = self._longest_hit(breakpoints, hashes)
            write_end = read_end
            for index in breakpoints:
                if index + 1 > read_end and sum(sizes[: index + 1]) >= MIN_CACHEABLE_TOKENS:
                    self._written.add(hashes[index])
                    write_end = index + 1
        read = sum(sizes[:read_end])
        written = sum(sizes[read_end:write_end])
        return PromptUsage(sum(sizes[write_end:]), written, read)

    def _longest_hit(self, breakpoints: list[int], hashes: list[str]) -> int:
        """Blocks covered by the longest cached prefix (0 when nothing is cached)."""
        for index in sorted(breakpoints, reverse=True):
            for candidate in range(index, max(-1, index - LOOKBACK_BLOCKS), -1):
                if hashes[candidate] in self._written:
                    return candidate + 1
        return 0


def _prefix_hashes(blocks: list[Any]) -> list[str]:
    """The hash of every prefix, ignoring where cache_control sits."""
    digest = hashlib.sha256()
    hashes: list[str] = []
    for block in blocks:
        if isinstance(block, dict):
            block = {key: value for key, value in block.items() if key != "cache_control"}
        digest.update(json.dumps(block, sort_keys=True).encode())
        hashes.append(digest.copy().hexdigest())
    return hashes
