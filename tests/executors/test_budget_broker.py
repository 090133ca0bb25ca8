"""Reservations before every model call, in both executors, with an in-memory broker."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from buildrunner.executors.agent import run_agent_task
from buildrunner.executors.claude_code import run_claude_code_task
from buildrunner.routing.providers.anthropic import AnthropicProvider
from buildrunner.routing.providers.claude_code import ClaudeCodeProvider
from tests.fakes import messages_server as api
from tests.fakes.broker import InMemoryBroker
from tests.fakes.fake_claude import FakeClaude
from tests.fakes.messages_server import MessagesServer
from tests.fakes.pricing import OPUS, SONNET, price
from tests.fakes.recorder import Recorder
from tests.fakes.tasks import make_task


def test_each_call_is_reserved_then_settled_and_a_refusal_stops_the_loop(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker(grants=2)
    server.script(
        api.tool_use("list_files", {}, input_tokens=None, output_tokens=None),
        api.tool_use("read_file", {"path": "README.md"}, input_tokens=None, output_tokens=None),
        api.text("never sent"),
    )
    task = make_task(workdir, budget=broker)
    result = run_agent_task(task, provider=provider, price=price, on_event=recorder.event)
    assert result.status == "failed" and result.error_type == "budget_exceeded"
    assert "could not be reserved" in (result.error or "")
    assert len(server.requests) == 2  # the third call was never made
    assert broker.states == ["settled", "settled"] and len(broker.refused) == 1
    completed = recorder.of_type("model_call_completed")
    assert [e["reservation_id"] for e in completed] == ["r1", "r2"]
    for reservation, event in zip(broker.reservations, completed, strict=True):
        assert reservation.actual == Decimal(event["cost_usd"])
        assert reservation.amount >= reservation.actual  # the worst case held
        assert reservation.amount > 0
    stop = recorder.of_type("budget_exceeded")[-1]
    assert stop["scope"] == "reservation" and stop["model"] == OPUS
    assert result.cost_usd == sum((r.actual or Decimal(0) for r in broker.reservations), Decimal(0))


def test_a_failed_call_is_released_and_each_retry_or_fallback_reserves_again(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker()
    server.script(api.overloaded(), api.text("done"))
    result = run_agent_task(
        make_task(workdir, budget=broker),
        provider=provider,
        price=price,
        on_event=recorder.event,
        sleep=recorder.sleep,
    )
    assert result.status == "succeeded" and server.models_called == [OPUS, SONNET]
    assert [(r.model, r.state) for r in broker.reservations] == [
        (OPUS, "released"),
        (SONNET, "settled"),
    ]


def test_without_a_broker_nothing_is_reserved(
    server: MessagesServer, provider: AnthropicProvider, recorder: Recorder, workdir: Path
) -> None:
    server.script(api.text("done"))
    run_agent_task(make_task(workdir), provider=provider, price=price, on_event=recorder.event)
    assert "reservation_id" not in recorder.of_type("model_call_completed")[0]


def run_cli(task_budget: InMemoryBroker, workdir: Path, recorder: Recorder, **task: object):  # type: ignore[no-untyped-def]
    return run_claude_code_task(
        make_task(workdir, budget=task_budget, **task),
        provider=ClaudeCodeProvider(),
        price=price,
        on_event=recorder.event,
        sleep=recorder.sleep,
    )


def test_claude_code_reserves_what_the_limit_leaves_and_caps_the_run_at_it(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker()
    fake_claude.script(fake_claude.run(cost=0.12, writes={"app/greet.py": "x\n"}))
    result = run_cli(
        broker,
        workdir,
        recorder,
        cost_limit_usd=Decimal("0.50"),
        budget_allowance_usd=Decimal("0.40"),
    )
    assert result.status == "succeeded"
    argv = fake_claude.invocations[0]["argv"]
    assert argv[argv.index("--max-budget-usd") + 1] == "0.40"
    [reservation] = broker.reservations
    assert (reservation.amount, reservation.state, reservation.actual) == (
        Decimal("0.40"),
        "settled",
        Decimal("0.12"),
    )
    assert recorder.of_type("model_call_completed")[0]["reservation_id"] == "r1"


def test_claude_code_refused_reservation_runs_nothing(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker(grants=0)
    result = run_cli(broker, workdir, recorder, cost_limit_usd=Decimal("1"))
    assert result.error_type == "budget_exceeded" and fake_claude.invocations == []
    assert recorder.of_type("budget_exceeded")[0]["scope"] == "reservation"


def test_claude_code_failed_runs_settle_what_they_cost_or_release(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker()
    fake_claude.script(
        fake_claude.run(
            is_error=True, result="API Error: 529 overloaded", cost=0.003, api_error_status=529
        ),
        fake_claude.run(output="", stderr="API Error: 500 Internal server error", exit_code=1),
        fake_claude.run(cost=0.01),
    )
    result = run_cli(broker, workdir, recorder, cost_limit_usd=Decimal("1"), models=[OPUS, SONNET])
    assert result.status == "succeeded" and result.cost_usd == Decimal("0.013")
    assert [(r.model, r.state, r.actual) for r in broker.reservations] == [
        (OPUS, "settled", Decimal("0.003")),
        (SONNET, "released", None),
        (SONNET, "settled", Decimal("0.01")),
    ]
    budgets = [r.amount for r in broker.reservations]
    assert budgets == [Decimal("1"), Decimal("0.997"), Decimal("0.997")]


def test_claude_code_stopped_by_its_budget_cap_is_a_money_failure(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    fake_claude.script(
        fake_claude.run(is_error=True, subtype="error_max_budget_usd", result="", cost=0.21)
    )
    result = run_cli(InMemoryBroker(), workdir, recorder, cost_limit_usd=Decimal("0.20"))
    assert result.status == "failed" and result.error_type == "cost_limit_exceeded"
    assert recorder.of_type("budget_exceeded")[0]["spent_usd"] == "0.21"


def test_claude_code_refused_retry_still_undoes_what_the_first_run_wrote(
    fake_claude: FakeClaude, recorder: Recorder, workdir: Path
) -> None:
    broker = InMemoryBroker(grants=1)
    fake_claude.script(
        fake_claude.run(
            is_error=True,
            result="API Error: 529",
            api_error_status=529,
            cost=0.01,
            writes={"stray.txt": "x\n"},
        ),
    )
    result = run_cli(broker, workdir, recorder, cost_limit_usd=Decimal("1"), models=[OPUS, SONNET])
    assert result.error_type == "write_outside_files" and result.outside_writes == ["stray.txt"]
    assert not (workdir / "stray.txt").exists() and len(fake_claude.invocations) == 1
    assert broker.refused == [(SONNET, Decimal("0.99"))]
    assert [e["scope"] for e in recorder.of_type("budget_exceeded")] == ["reservation"]
