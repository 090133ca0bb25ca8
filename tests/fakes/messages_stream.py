"""A finished message as the Messages API streams it (server-sent events).

The real sequence: `message_start` (the message with empty content and the input usage), then
for each content block `content_block_start`, its deltas (`text_delta`, `input_json_delta`,
`thinking_delta` + `signature_delta`), `content_block_stop`; a `ping` after the first block
starts; `message_delta` (stop reason and the cumulative usage) and `message_stop`. A stream that
breaks off sends an `error` event instead of the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

CHUNK_CHARS = 24  # characters per delta: several deltas per block, like the real stream


def stream_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs for a complete 200 message body."""
    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        yield from _block_events(index, block)
        if index == 0:
            yield "ping", {"type": "ping"}
    if not message["content"]:
        yield "ping", {"type": "ping"}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": dict(usage),  # cumulative totals, as the current API sends them
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or []


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = block.get("type")
    if kind == "text":
        yield _start(index, {**block, "text": ""})
        for piece in _chunks(str(block.get("text", ""))):
            yield _delta(index, {"type": "text_delta", "text": piece})
    elif kind in ("tool_use", "server_tool_use"):
        yield _start(index, {**block, "input": {}})
        for piece in _chunks(json.dumps(block.get("input", {}))):
            yield _delta(index, {"type": "input_json_delta", "partial_json": piece})
    elif kind == "thinking":
        yield _start(index, {**block, "thinking": "", "signature": ""})
        for piece in _chunks(str(block.get("thinking", ""))):
            yield _delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _delta(index, {"type": "signature_delta", "signature": block.get("signature", "")})
    else:  # results of server tools and the like arrive whole
        yield _start(index, block)
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_start", {
        "type": "content_block_start",
        "index": index,
        "content_block": block,
    }


def _delta(index: int, delta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def encode(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event on the wire."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
