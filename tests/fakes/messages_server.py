"""A real HTTP server on 127.0.0.1 that speaks the Anthropic Messages API (non-streaming JSON).

Each test scripts it with a queue of replies; every request is recorded so tests can assert which
model was called and what the client sent. The real `anthropic` SDK talks to it via `base_url`:

    with MessagesServer() as server:
        server.script(rate_limited(retry_after=0), text("done"))
        client = anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0)

When the script runs out the server answers 500 with "script exhausted", so a test that makes
more calls than it planned fails loudly instead of hanging.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (to trigger client timeouts)


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


def _usage(
    input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 100,
    output_tokens: int = 20,
    cache_write: int = 0,
    cache_read: int = 0,
    model: str | None = None,
) -> Reply:
    """A 200 Messages API response; `model` defaults to the model of the request."""
    body: dict[str, Any] = {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model or "",
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(input_tokens, output_tokens, cache_write, cache_read),
    }
    return Reply(200, body)


def text(answer: str, **usage: Any) -> Reply:
    """A final answer (stop_reason end_turn)."""
    return message([{"type": "text", "text": answer}], **usage)


def tool_use(name: str, tool_input: dict[str, Any], *, say: str = "", **usage: Any) -> Reply:
    """A turn that asks the client to run one tool."""
    content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
    content.append(
        {
            "type": "tool_use",
            "id": "toolu_" + uuid.uuid4().hex[:20],
            "name": name,
            "input": tool_input,
        }
    )
    return message(content, stop_reason="tool_use", **usage)


def error(status: int, error_type: str, text_: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error", "error": {"type": error_type, "message": text_}}
    return Reply(status, body, headers or {})


def rate_limited(retry_after: float | None = None) -> Reply:
    headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
    return error(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit", headers
    )


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded")


def server_error() -> Reply:
    return error(500, "api_error", "Internal server error")


def context_too_long(tokens: int = 210_000, limit: int = 200_000) -> Reply:
    return error(
        400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {limit} maximum"
    )


def invalid_request(text_: str = "messages: field required") -> Reply:
    return error(400, "invalid_request_error", text_)


def unauthorized() -> Reply:
    return error(401, "authentication_error", "invalid x-api-key")


def slow(reply: Reply, delay_s: float) -> Reply:
    """The same reply, sent only after `delay_s` (longer than the client's timeout)."""
    return Reply(reply.status, reply.body, reply.headers, delay_s)


class MessagesServer:
    """Threaded HTTP server answering POST /v1/messages from a scripted queue."""

    def __init__(self, responder: Callable[[RecordedRequest], Reply] | None = None) -> None:
        # `responder` answers when no scripted reply is queued (benchmarks, long conversations).
        self.responder = responder
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
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
        """Queue replies, answered in order, one per request."""
        with self._lock:
            self._replies.extend(replies)

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

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._replies:
                return self._replies.popleft()
        if self.responder is not None:
            return self.responder(request)
        return error(500, "api_error", "script exhausted: no reply queued for this request")

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
                    self._send(error(404, "not_found_error", f"no route {self.path}"))
                    return
                reply = server._next(RecordedRequest(self.path, headers, body))
                if reply.delay_s:
                    server._stopping.wait(reply.delay_s)
                if reply.status == 200 and not reply.body.get("model"):
                    reply = Reply(200, {**reply.body, "model": body.get("model", "")})
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", "req_" + uuid.uuid4().hex[:16])
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to answer

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
