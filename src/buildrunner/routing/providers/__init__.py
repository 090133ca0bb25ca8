"""Model providers behind one small interface, registered in one table.

A provider turns a `ModelRequest` into a `CallResult` (content, stop reason, token usage, latency)
or raises `ModelCallError` carrying a classified `Failure`. Providers never retry: the failure
policy (`buildrunner.routing.resilience`) does that, so retries do not multiply.
SDKs are imported lazily by the provider modules, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, by kind (cache writes and reads are priced differently)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read: fresh input plus cache writes and reads."""
        return self.input_tokens + self.cache_creation_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class ModelRequest:
    """One Messages API request in plain data."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int = 8192
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CallResult:
    """What every provider call returns."""

    model: str  # the model id we asked for (catalog id); prices are looked up by it
    content: list[dict[str, Any]]  # content blocks as plain dicts (text, tool_use, ...)
    stop_reason: str | None
    usage: Usage
    latency_ms: float
    response_model: str | None = None  # what the API says answered (may be a dated id)
    reported_cost_usd: Decimal | None = None  # when the provider computes cost itself (CLI)
    turns: int = 1  # model turns inside the call (a CLI agent run takes several)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(
            block.get("text", "") for block in self.content if block.get("type") == "text"
        )

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]


@runtime_checkable
class Provider(Protocol):
    """The one interface every provider implements."""

    name: str

    def complete(self, request: ModelRequest) -> CallResult:
        """Make one call; raise `ModelCallError` (never retry inside)."""
        ...


# name -> "module:Class"; the class has `from_settings(settings, environ) -> Provider`.
PROVIDERS: Mapping[str, str] = {
    "anthropic": "buildrunner.routing.providers.anthropic:AnthropicProvider",
    "claude-code": "buildrunner.routing.providers.claude_code:ClaudeCodeProvider",
}


def create_provider(
    name: str, settings: RoutingSettings, environ: Mapping[str, str] | None = None
) -> Provider:
    """Build the named provider from settings (raises `MissingCredentialsError` without a key)."""
    from buildrunner.errors import ConfigError

    target = PROVIDERS.get(name)
    if target is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigError(f"unknown provider '{name}' (known: {known})")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    provider: Provider = cls.from_settings(settings, os.environ if environ is None else environ)
    return provider


__all__ = ["PROVIDERS", "CallResult", "ModelRequest", "Provider", "Usage", "create_provider"]
