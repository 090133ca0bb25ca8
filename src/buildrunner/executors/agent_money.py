"""What the API agent loop may spend on its next call, and what that call can cost at worst.

Before each call the loop caps `max_tokens` to what the binding money limit can still pay for
(after the estimated input), and, when the task has a budget broker, reserves the call's worst
case: the input as a byte count (a token is never shorter than one byte), billed at the dearer
of the input and cache-write prices, plus `max_tokens` at the output price. Cache reads would
only lower it, so they are not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from buildrunner.executors.agent_types import AgentTask, BudgetBroker, PriceFunction, cost_limit
from buildrunner.executors.reservations import Hold, ReservationRefused, hold
from buildrunner.routing.providers import CallResult, Usage

MIN_OUTPUT_TOKENS = 256  # below this a call cannot do useful work: stop instead
CHARS_PER_TOKEN = 3.0  # conservative (code tokenises denser than prose)
FIRST_CALL_OVERHEAD_TOKENS = 600  # the API's own wrapping of tools and turns (worst case only)
MESSAGE_OVERHEAD_TOKENS = 16  # role markers around each new message (worst case only)


class MoneyStop(Exception):
    """The next call cannot be paid for within the binding limit."""


@dataclass(frozen=True)
class NextRequest:
    """The conversation the next call sends, and what the previous call read and wrote."""

    system: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    last: CallResult | None  # the previous successful call
    sent_messages: int  # how many of `messages` the previous call sent

    def estimated_prompt(self) -> Usage:
        """Tokens the next request reads: the last prompt (cached) plus what was added since."""
        if self.last is None:
            chars = len(self.system) + len(json.dumps(self.messages)) + len(json.dumps(self.tools))
            return Usage(input_tokens=int(chars / CHARS_PER_TOKEN) + 1)
        usage = self.last.usage
        added = int(len(json.dumps(self.messages[-1])) / CHARS_PER_TOKEN) + 1 + usage.output_tokens
        if usage.cache_creation_tokens or usage.cache_read_tokens:
            # Caching works for this conversation: the repeated prefix will be a cache read.
            return Usage(input_tokens=added, cache_read_tokens=usage.prompt_tokens)
        return Usage(input_tokens=added + usage.prompt_tokens)

    def worst_case_prompt_tokens(self) -> int:
        """An upper bound of the tokens the next request reads."""
        if self.last is None:
            text = self.system + json.dumps(self.messages) + json.dumps(self.tools)
            return len(text.encode()) + FIRST_CALL_OVERHEAD_TOKENS
        # The previous prompt was counted by the API; the answer and what followed it are new.
        new = self.messages[self.sent_messages :]
        added = sum(len(json.dumps(m).encode()) + MESSAGE_OVERHEAD_TOKENS for m in new)
        return self.last.usage.prompt_tokens + added


def affordable_output(
    task: AgentTask, model: str, price: PriceFunction, spent: Decimal, prompt: Usage
) -> int:
    """`max_tokens` for the next call: the task's maximum, capped by what is left to spend."""
    wanted = task.max_output_tokens
    limit, _ = cost_limit(task)
    if limit is None:
        return wanted
    remaining = limit - spent - price(model, prompt)
    per_token = price(model, Usage(output_tokens=1_000_000)) / 1_000_000
    affordable = wanted if per_token <= 0 else int(remaining / per_token)
    if remaining <= 0 or affordable < MIN_OUTPUT_TOKENS:
        raise MoneyStop(
            f"the next call to {model} would exceed the limit "
            f"(estimated input {prompt.prompt_tokens} tokens)"
        )
    return min(wanted, affordable)


def worst_case_cost(
    model: str, price: PriceFunction, prompt_tokens: int, max_tokens: int
) -> Decimal:
    """The most a call can cost: input at the dearer of fresh and cache-write, full output."""
    fresh = price(model, Usage(input_tokens=prompt_tokens))
    written = price(model, Usage(cache_creation_tokens=prompt_tokens))
    return max(fresh, written) + price(model, Usage(output_tokens=max_tokens))


def output_within_worst_case(
    task: AgentTask,
    model: str,
    price: PriceFunction,
    spent: Decimal,
    prompt_tokens: int,
    max_tokens: int,
) -> int:
    """`max_tokens` lowered so the call's worst case fits the binding limit: a reservation for
    it is then never refused by the task's own limit when the call itself could be paid for."""
    limit, _ = cost_limit(task)
    if limit is None:
        return max_tokens
    room = limit - spent - worst_case_cost(model, price, prompt_tokens, 0)
    per_token = price(model, Usage(output_tokens=1_000_000)) / 1_000_000
    fitting = max_tokens if per_token <= 0 else int(room / per_token)
    if room <= 0 or fitting < MIN_OUTPUT_TOKENS:
        raise MoneyStop(
            f"the next call to {model} could cost more than the limit leaves "
            f"(up to {prompt_tokens} input tokens)"
        )
    return min(max_tokens, fitting)


def hold_within(
    broker: BudgetBroker, model: str, price: PriceFunction, prompt_tokens: int, max_tokens: int
) -> tuple[Hold, int]:
    """Reserve the call's worst case, or as much as the budgets have left when that still pays
    for a useful call: (the hold, the `max_tokens` the call may then ask for).

    Brokers that can grant less (`reserve_up_to`) let a call shrink its output to the money
    that is left instead of being refused while other calls hold the rest.
    """
    worst = worst_case_cost(model, price, prompt_tokens, max_tokens)
    reserve_up_to = getattr(broker, "reserve_up_to", None)
    if reserve_up_to is None or max_tokens <= MIN_OUTPUT_TOKENS:
        return hold(broker, model, worst), max_tokens
    minimum = worst_case_cost(model, price, prompt_tokens, MIN_OUTPUT_TOKENS)
    granted = reserve_up_to(model, worst, minimum)
    if granted is None:
        raise ReservationRefused(model, minimum)
    reservation_id, amount = granted
    if amount < worst:
        per_token = price(model, Usage(output_tokens=1_000_000)) / 1_000_000
        room = amount - worst_case_cost(model, price, prompt_tokens, 0)
        max_tokens = max(MIN_OUTPUT_TOKENS, min(max_tokens, int(room / per_token)))
    return Hold(broker, reservation_id, amount), max_tokens
