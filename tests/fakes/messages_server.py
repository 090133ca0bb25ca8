"""A real HTTP server on 127.0.0.1 that speaks the Anthropic Messages API, JSON or streamed (SSE).

Each test scripts it with a queue of replies; every request is recorded so tests can assert which
model was called and what the client sent. The real `anthropic` SDK (and the real Claude Code CLI)
talk to it via `base_url`:

    with MessagesServer() as server:
        server.script(rate_limited(retry_after=0), text("done"))
        client = anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0)

It behaves like the real API where a client can tell: requests are validated (a bad one gets
400 `invalid_request_error` in the real error shape, before any scripted reply is used), a reply
longer than `max_tokens` is cut with stop_reason `max_tokens`, usage left to the server is
counted with a prompt cache, `"stream": true` gets the real event sequence, every answer carries
`request-id` and `anthropic-ratelimit-*` headers, and a 429 says `retry-after`. With `rate_limits`
the server also enforces a requests-per-minute limit itself. When the script runs out the server
answers 500 with "script exhausted", so a test that makes more calls than it planned fails
loudly instead of hanging.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.messages_replies import (
    Reply,
    complete_reply,
    context_too_long,
    error,
    invalid_request,
    message,
    overloaded,
    overloaded_midstream,
    pause_turn,
    rate_limited,
    refusal,
    server_error,
    slow,
    text,
    tool_use,
    tool_uses,
    unauthorized,
)
from tests.fakes.messages_stream import encode, stream_events
from tests.fakes.messages_validation import problem
from tests.fakes.prompt_cache import PromptCache

__all__ = [
    "MessagesServer",
    "RateLimits",
    "RecordedRequest",
    "Reply",
    "context_too_long",
    "error",
    "invalid_request",
    "message",
    "overloaded",
    "overloaded_midstream",
    "pause_turn",
    "rate_limited",
    "refusal",
    "running_server",
    "server_error",
    "slow",
    "text",
    "tool_use",
    "tool_uses",
    "unauthorized",
    "wait_until",
]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def api_key(self) -> str | None:
        """The key the client sent (`x-api-key`, or a bearer token in newer SDKs)."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    @property
    def streamed(self) -> bool:
        return self.body.get("stream") is True


@dataclass
class RateLimits:
    """Per-minute limits reported in `anthropic-ratelimit-*` headers (and enforced if asked)."""

    requests: int = 4_000
    input_tokens: int = 2_000_000
    output_tokens: int = 400_000
    enforce: bool = False  # answer 429 with retry-after once `requests` is used up


class _Window:
    """What was used in the current minute (a fixed window; the real API refills continuously)."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self.started = clock()
        self.requests = self.input_tokens = self.output_tokens = 0

    def _roll(self) -> None:
        if self.clock() - self.started >= 60:
            self.started = self.clock()
            self.requests = self.input_tokens = self.output_tokens = 0

    def admit(self) -> float | None:
        """Count a request; seconds to wait when it is over the limit (enforced) instead."""
        self._roll()
        if self.limits.enforce and self.requests >= self.limits.requests:
            return max(0.0, self.started + 60 - self.clock())
        self.requests += 1
        return None

    def record(self, usage: dict[str, Any]) -> None:
        self.input_tokens += sum(
            int(usage.get(key) or 0)
            for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        self.output_tokens += int(usage.get("output_tokens") or 0)

    def headers(self) -> dict[str, str]:
        reset = datetime.now(UTC) + timedelta(seconds=60 - (self.clock() - self.started))
        stamp = reset.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        out: dict[str, str] = {}
        for name, limit, used in (
            ("requests", self.limits.requests, self.requests),
            ("input-tokens", self.limits.input_tokens, self.input_tokens),
            ("output-tokens", self.limits.output_tokens, self.output_tokens),
            (
                "tokens",
                self.limits.input_tokens + self.limits.output_tokens,
                self.input_tokens + self.output_tokens,
            ),
        ):
            out[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{name}-remaining"] = str(max(0, limit - used))
            out[f"anthropic-ratelimit-{name}-reset"] = stamp
        return out


class MessagesServer:
    """Threaded HTTP server answering POST /v1/messages from a scripted queue."""

    def __init__(
        self,
        responder: Callable[[RecordedRequest], Reply] | None = None,
        *,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # `responder` answers when no scripted reply is queued (benchmarks, long conversations).
        self.responder = responder
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.rejected: list[tuple[RecordedRequest, str]] = []  # (request, why) for 400s we made
        self.cache = PromptCache()
        self._window = _Window(rate_limits or RateLimits(), clock)
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order, one per valid request."""
        with self._lock:
            self._replies.extend(replies)

    def tool_results(self, request_number: int) -> list[dict[str, Any]]:
        """The tool_result blocks the client sent in request `request_number` (0-based)."""
        last = self.requests[request_number].body["messages"][-1]
        return [block for block in last["content"] if block.get("type") == "tool_result"]

    @property
    def models_called(self) -> list[str]:
        return [request.model for request in self.requests]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def start(self) -> MessagesServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wake handlers that are sleeping in a slow reply
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MessagesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: RecordedRequest) -> tuple[Reply, dict[str, str]]:
        """The reply to a request and the headers that go with it (validation, limits, script)."""
        with self._lock:
            self.requests.append(request)
            wait = self._window.admit()
            if wait is not None:
                return rate_limited(retry_after=math.ceil(wait)), self._window.headers()
            why = problem(request.body)
            if why is not None:
                self.rejected.append((request, why))
                return error(400, "invalid_request_error", why), self._window.headers()
            reply = self._replies.popleft() if self._replies else None
        if reply is None:
            reply = (
                self.responder(request)
                if self.responder is not None
                else error(500, "api_error", "script exhausted: no reply queued for this request")
            )
        if reply.status == 200:
            body = complete_reply(reply.body, request.body, self.cache)
            reply = Reply(200, body, reply.headers, reply.delay_s, reply.stream_error_after)
            with self._lock:
                self._window.record(body["usage"])
        with self._lock:
            return reply, self._window.headers()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's algorithm
                # and delayed ACKs add ~40 ms to every keep-alive request.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsable": raw.decode("utf-8", "replace")}
                headers = {key.lower(): value for key, value in self.headers.items()}
                if self.path.split("?")[0] != "/v1/messages":
                    self._send(error(404, "not_found_error", f"no route {self.path}"), {})
                    return
                reply, limits = server.answer(RecordedRequest(self.path, headers, body))
                if reply.delay_s:
                    server._stopping.wait(reply.delay_s)
                if reply.status == 200 and isinstance(body, dict) and body.get("stream") is True:
                    self._stream(reply, limits)
                else:
                    self._send(reply, limits)

            def _head(self, status: int, content_type: str, extra: dict[str, str]) -> str:
                request_id = "req_" + uuid.uuid4().hex[:24]
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("request-id", request_id)
                for key, value in extra.items():
                    self.send_header(key, value)
                return request_id

            def _send(self, reply: Reply, limits: dict[str, str]) -> None:
                try:
                    request_id = self._head(
                        reply.status, "application/json", {**limits, **reply.headers}
                    )
                    body = reply.body
                    if body.get("type") == "error":
                        body = {**body, "request_id": request_id}
                    data = json.dumps(body).encode()
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to answer

            def _stream(self, reply: Reply, limits: dict[str, str]) -> None:
                self.close_connection = True  # the end of the stream is the end of the body
                try:
                    self._head(
                        200,
                        "text/event-stream",
                        {
                            **limits,
                            **reply.headers,
                            "cache-control": "no-cache",
                            "connection": "close",
                        },
                    )
                    self.end_headers()
                    for count, (event, data) in enumerate(stream_events(reply.body)):
                        if (
                            reply.stream_error_after is not None
                            and count >= reply.stream_error_after
                        ):
                            failure = {
                                "type": "error",
                                "error": {"type": "overloaded_error", "message": "Overloaded"},
                            }
                            self.wfile.write(encode("error", failure))
                            break
                        self.wfile.write(encode(event, data))
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

        return Handler


def running_server() -> Iterator[MessagesServer]:
    """Generator for a pytest fixture: a started server, stopped after the test."""
    server = MessagesServer().start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(predicate: Any, timeout_s: float = 5.0) -> bool:
    """Poll `predicate()` until true (for asynchronous server-side effects)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
