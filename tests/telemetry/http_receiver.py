"""A real HTTP server on 127.0.0.1 that records POSTed JSON and answers scripted statuses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


@contextmanager
def http_receiver(statuses: list[int] | None = None, delay_s: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(url="", statuses=list(statuses or []), delay_s=delay_s)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            if status == 200:
                with lock:
                    receiver.received.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
