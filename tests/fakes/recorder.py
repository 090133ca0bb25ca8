"""Records events and sleeps so tests can assert on them without waiting."""

from __future__ import annotations

from typing import Any


class Recorder:
    """Collects events and sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.sleeps: list[float] = []

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]
