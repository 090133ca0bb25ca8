"""Request validation for the fake Messages API: reject what the real API rejects.

`problem(body)` returns the message of the first rule a request breaks (the real API answers it
with 400 `invalid_request_error`), or None. The rules follow the Messages API reference: required
and unknown fields, roles, content block types, non-empty content, tool_use/tool_result pairing
and order, unique tool ids and names, at most 4 cache breakpoints, thinking budgets, parameter
ranges, and no trailing whitespace in a final assistant message. Wording follows the real errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

REQUIRED = ("model", "max_tokens", "messages")
KNOWN_FIELDS = frozenset(
    {
        *REQUIRED,
        "system",
        "tools",
        "tool_choice",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_k",
        "top_p",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
        "output_config",
        "output_format",
        "inference_geo",
    }
)
BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "search_result",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)
MAX_CACHE_BREAKPOINTS = 4
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MIN_THINKING_BUDGET = 1024


def problem(body: Any) -> str | None:
    """Why the API would reject this request body, or None when it is valid."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request"
    for check in _CHECKS:
        found = check(body)
        if found is not None:
            return found
    return None


def _fields(body: dict[str, Any]) -> str | None:
    for name in REQUIRED:
        if name not in body:
            return f"{name}: Field required"
    for name in body:
        if name not in KNOWN_FIELDS:
            return f"{name}: Extra inputs are not permitted"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a valid string"
    tokens = body["max_tokens"]
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        return "max_tokens: Input should be a valid integer"
    if tokens < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "stream: Input should be a valid boolean"
    for name, high in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or not 0 <= value <= high):
            return f"{name}: Input should be less than or equal to {high:g}"
    return None


def _messages(body: dict[str, Any]) -> str | None:
    messages = body["messages"]
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages.{i}: Input should be a valid dictionary"
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        final_assistant = i == len(messages) - 1 and message["role"] == "assistant"
        if isinstance(content, str):
            if not content and not final_assistant:
                return (
                    f"messages.{i}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
            continue
        if not isinstance(content, list):
            return f"messages.{i}.content: Input should be a valid list"
        if not content and not final_assistant:
            return (
                f"messages.{i}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        for j, block in enumerate(content):
            found = _block(block, f"messages.{i}.content.{j}")
            if found is not None:
                return found
    return None


def _block(block: Any, where: str) -> str | None:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        kind = block.get("type") if isinstance(block, dict) else block
        return f"{where}: Input tag '{kind}' found using 'type' does not match any of the expected tags"
    if block["type"] == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
        return "messages: text content blocks must be non-empty"
    if block["type"] == "tool_use" and not isinstance(block.get("input"), dict):
        return f"{where}.input: Input should be a valid dictionary"
    return _cache_control(block, where)


def _cache_control(block: dict[str, Any], where: str) -> str | None:
    control = block.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return f"{where}.cache_control.type: Input should be 'ephemeral'"
    if control.get("ttl", "5m") not in ("5m", "1h"):
        return f"{where}.cache_control.ttl: Input should be '5m' or '1h'"
    return None


def _tool_pairing(body: dict[str, Any]) -> str | None:
    """Every tool_use is answered first thing in the next user message, and only those."""
    messages = body["messages"]
    seen: set[str] = set()
    for i, message in enumerate(messages):
        blocks = message["content"] if isinstance(message["content"], list) else []
        if message["role"] == "assistant":
            for j, block in enumerate(blocks):
                if block["type"] in ("tool_use", "server_tool_use"):
                    if block.get("id") in seen:
                        return f"messages.{i}.content.{j}: `tool_use` ids must be unique"
                    seen.add(str(block.get("id")))
            asked = [str(b.get("id")) for b in blocks if b["type"] == "tool_use"]
            answered = _leading_results(messages[i + 1]) if i + 1 < len(messages) else []
            missing = [tool_id for tool_id in asked if tool_id not in answered]
            if missing:
                return (
                    f"messages.{i + 1 if i + 1 < len(messages) else i}: `tool_use` ids were "
                    f"found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    "`tool_result` block in the next message."
                )
            continue
        previous = messages[i - 1] if i > 0 else None
        asked_before = [
            str(b.get("id"))
            for b in (
                previous["content"] if previous and isinstance(previous["content"], list) else []
            )
            if previous and previous["role"] == "assistant" and b["type"] == "tool_use"
        ]
        for j, block in enumerate(blocks):
            if block["type"] == "tool_result" and block.get("tool_use_id") not in asked_before:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                    f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` "
                    "block must have a corresponding `tool_use` block in the previous message."
                )
    return None


def _leading_results(message: dict[str, Any]) -> list[str]:
    """The tool_use ids answered by the tool_result blocks that open a user message."""
    if message["role"] != "user" or not isinstance(message["content"], list):
        return []
    ids: list[str] = []
    for block in message["content"]:
        if block["type"] != "tool_result":
            break
        ids.append(str(block.get("tool_use_id")))
    return ids


def _final_assistant(body: dict[str, Any]) -> str | None:
    last = body["messages"][-1]
    if last["role"] != "assistant":
        return None
    content = last["content"]
    tail = (
        content
        if isinstance(content, str)
        else (content[-1].get("text", "") if content and content[-1]["type"] == "text" else "")
    )
    if tail != tail.rstrip():
        return "messages: final assistant content cannot end with trailing whitespace"
    return None


def _tools(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return "tools: Input should be a valid list"
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not TOOL_NAME.match(str(tool.get("name", ""))):
            return f"tools.{i}.name: String should match pattern '{TOOL_NAME.pattern}'"
        if "type" not in tool or tool.get("type") == "custom":  # a client tool
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{i}.input_schema: Input should be an object schema (type 'object')"
        if tool["name"] in names:
            return "tools: Tool names must be unique."
        names.add(tool["name"])
        found = _cache_control(tool, f"tools.{i}")
        if found is not None:
            return found
    choice = body.get("tool_choice")
    if (
        isinstance(choice, dict)
        and choice.get("type") == "tool"
        and choice.get("name") not in names
    ):
        return f"tool_choice: tool '{choice.get('name')}' is not in tools"
    return None


def _system(body: dict[str, Any]) -> str | None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return "system: Input should be a valid string or list"
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not block.get("text"):
            return f"system.{i}: system blocks must be non-empty text blocks"
        found = _cache_control(block, f"system.{i}")
        if found is not None:
            return found
    return None


def _breakpoints(body: dict[str, Any]) -> str | None:
    count = sum(1 for block in _all_blocks(body) if block.get("cache_control"))
    if count > MAX_CACHE_BREAKPOINTS:
        return (
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {count}."
        )
    return None


def _all_blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (tool for tool in body.get("tools") or [] if isinstance(tool, dict))
    if isinstance(body.get("system"), list):
        yield from body["system"]
    for message in body["messages"]:
        if isinstance(message["content"], list):
            yield from message["content"]


def _thinking(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        return f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_THINKING_BUDGET}"
    if budget >= body["max_tokens"]:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    return None


_CHECKS: tuple[Callable[[dict[str, Any]], str | None], ...] = (
    _fields,
    _messages,
    _system,
    _tools,
    _tool_pairing,
    _final_assistant,
    _breakpoints,
    _thinking,
)
