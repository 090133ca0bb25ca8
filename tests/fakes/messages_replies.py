"""What the fake Messages API answers: scripted replies, and how a reply meets its request.

A scripted 200 reply is a message body whose usage may be left to the server (`None`: counted
from the request and the prompt cache, see `prompt_cache`). `complete_reply` fills it in for one
request: the model asked for, the counted usage, and the `max_tokens` cut — a reply longer than
the request's `max_tokens` is cut there (text shortened, a tool call cut mid-input, later blocks
dropped) and ends with stop_reason `max_tokens`, as the real API does.
"""

from __future__ import annotations

import copy
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.prompt_cache import PromptCache, count_text


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (to trigger client timeouts)
    # Streaming only: after this many events, send an `error` event and stop (a mid-stream 529).
    stream_error_after: int | None = None


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int | None = 100,
    output_tokens: int | None = 20,
    cache_write: int | None = 0,
    cache_read: int | None = 0,
    model: str | None = None,
) -> Reply:
    """A 200 Messages API response; `model` defaults to the model of the request.

    Pass `input_tokens=None` to have the prompt counted (with the prompt cache deciding the
    cache fields), `output_tokens=None` to have the content counted.
    """
    counted = input_tokens is None
    body: dict[str, Any] = {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model or "",
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": None if counted else cache_write,
            "cache_read_input_tokens": None if counted else cache_read,
        },
    }
    return Reply(200, body)


def text(answer: str, **usage: Any) -> Reply:
    """A final answer (stop_reason end_turn)."""
    return message([{"type": "text", "text": answer}], **usage)


def _tool_block(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": "toolu_" + uuid.uuid4().hex[:20],
        "name": name,
        "input": tool_input,
    }


def tool_use(name: str, tool_input: dict[str, Any], *, say: str = "", **usage: Any) -> Reply:
    """A turn that asks the client to run one tool."""
    return tool_uses((name, tool_input), say=say, **usage)


def tool_uses(*calls: tuple[str, dict[str, Any]], say: str = "", **usage: Any) -> Reply:
    """A turn that asks for several tools at once (parallel tool use)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
    content += [_tool_block(name, tool_input) for name, tool_input in calls]
    return message(content, stop_reason="tool_use", **usage)


def refusal(say: str = "", **usage: Any) -> Reply:
    """The model declines (stop_reason `refusal`); the content may hold a partial answer."""
    content = [{"type": "text", "text": say}] if say else []
    return message(content, stop_reason="refusal", **usage)


def pause_turn(
    say: str = "Let me look that up.", query: str = "python docs", **usage: Any
) -> Reply:
    """A long turn the server paused (during a server tool); the client sends it back as is."""
    content = [
        {"type": "text", "text": say},
        {
            "type": "server_tool_use",
            "id": "srvtoolu_" + uuid.uuid4().hex[:20],
            "name": "web_search",
            "input": {"query": query},
        },
    ]
    return message(content, stop_reason="pause_turn", **usage)


def error(status: int, error_type: str, text_: str, headers: dict[str, str] | None = None) -> Reply:
    """An error answer in the API's shape (the server adds the `request_id`)."""
    body = {"type": "error", "error": {"type": error_type, "message": text_}}
    return Reply(status, body, headers or {})


def rate_limited(retry_after: float | None = 1.0) -> Reply:
    """A 429; the real API always says when to come back (`retry_after=None` leaves it out)."""
    headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
    return error(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit", headers
    )


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


def server_error() -> Reply:
    return error(500, "api_error", "Internal server error")


def context_too_long(tokens: int = 210_000, limit: int = 200_000) -> Reply:
    return error(
        400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {limit} maximum"
    )


def invalid_request(text_: str = "messages: field required") -> Reply:
    return error(400, "invalid_request_error", text_)


def unauthorized() -> Reply:
    return error(401, "authentication_error", "invalid x-api-key")


def slow(reply: Reply, delay_s: float) -> Reply:
    """The same reply, sent only after `delay_s` (longer than the client's timeout)."""
    return Reply(reply.status, reply.body, reply.headers, delay_s, reply.stream_error_after)


def overloaded_midstream(reply: Reply, after_events: int = 3) -> Reply:
    """A streamed reply that breaks off with an `overloaded_error` event after a few events."""
    return Reply(reply.status, reply.body, reply.headers, reply.delay_s, after_events)


# -- meeting the request --------------------------------------------------------------------


def complete_reply(
    body: dict[str, Any], request: dict[str, Any], cache: PromptCache
) -> dict[str, Any]:
    """The 200 body for `request`: model filled in, usage counted where not scripted, and cut
    at the request's `max_tokens`."""
    answer = copy.deepcopy(body)
    answer["model"] = answer.get("model") or request.get("model", "")
    usage = answer.setdefault("usage", {})
    for key in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        usage.setdefault(key, None)  # a hand-made body without usage gets it counted
    if usage["input_tokens"] is None:
        billed = cache.usage(request)
        usage["input_tokens"] = billed.input_tokens
        usage["cache_creation_input_tokens"] = billed.cache_creation_input_tokens
        usage["cache_read_input_tokens"] = billed.cache_read_input_tokens
    for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        usage[key] = usage[key] or 0
    if usage["output_tokens"] is None:
        usage["output_tokens"] = max(1, sum(_block_tokens(block) for block in answer["content"]))
    limit = request.get("max_tokens")
    if isinstance(limit, int) and usage["output_tokens"] > limit:
        answer["content"] = _cut(answer["content"], limit / usage["output_tokens"])
        answer["stop_reason"] = "max_tokens"
        usage["output_tokens"] = limit
    return answer


def _block_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "text":
        return count_text(str(block.get("text", "")))
    return count_text(json.dumps(block.get("input", {})))


def _weight(block: dict[str, Any]) -> int:
    if block.get("type") == "text":
        return max(1, len(str(block.get("text", ""))))
    return max(1, len(json.dumps(block.get("input", {}))))


def _cut(content: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """The first `fraction` of the content (by characters): the block that crosses the cut is
    shortened, the ones after it dropped."""
    budget = math.floor(sum(_weight(block) for block in content) * fraction)
    kept: list[dict[str, Any]] = []
    for block in content:
        weight = _weight(block)
        if weight <= budget:
            kept.append(block)
            budget -= weight
            continue
        if block.get("type") == "text":
            kept.append({**block, "text": str(block.get("text", ""))[:budget]})
        elif "input" in block:
            kept.append({**block, "input": _truncate_value(block["input"], budget)[0]})
        break
    return [block for block in kept if block.get("type") != "text" or block.get("text")]


def _truncate_value(value: Any, budget: int) -> tuple[Any, int]:
    """`value` with its strings cut so that about `budget` characters remain (a tool input the
    model had not finished writing); returns the value and the budget left."""
    if isinstance(value, str):
        return value[: max(0, budget)], budget - len(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if budget <= 0:
                break
            out[key], budget = _truncate_value(item, budget - len(key) - 4)
        return out, budget
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            if budget <= 0:
                break
            cut, budget = _truncate_value(item, budget)
            items.append(cut)
        return items, budget
    return value, budget - len(json.dumps(value))
