"""The Anthropic Messages API through the official SDK (non-streaming), with SDK retries off."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from buildrunner.routing.failures import (
    Failure,
    MissingCredentialsError,
    ModelCallError,
    classify_status,
)
from buildrunner.routing.providers import CallResult, ModelRequest, Usage

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings

KEY_VARIABLE = "ANTHROPIC_API_KEY"
BASE_URL_VARIABLE = "ANTHROPIC_BASE_URL"


def api_key_from(settings: RoutingSettings, environ: Mapping[str, str]) -> str | None:
    """The key to use: `ANTHROPIC_API_KEY`, else `routing.api_key` (None when neither is set)."""
    return environ.get(KEY_VARIABLE) or settings.api_key or None


def base_url_from(settings: RoutingSettings, environ: Mapping[str, str]) -> str | None:
    """`routing.base_url`, else `ANTHROPIC_BASE_URL`, else the SDK's default."""
    return settings.base_url or environ.get(BASE_URL_VARIABLE) or None


class AnthropicProvider:
    """One Messages API call per `complete`; errors become classified `ModelCallError`s."""

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import anthropic  # lazy: the SDK takes a second or two to import

        self._anthropic = anthropic
        # max_retries=0: our failure policy retries; the SDK's own retries would multiply them.
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: RoutingSettings, environ: Mapping[str, str]
    ) -> AnthropicProvider:
        key = api_key_from(settings, environ)
        if not key:
            raise MissingCredentialsError(
                f"no Anthropic API key: set {KEY_VARIABLE} or routing.api_key to run agent tasks"
            )
        return cls(
            key, base_url=base_url_from(settings, environ), timeout_s=settings.request_timeout_s
        )

    def complete(self, request: ModelRequest) -> CallResult:
        arguments: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": request.messages,
        }
        if request.system:
            arguments["system"] = request.system
        if request.tools:
            arguments["tools"] = request.tools
        started = self._clock()
        try:
            response = self._client.messages.create(**arguments)
        except self._anthropic.APIError as exc:
            raise ModelCallError(self._classify(exc), request.model) from None
        latency_ms = (self._clock() - started) * 1000.0
        usage = response.usage
        return CallResult(
            model=request.model,
            content=[_block(block) for block in response.content],
            stop_reason=response.stop_reason,
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_creation_tokens=usage.cache_creation_input_tokens or 0,
                cache_read_tokens=usage.cache_read_input_tokens or 0,
            ),
            latency_ms=latency_ms,
            response_model=response.model,
        )

    def _classify(self, exc: Exception) -> Failure:
        sdk = self._anthropic
        if isinstance(exc, sdk.APITimeoutError):
            return Failure("timeout", "request timed out")
        if isinstance(exc, sdk.APIConnectionError):
            return Failure("connection", f"cannot reach the API: {exc}")
        if isinstance(exc, sdk.APIStatusError):
            message = exc.api_message or str(exc)
            return classify_status(
                exc.status_code,
                message,
                error_type=exc.type,
                headers=dict(exc.response.headers),
            )
        return Failure("unknown", str(exc))


def _block(block: Any) -> dict[str, Any]:
    """A response content block as a plain dict that can be sent back in the next request."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped
