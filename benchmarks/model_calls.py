"""Agent tasks under API failures: our policy (retries + fallback) vs the SDK's built-in retries,
like with like: the same models and the same fallback chain.

    .venv/bin/python benchmarks/model_calls.py [--tasks 200] [--seed 7] [--quick]

A real HTTP server on 127.0.0.1 speaks the Messages API; the real `anthropic` SDK talks to it.
Each agent task is a 3-turn conversation (write a file, read it back, answer). Every request
fails at random, as a busy API does: the Opus model is overloaded (529) 30% of the time, and
any model answers 429 (with `retry-after: 1`, as the API sends) 5% and 500 5% of the time.

Both variants try Opus, then Sonnet for the rest of the task (the same chain, the same agent loop):
- peer: the SDK's defaults (`max_retries=2` and its own backoff), then the plain fallback chain;
- ours: SDK retries off, our policy table (tenacity): per failure type, retry or move on.
Backoff waits are recorded as each policy asks for them and then cut to 2 ms, so the run is quick
and both variants are timed alike. Printed per variant: tasks that succeed, HTTP requests per
task, the wait per task the policy asked for (the time a real run spends backing off), and the
wall time per task here; plus the loop's own overhead per turn on a failure-free run.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fakes import messages_server as api  # noqa: E402
from tests.fakes.messages_server import MessagesServer, RecordedRequest, Reply  # noqa: E402
from tests.fakes.pricing import OPUS, SONNET, price  # noqa: E402

OPUS_OVERLOADED = 0.30
RATE_LIMITED = 0.05
SERVER_ERROR = 0.05
RETRY_AFTER_S = 1.0
SLEEP_CAP_S = 0.002
CHAIN = [OPUS, SONNET]


class FlakyApi:
    """Answers a 3-turn agent conversation, failing at random like a busy API."""

    def __init__(self, seed: int, failures: bool = True) -> None:
        self.rng = random.Random(seed)
        self.failures = failures
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        with self.lock:
            draw = self.rng.random()
        if self.failures:
            failure = self._failure(request.model, draw)
            if failure is not None:
                return failure
        turn = sum(1 for m in request.body.get("messages", []) if m.get("role") == "assistant")
        if turn == 0:
            return api.tool_use("write_file", {"path": "out/result.txt", "content": "42\n"})
        if turn == 1:
            return api.tool_use("read_file", {"path": "out/result.txt"})
        return api.text("done")

    @staticmethod
    def _failure(model: str, draw: float) -> Reply | None:
        if model == OPUS and draw < OPUS_OVERLOADED:
            return api.overloaded()
        draw = (draw - OPUS_OVERLOADED) / (1 - OPUS_OVERLOADED) if model == OPUS else draw
        if draw < RATE_LIMITED:
            return api.rate_limited(retry_after=RETRY_AFTER_S)
        if draw < RATE_LIMITED + SERVER_ERROR:
            return api.server_error()
        return None


def recorded_sleep(waits: list[float]) -> Callable[[float], None]:
    """A sleep that notes what was asked for and waits at most SLEEP_CAP_S."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, SLEEP_CAP_S))

    return sleep


def sdk_with_default_retries(provider: Any, waits: list[float]) -> None:
    """Give the provider's client the SDK's default retries, with its backoff recorded."""
    client = provider._client.with_options(max_retries=2)
    original = client._calculate_retry_timeout

    def timeout(*args: Any, **kwargs: Any) -> float:
        seconds = float(original(*args, **kwargs))
        waits.append(seconds)
        return min(seconds, SLEEP_CAP_S)

    client._calculate_retry_timeout = timeout
    provider._client = client


def run_tasks(variant: str, tasks: int, seed: int, failures: bool = True) -> dict[str, Any]:
    from buildrunner.executors.agent import AgentTask, run_agent_task
    from buildrunner.routing.failures import RetryConfig
    from buildrunner.routing.providers.anthropic import AnthropicProvider

    server = MessagesServer(responder=FlakyApi(seed, failures)).start()
    succeeded, turns = 0, 0
    durations: list[float] = []
    waits: list[float] = []
    try:
        provider = AnthropicProvider("sk-bench", base_url=server.base_url, timeout_s=10)
        if variant == "peer":
            sdk_with_default_retries(provider, waits)
            retry = RetryConfig(max_retries=0)  # no retries of ours: only the fallback chain
        else:
            retry = RetryConfig()
        with tempfile.TemporaryDirectory() as tmp:
            for number in range(tasks):
                workdir = Path(tmp) / f"task{number}"
                workdir.mkdir()
                task = AgentTask(
                    session_id="bench", task_id=f"t{number}", prompt="write 42 to out/result.txt",
                    workdir=workdir, files=["out/"], allow_commands=False, models=list(CHAIN),
                    cost_limit_usd=Decimal("1"), budget_allowance_usd=None, max_turns=10,
                )  # fmt: skip
                started = time.perf_counter()
                result = run_agent_task(
                    task, provider=provider, price=price, on_event=lambda event: None,
                    sleep=recorded_sleep(waits), retry=retry,
                )  # fmt: skip
                durations.append(time.perf_counter() - started)
                succeeded += result.status == "succeeded"
                turns += result.turns
    finally:
        server.stop()
    return {
        "succeeded": succeeded,
        "tasks": tasks,
        "requests": len(server.requests),
        "turns": turns,
        "wait_s": sum(waits),
        "mean_s": statistics.mean(durations),
    }


def main() -> None:
    logging.disable(logging.WARNING)  # retries and fallbacks are logged; not wanted here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="40 tasks")
    args = parser.parse_args()
    tasks = 40 if args.quick else args.tasks

    clean = run_tasks("ours", max(10, tasks // 4), args.seed, failures=False)
    per_turn_ms = clean["mean_s"] * 1000 * clean["tasks"] / clean["turns"]
    print(f"loop overhead (no failures, localhost): {per_turn_ms:.1f} ms per turn")
    print(
        f"failure mix: Opus 529 {OPUS_OVERLOADED:.0%}, any model 429 {RATE_LIMITED:.0%} "
        f"(retry-after {RETRY_AFTER_S:g} s) and 500 {SERVER_ERROR:.0%} per request; {tasks} "
        f"three-turn tasks; both variants: Opus, then Sonnet"
    )
    print(
        f"{'':40} {'succeeded':>10} {'requests/task':>14} {'wait s/task':>12} {'wall s/task':>12}"
    )
    variants = (
        ("peer", "SDK defaults (2 retries) + same fallback"),
        ("ours", "ours (policy + fallback)"),
    )
    for variant, label in variants:
        figures = run_tasks(variant, tasks, args.seed)
        n = figures["tasks"]
        print(
            f"{label:40} {figures['succeeded'] / n:>10.1%} {figures['requests'] / n:>14.2f} "
            f"{figures['wait_s'] / n:>12.3f} {figures['mean_s']:>12.3f}"
        )


if __name__ == "__main__":
    main()
