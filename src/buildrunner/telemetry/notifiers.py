"""Alert delivery: a Slack incoming webhook or a generic JSON POST, with retries and a timeout.

Every notifier has the same small interface (`name`, `min_level`, `send(alert)`), built from
`telemetry.notifiers` in the settings. `send` raises `NotificationError` once its retries are
spent; the alert engine records the error on the alert row and logs it; a build never stops
because a webhook is down. Webhook URLs carry tokens, so messages name only the host.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from buildrunner.config import NotifierSettings, TelemetrySettings
from buildrunner.errors import (
    NotificationError as NotificationError,
)
from buildrunner.telemetry.thresholds import LEVEL_ORDER

log = logging.getLogger(__name__)

USER_AGENT = "buildrunner-telemetry/1"
SLACK_COLORS = {"info": "#439FE0", "warning": "#F2C744", "error": "#E8912D", "critical": "#D00000"}


class Notifier(Protocol):
    @property
    def name(self) -> str: ...

    min_level: str

    def wants(self, level: str) -> bool: ...

    def send(self, alert: Mapping[str, Any]) -> None: ...


class _Retryable(Exception):
    """A delivery failure worth another try (network error, timeout, 429 or 5xx)."""


@dataclass
class WebhookNotifier:
    """POSTs the alert as JSON to any URL (generic webhook)."""

    url: str
    min_level: str = "warning"
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    @property
    def name(self) -> str:
        return f"webhook:{urlsplit(self.url).netloc}"

    def wants(self, level: str) -> bool:
        """True when an alert at `level` should go to this notifier."""
        return LEVEL_ORDER.get(level, 0) >= LEVEL_ORDER.get(self.min_level, 0)

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        return {"source": "buildrunner", **alert}

    def send(self, alert: Mapping[str, Any]) -> None:
        """Deliver one alert; raise NotificationError when every attempt failed."""
        body = json.dumps(self.payload(alert), default=str).encode("utf-8")
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s, max=30),
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._post(body)
        except (_Retryable, NotificationError, RetryError) as exc:
            raise NotificationError(f"{self.name}: {exc}") from None

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read(4096)
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code}") from None
            raise NotificationError(f"HTTP {exc.code} (not retried)") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retryable(f"cannot reach {urlsplit(self.url).netloc}: {reason}") from None


@dataclass
class SlackNotifier(WebhookNotifier):
    """POSTs to a Slack incoming webhook (`text` plus a coloured attachment)."""

    @property
    def name(self) -> str:
        return f"slack:{urlsplit(self.url).netloc}"

    def payload(self, alert: Mapping[str, Any]) -> dict[str, Any]:
        level = str(alert.get("level", "warning"))
        state = "RESOLVED" if alert.get("status") == "resolved" else level.upper()
        text = slack_escape(f"[{state}] {alert.get('threshold')}: {alert.get('message')}")
        fields = [
            {"title": "value", "value": slack_escape(str(alert.get("value"))), "short": True},
            {
                "title": "threshold",
                "value": slack_escape(str(alert.get("threshold_value"))),
                "short": True,
            },
        ]
        return {
            "text": text,
            "attachments": [
                {
                    "color": SLACK_COLORS.get(level, "#999999"),
                    "fields": fields,
                    "footer": "buildrunner",
                    "ts": int(alert.get("ts") or time.time()),
                }
            ],
        }


def slack_escape(text: str) -> str:
    """Slack's escaping for message text: `&`, `<` and `>` only (so `<!channel>` or `<url|x>`
    in an alert message stays text instead of pinging a channel or becoming a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


NOTIFIER_KINDS: Mapping[str, type[WebhookNotifier]] = {
    "webhook": WebhookNotifier,
    "slack": SlackNotifier,
}


def notifier_from_settings(settings: NotifierSettings) -> WebhookNotifier:
    """One notifier from its settings entry."""
    return NOTIFIER_KINDS[settings.kind](
        url=settings.url,
        min_level=settings.min_level,
        timeout_s=settings.timeout_s,
        retries=settings.retries,
    )


def notifiers_from_settings(settings: TelemetrySettings) -> list[WebhookNotifier]:
    """Every notifier configured under `telemetry.notifiers`."""
    return [notifier_from_settings(entry) for entry in settings.notifiers]
