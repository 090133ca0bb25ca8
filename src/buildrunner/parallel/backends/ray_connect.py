"""Connecting to a Ray cluster, and saying why it failed when Ray only times out.

Ray 2.60's `ray start` turns token authentication on when a token exists (`~/.ray/auth_token`,
written by any earlier local `ray.init`). A driver that connects to such a cluster by address
without `RAY_AUTH_MODE=token` is refused at every attempt, and `ray.init` gives up after about
20 seconds with a bare "Failed to connect". So before connecting by address, a short probe asks
the cluster's GCS directly: an authentication refusal comes back in about two seconds, and the
error names the setting. Any other outcome of the probe (reachable, slow, no answer) leaves the
decision to `ray.init`, whose failure then carries the same hint.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

AUTH_MODE_VARIABLE = "RAY_AUTH_MODE"
PROBE_TIMEOUT_S = 8.0
TOKEN_HINT = (
    f"set {AUTH_MODE_VARIABLE}=token in br's environment (Ray 2.60's `ray start` turns token "
    "authentication on by default; the token is read from ~/.ray/auth_token, RAY_AUTH_TOKEN or "
    "RAY_AUTH_TOKEN_PATH)"
)


def token_mode_on() -> bool:
    return os.environ.get(AUTH_MODE_VARIABLE, "").lower() == "token"


def needs_probe(address: str | None) -> bool:
    """A cluster named by HOST:PORT, reached without token mode: Ray will not add a token."""
    if not address or address == "auto" or "://" in address:
        return False  # a local Ray, `auto` (Ray enables a token it finds), or Ray Client
    return not token_mode_on()


def refuses_without_token(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when the GCS at `address` refuses us for want of an authentication token.

    False when it answers, or does not answer within `timeout_s` (the probe then goes on in a
    daemon thread; `ray.init` reports what is wrong).
    """
    outcome: dict[str, bool] = {}

    def probe() -> None:
        try:
            # no public API asks the GCS alone; the client raises AuthenticationError when refused
            raylet: Any = importlib.import_module("ray._raylet")
            raylet.GcsClient(address=address)
            outcome["refused"] = False
        except Exception as exc:
            outcome["refused"] = type(exc).__name__ == "AuthenticationError"

    thread = threading.Thread(target=probe, name="br-ray-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return outcome.get("refused", False)


def connection_error(address: str | None, exc: BaseException | None) -> str:
    """The one-line reason `ray.init` could not start or reach Ray."""
    where = address or "a local Ray"
    detail = f": {_first_line(exc)}" if exc is not None else ""
    if address and exc is not None and not token_mode_on() and "://" not in address:
        return (
            f"cannot start or reach {where}{detail}; if the cluster uses token "
            f"authentication, {TOKEN_HINT}"
        )
    return f"cannot start or reach {where}{detail}"


def token_refusal(address: str) -> str:
    return (
        f"cannot reach the Ray cluster at {address}: it requires token authentication; {TOKEN_HINT}"
    )


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
