"""What the agent loop may spend on a call: the cache-warm estimate, and the worst case."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from buildrunner.executors.agent import run_agent_task
from buildrunner.executors.agent_money import NextRequest, worst_case_cost
from buildrunner.routing.providers import CallResult, Usage
from buildrunner.routing.providers.anthropic import AnthropicProvider
from tests.fakes import messages_server as api
from tests.fakes.messages_server import MessagesServer
from tests.fakes.pricing import OPUS, price
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task

COUNTED = {"input_tokens": None, "output_tokens": None}  # the fake counts and caches


def test_a_warm_cache_lets_the_next_call_afford_more_output(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    prompt = "Add a greeting module. Context follows.\n" + "lorem ipsum dolor sit amet " * 900
    limit = Decimal("0.35")
    server.script(
        api.tool_use("read_file", {"path": "README.md"}, **COUNTED),
        api.tool_use("read_file", {"path": "app/main.py"}, **COUNTED),
        api.text("done", **COUNTED),
    )
    task = make_task(workdir, prompt=prompt, cost_limit_usd=limit, models=[OPUS])
    result = run_agent_task(task, provider=provider, price=price, on_event=recorder.event)
    assert result.status == "succeeded", result.error
    calls = recorder.of_type("model_call_completed")
    assert calls[0]["cache_write_tokens"] > 0 and calls[1]["cache_read_tokens"] > 0  # warm
    second = Usage(
        calls[1]["input_tokens"],
        calls[1]["output_tokens"],
        calls[1]["cache_write_tokens"],
        calls[1]["cache_read_tokens"],
    )
    spent = sum((Decimal(c["cost_usd"]) for c in calls[:2]), Decimal(0))
    sent = server.requests[2].body
    newest = {k: v for k, v in sent["messages"][-1].items()}
    newest["content"] = [
        {k: v for k, v in b.items() if k != "cache_control"} for b in newest["content"]
    ]
    added = int(len(json.dumps(newest)) / 3.0) + 1 + second.output_tokens
    per_token = price(OPUS, Usage(output_tokens=1_000_000)) / 1_000_000
    warm = Usage(input_tokens=added, cache_read_tokens=second.prompt_tokens)
    cold = Usage(input_tokens=added + second.prompt_tokens)
    expected = min(8192, int((limit - spent - price(OPUS, warm)) / per_token))
    assert sent["max_tokens"] == expected
    assert expected > int((limit - spent - price(OPUS, cold)) / per_token)  # the cache mattered
    assert result.cost_usd <= limit


def test_the_worst_case_bounds_what_a_call_can_cost() -> None:
    messages = [{"role": "user", "content": "héllo wörld " * 50}]
    first = NextRequest("system", messages, [{"name": "t"}], last=None, sent_messages=0)
    tokens = first.worst_case_prompt_tokens()
    assert tokens >= len(json.dumps(messages).encode())
    cost = worst_case_cost(OPUS, price, tokens, 1000)
    # dearer of fresh input ($15/M) and cache write ($18.75/M), plus all of max_tokens ($75/M)
    assert cost == price(OPUS, Usage(cache_creation_tokens=tokens, output_tokens=1000))
    answered = CallResult(OPUS, [], "tool_use", Usage(100, 50, 300, 2000), 1.0)
    grown = [
        *messages,
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": "next"},
    ]
    later = NextRequest("system", grown, [], last=answered, sent_messages=1)
    added = sum(len(json.dumps(m).encode()) + 16 for m in grown[1:])
    assert later.worst_case_prompt_tokens() == 2400 + added
