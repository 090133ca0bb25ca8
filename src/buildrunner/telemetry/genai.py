"""The OpenTelemetry GenAI semantic conventions: how events are named when they leave br.

Pure naming (no OpenTelemetry import), used by the OTLP exporter (`otel.py`) and documented
attribute by attribute in docs/TELEMETRY.md. What the conventions ask and br's events differ on:
- `gen_ai.usage.input_tokens` counts every input token, cached ones included; Anthropic (and
  so our `input_tokens`) counts only the uncached part, so the cache reads and writes are added.
- `gen_ai.response.finish_reasons` is a list of strings (we record one reason per call).
- A Claude Code run is one agent invocation, not a chat call: operation `invoke_agent`,
  provider `anthropic`, `gen_ai.agent.name` naming the agent, span name `invoke_agent <agent>`.
- Metrics `gen_ai.client.token.usage` ({token}) and `gen_ai.client.operation.duration` (s) are
  histograms with the conventions' advised bucket boundaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from buildrunner.telemetry.events import Event

# Our field -> its GenAI attribute, where the value is sent as it is.
FIELD_ATTRIBUTES: Mapping[str, str] = {
    "model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "error_type": "error.type",
}
# Fields whose attribute is computed (see `model_call_attributes`).
COMPUTED_FIELDS = frozenset({"input_tokens", "finish_reason", "provider", "operation"})
MODEL_CALLS = ("model_call_completed", "model_call_failed")


@dataclass(frozen=True)
class Agent:
    """An executor whose one run is an agent invocation rather than a model call."""

    provider: str  # gen_ai.provider.name
    name: str  # gen_ai.agent.name


# Our `provider` field value -> the agent it runs (the others are chat calls to that provider).
AGENTS: Mapping[str, Agent] = {"claude-code": Agent(provider="anthropic", name="claude-code")}

# Advised explicit bucket boundaries (GenAI metrics conventions).
TOKEN_BUCKETS: Sequence[float] = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
DURATION_BUCKETS_S: Sequence[float] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"


def operation(event: Event) -> tuple[str, str, str | None]:
    """(gen_ai.operation.name, gen_ai.provider.name, gen_ai.agent.name or None) of a call."""
    fields = event.__dict__
    return operation_of(fields.get("provider"), fields.get("operation"))


def operation_of(provider: str | None, name: str | None) -> tuple[str, str, str | None]:
    """`operation` from our `provider` and `operation` fields."""
    provider = provider or "anthropic"
    agent = AGENTS.get(provider)
    if agent is not None:
        return "invoke_agent", agent.provider, agent.name
    return name or "chat", provider, None


def span_name(event: Event) -> str:
    """`chat <model>`, or `invoke_agent <agent>` for an agent run."""
    fields = event.__dict__
    return span_name_of(fields.get("provider"), fields.get("operation"), fields.get("model"))


def span_name_of(provider: str | None, name: str | None, model: str | None) -> str:
    """`span_name` from our `provider`, `operation` and `model` fields."""
    operation_name, _, agent = operation_of(provider, name)
    return f"{operation_name} {agent or model or ''}".strip()


def input_tokens(event: Event) -> int:
    """All input tokens of a call: uncached input plus cache reads and writes."""
    fields = event.__dict__
    return sum(
        int(fields.get(name) or 0)
        for name in ("input_tokens", "cache_read_tokens", "cache_write_tokens")
    )


def otel_attributes(event: Event) -> dict[str, Any]:
    """The event's fields under OpenTelemetry names: GenAI ones where a convention exists,
    `buildrunner.<field>` otherwise, plus `buildrunner.event.type`/`session.id`/`task.id`."""
    from buildrunner.telemetry.events import COMMON_FIELDS

    computed = event.type in MODEL_CALLS
    attributes: dict[str, Any] = {}
    for name, value in event.model_dump(exclude=COMMON_FIELDS).items():  # type: ignore[arg-type]
        if value is None or (computed and name in COMPUTED_FIELDS):
            continue
        attributes[FIELD_ATTRIBUTES.get(name, f"buildrunner.{name}")] = value
    if computed:
        attributes.update(model_call_attributes(event))
    attributes["buildrunner.event.type"] = event.type
    if event.session_id:
        attributes["buildrunner.session.id"] = event.session_id
    if event.task_id:
        attributes["buildrunner.task.id"] = event.task_id
    return attributes


def model_call_attributes(event: Event) -> dict[str, Any]:
    """The computed GenAI attributes of a model call or agent run."""
    name, provider, agent = operation(event)
    attributes: dict[str, Any] = {"gen_ai.operation.name": name, "gen_ai.provider.name": provider}
    if agent is not None:
        attributes["gen_ai.agent.name"] = agent
    if event.type == "model_call_completed":
        attributes["gen_ai.usage.input_tokens"] = input_tokens(event)
    reason = event.__dict__.get("finish_reason")
    if reason:
        attributes["gen_ai.response.finish_reasons"] = [str(reason)]
    return attributes


def metric_attributes(event: Event) -> dict[str, str]:
    """The attributes a GenAI metric point carries (a small, bounded set)."""
    name, provider, _ = operation(event)
    fields = event.__dict__
    attributes = {"gen_ai.operation.name": name, "gen_ai.provider.name": provider}
    if fields.get("model"):
        attributes["gen_ai.request.model"] = str(fields["model"])
    if fields.get("response_model"):
        attributes["gen_ai.response.model"] = str(fields["response_model"])
    if event.type == "model_call_failed":
        attributes["error.type"] = str(fields.get("error_type") or "_OTHER")
    return attributes
