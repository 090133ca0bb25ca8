"""The fake Messages API against the real `anthropic` SDK: it must behave like the real API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer, RateLimits, running_server
from tests.fakes.prompt_cache import MIN_CACHEABLE_TOKENS

MODEL = "claude-sonnet-test"


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    yield from running_server()


@pytest.fixture
def client(server: MessagesServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-test", base_url=server.base_url, max_retries=0)


def ask(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def test_streamed_answer_is_the_same_message_as_the_plain_one(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    reply = api.tool_uses(
        ("read_file", {"path": "a.py"}),
        ("write_file", {"path": "b.py", "content": "x = 1\n" * 20}),
        say="Two things at once, with a longer sentence so that it takes several deltas.",
        input_tokens=321,
        output_tokens=45,
        cache_write=10,
        cache_read=20,
    )
    server.script(reply, reply)
    plain = client.messages.create(**ask())
    with client.messages.stream(**ask()) as stream:
        events = [event.type for event in stream]
        streamed = stream.get_final_message()
    assert streamed.model_dump(exclude={"id"}) == plain.model_dump(exclude={"id"})
    assert [block.type for block in streamed.content] == ["text", "tool_use", "tool_use"]
    assert streamed.usage.output_tokens == 45 and streamed.usage.cache_read_input_tokens == 20
    raw = [e for e in events if e in ("message_start", "message_delta", "message_stop")]
    assert raw == ["message_start", "message_delta", "message_stop"]
    assert server.requests[1].streamed and not server.requests[0].streamed


def test_the_raw_event_sequence(server: MessagesServer, client: anthropic.Anthropic) -> None:
    server.script(api.text("hello"))
    response = client.messages.create(**ask(), stream=True)
    kinds = [event.type for event in response]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # the SDK hides `ping`; the server sends one after the first block starts


def test_a_stream_can_break_off_with_an_error_event(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    server.script(api.overloaded_midstream(api.text("a long answer " * 10), after_events=3))
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        client.messages.stream(**ask()) as stream,
    ):
        stream.get_final_message()
    assert "overloaded" in str(raised.value).lower()


def test_a_long_answer_is_cut_at_max_tokens(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    server.script(api.text("word " * 400, output_tokens=500))
    answer = client.messages.create(**{**ask(), "max_tokens": 100})
    assert answer.stop_reason == "max_tokens" and answer.usage.output_tokens == 100
    assert answer.content[0].type == "text" and len(answer.content[0].text) == 400


def test_a_tool_call_crossing_max_tokens_is_cut_mid_input(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    body = {"path": "big.py", "content": "y" * 2000}
    server.script(
        api.tool_uses(
            ("read_file", {"path": "a"}),
            ("write_file", body),
            ("list_files", {}),
            output_tokens=None,
        )
    )
    answer = client.messages.create(**{**ask(), "max_tokens": 200})
    assert answer.stop_reason == "max_tokens" and answer.usage.output_tokens == 200
    names = [block.name for block in answer.content if block.type == "tool_use"]
    assert names == ["read_file", "write_file"]  # list_files never started
    cut = answer.content[1]
    assert cut.type == "tool_use" and len(cut.input["content"]) < 2000


def test_refusal_and_pause_turn_stop_reasons(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    server.script(api.refusal(), api.pause_turn(query="sqlite wal"))
    assert client.messages.create(**ask()).stop_reason == "refusal"
    paused = client.messages.create(**ask())
    assert paused.stop_reason == "pause_turn"
    assert [block.type for block in paused.content] == ["text", "server_tool_use"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "greater than or equal to 1"),
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "system", "content": "x"}]}, "'user' or 'assistant'"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "text content blocks must be non-empty",
        ),
        ({"temperature": 1.5}, "temperature"),
        ({"frobnicate": True}, "frobnicate: Extra inputs are not permitted"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "Sure "},
                ]
            },
            "trailing whitespace",
        ),
        ({"tools": [{"name": "a b", "input_schema": {"type": "object"}}]}, "pattern"),
        (
            {
                "tools": [
                    {"name": "a", "input_schema": {"type": "object"}},
                    {"name": "a", "input_schema": {"type": "object"}},
                ]
            },
            "must be unique",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}},
            "must be greater than `thinking.budget_tokens`",
        ),
        (
            {
                "system": [
                    {"type": "text", "text": f"s{i}", "cache_control": {"type": "ephemeral"}}
                    for i in range(5)
                ]
            },
            "A maximum of 4 blocks with cache_control",
        ),
    ],
)
def test_invalid_requests_get_the_real_400(
    server: MessagesServer, change: dict[str, Any], message: str
) -> None:
    body = {key: value for key, value in {**ask(), **change}.items() if value is not None}
    server.script(api.text("never used"))
    request = urllib.request.Request(
        f"{server.base_url}/v1/messages",
        json.dumps(body).encode(),
        {"content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 400
    error = json.loads(raised.value.read())
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    assert error["request_id"] == raised.value.headers["request-id"]
    assert server.pending == 1  # a rejected request uses no scripted reply


def test_tool_results_must_answer_the_previous_tool_calls(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}
    asked = {"role": "assistant", "content": [call]}
    unanswered = [{"role": "user", "content": "go"}, asked, {"role": "user", "content": "well?"}]
    wrong_id = [
        {"role": "user", "content": "go"},
        asked,
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"},
            ],
        },
    ]
    text_first = [
        {"role": "user", "content": "go"},
        asked,
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "here"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"},
            ],
        },
    ]
    for messages, expected in (
        (unanswered, "without `tool_result` blocks immediately after"),
        (wrong_id, "unexpected `tool_use_id`"),
        (text_first, "without `tool_result` blocks immediately after"),
    ):
        with pytest.raises(anthropic.BadRequestError, match=expected):
            client.messages.create(**{**ask(), "messages": messages})


def test_rate_limit_headers_and_retry_after(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    server.script(
        api.text("ok", input_tokens=300, output_tokens=40), api.rate_limited(retry_after=7)
    )
    first = client.messages.with_raw_response.create(**ask())
    headers = first.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert headers["anthropic-ratelimit-requests-remaining"] == "3999"
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == str(2_000_000 - 300)
    assert headers["anthropic-ratelimit-output-tokens-remaining"] == str(400_000 - 40)
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(**ask())
    assert raised.value.response.headers["retry-after"] == "7"
    assert "anthropic-ratelimit-requests-remaining" in raised.value.response.headers


def test_an_enforced_limit_answers_429_with_the_wait() -> None:
    now = [1000.0]
    with MessagesServer(
        rate_limits=RateLimits(requests=2, enforce=True), clock=lambda: now[0]
    ) as server:
        client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
        server.script(api.text("1"), api.text("2"), api.text("3"))
        client.messages.create(**ask())
        now[0] += 15
        client.messages.create(**ask())
        with pytest.raises(anthropic.RateLimitError) as raised:
            client.messages.create(**ask())
        assert raised.value.response.headers["retry-after"] == "45"
        now[0] += 45
        assert client.messages.create(**ask()).content[0].text == "3"  # type: ignore[union-attr]


def test_counted_usage_writes_then_reads_the_prompt_cache(
    server: MessagesServer, client: anthropic.Anthropic
) -> None:
    system = [{"type": "text", "text": "rules " * 1200, "cache_control": {"type": "ephemeral"}}]
    server.script(*(api.text("ok", input_tokens=None, output_tokens=None) for _ in range(3)))
    first = client.messages.create(**ask("question one", system=system)).usage
    second = client.messages.create(**ask("question two", system=system)).usage
    small = client.messages.create(
        **ask(
            "tiny",
            system=[{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}],
        )
    ).usage
    assert first.cache_creation_input_tokens >= MIN_CACHEABLE_TOKENS
    assert first.cache_read_input_tokens == 0 and first.input_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert small.cache_creation_input_tokens == 0 and small.cache_read_input_tokens == 0
    assert first.output_tokens == 1  # "ok": counted, not scripted
