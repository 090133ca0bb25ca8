"""GenAI semantic-convention names, and docs/TELEMETRY.md naming them as they are sent."""

from __future__ import annotations

import re
from pathlib import Path

from buildrunner.telemetry import genai
from buildrunner.telemetry.events import ModelCallCompleted, ModelCallFailed, ModelSelected

DOCS = Path(__file__).resolve().parents[2] / "docs" / "TELEMETRY.md"


def test_a_chat_call_counts_cached_input_and_lists_finish_reasons() -> None:
    attributes = genai.otel_attributes(
        ModelCallCompleted(
            model="m",
            response_model="m-1",
            input_tokens=3,
            output_tokens=4,
            cache_write_tokens=2,
            cache_read_tokens=10,
            finish_reason="end_turn",
            session_id="s",
            task_id="t",
        )
    )
    assert attributes["gen_ai.usage.input_tokens"] == 15  # 3 uncached + 10 read + 2 written
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 10
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 2
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert (attributes["gen_ai.operation.name"], attributes["gen_ai.provider.name"]) == (
        "chat",
        "anthropic",
    )
    assert (
        attributes["gen_ai.request.model"] == "m" and attributes["gen_ai.response.model"] == "m-1"
    )
    assert attributes["buildrunner.session.id"] == "s" and attributes["buildrunner.task.id"] == "t"
    assert not {
        "buildrunner.input_tokens",
        "buildrunner.provider",
        "buildrunner.finish_reason",
        "buildrunner.operation",
    } & set(attributes)
    assert genai.span_name(ModelCallCompleted(model="m")) == "chat m"


def test_a_claude_code_run_is_an_agent_invocation() -> None:
    run = ModelCallCompleted(model="claude-sonnet-4-5", provider="claude-code", input_tokens=5)
    attributes = genai.otel_attributes(run)
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.agent.name"] == "claude-code"
    assert genai.span_name(run) == "invoke_agent claude-code"
    assert genai.metric_attributes(run)["gen_ai.operation.name"] == "invoke_agent"


def test_failed_calls_carry_error_type_and_no_usage() -> None:
    failed = ModelCallFailed(model="m", error_type="overloaded", latency_ms=50)
    attributes = genai.otel_attributes(failed)
    assert attributes["error.type"] == "overloaded"
    assert "gen_ai.usage.input_tokens" not in attributes
    assert genai.metric_attributes(failed)["error.type"] == "overloaded"


def test_other_events_keep_buildrunner_names() -> None:
    attributes = genai.otel_attributes(
        ModelSelected(model="m", complexity="simple", ladder=["a", "b"])
    )
    assert attributes["gen_ai.request.model"] == "m"
    assert attributes["buildrunner.complexity"] == "simple"
    assert attributes["buildrunner.ladder"] == ["a", "b"]
    assert attributes["buildrunner.event.type"] == "model_selected"


def documented_names() -> set[str]:
    """Attribute names in the 'OpenTelemetry names' table of docs/TELEMETRY.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### OpenTelemetry names") :]
    section = section[: section.index("\n## ")]
    return set(re.findall(r"`((?:gen_ai|error)\.[a-z_.]+)`", section))


def test_the_docs_name_every_genai_attribute_as_sent() -> None:
    sent: set[str] = set()
    for event in (
        ModelCallCompleted(
            model="m",
            response_model="r",
            input_tokens=1,
            output_tokens=1,
            cache_read_tokens=1,
            cache_write_tokens=1,
            finish_reason="end_turn",
        ),
        ModelCallCompleted(model="m", provider="claude-code"),
        ModelCallFailed(model="m", error_type="overloaded"),
    ):
        sent |= {
            name for name in genai.otel_attributes(event) if not name.startswith("buildrunner.")
        }
        sent |= set(genai.metric_attributes(event))
    sent |= {"gen_ai.token.type", genai.TOKEN_USAGE, genai.OPERATION_DURATION}
    assert documented_names() == sent
