"""Settings: `[tool.buildrunner]` in pyproject.toml, `buildrunner.toml`, then `BR_*` env.

Precedence (later wins): defaults < pyproject.toml < buildrunner.toml (committed, shared by the
team) < .buildrunner/config.toml (private to this checkout) < environment.
Environment variables are `BR_<SECTION>_<KEY>` (e.g. `BR_RUN_WORKERS=4`,
`BR_TELEMETRY_RETENTION_DAYS=7`). Unknown keys and wrong types are errors naming the key.

Every number has a range a build can honour: no `inf` or `nan`, no timeout a timer or SQLite
cannot hold, and the relations between settings hold too (a worker's heartbeat timeout leaves
room for its interval and its start-up). A setting outside its range is a one-line ConfigError.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from buildrunner.config_sources import merged_settings
from buildrunner.errors import ConfigError

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
MAX_TIMEOUT_S = 30 * DAY_S  # longer than any build: a task that may run a month has no timeout
STARTUP_MARGIN_S = 1.0  # a worker process's start-up before its first heartbeat
MAX_USD = 1_000_000.0


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class StoreSettings(Section):
    busy_timeout_s: float = Field(10.0, gt=0, le=HOUR_S)


class RunSettings(Section):
    workers: int = Field(4, ge=1, le=256)
    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_shared_filesystem: bool = False  # every Ray node sees the repository at the same path
    default_timeout_s: float | None = Field(None, gt=0, le=MAX_TIMEOUT_S)
    log_max_bytes: int = Field(10_000_000, ge=1024, le=2**40)  # per task log before truncation


class SecuritySettings(Section):
    allow_paths: list[str] = Field(default_factory=list)  # globs never scanned
    max_file_bytes: int = Field(2_000_000, ge=1, le=2**32)
    baseline: str = ".buildrunner-baseline.json"  # committed at the project root, shared
    gate: Literal["block", "warn", "off"] = "block"  # after agent tasks
    secrets: bool = True
    sql: bool = True


class RoutingSettings(Section):
    estimator: Literal["auto", "heuristic", "learned"] = "auto"
    catalog: str | None = None  # path to a catalog file overriding the shipped one
    tiers: dict[str, str] = Field(default_factory=dict)  # level -> tier or model id
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)  # tier/model -> chain
    default_cost_limit_usd: float | None = Field(None, gt=0, le=MAX_USD)
    max_turns: int = Field(30, ge=1, le=10_000)
    provider: Literal["anthropic", "claude-code"] = "anthropic"
    api_key: str | None = None
    base_url: str | None = None
    request_timeout_s: float = Field(120.0, gt=0, le=DAY_S)
    max_retries: int = Field(4, ge=0, le=100)
    # what a resolved task is worth, in attempts on its dearest tier (routing/data/policy.toml):
    # higher climbs to stronger models more often (more resolved tasks, more money)
    value_of_resolve: float | None = Field(None, gt=0, le=100)


class ThresholdSettings(Section):
    enabled: bool = True
    value: float | None = Field(None, ge=-1e15, le=1e15)
    level: Literal["info", "warning", "error", "critical"] | None = None
    for_s: float | None = Field(None, ge=0, le=MAX_TIMEOUT_S)


class NotifierSettings(Section):
    kind: Literal["slack", "webhook"] = "webhook"
    url: str
    min_level: Literal["info", "warning", "error", "critical"] = "warning"
    timeout_s: float = Field(5.0, gt=0, le=HOUR_S)
    retries: int = Field(3, ge=0, le=100)


class TelemetrySettings(Section):
    retention_days: int = Field(30, ge=1, le=36_500)
    batch_size: int = Field(200, ge=1, le=1_000_000)
    flush_interval_s: float = Field(1.0, gt=0, le=HOUR_S)
    window_s: float = Field(3600.0, gt=0, le=365 * DAY_S)  # metrics window the thresholds look at
    thresholds: dict[str, ThresholdSettings] = Field(default_factory=dict)
    notifiers: list[NotifierSettings] = Field(default_factory=list)
    pause_on_critical: bool = False
    drop_types: list[str] = Field(default_factory=list)  # event types never stored
    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318: spans over OTLP/HTTP
    otlp_headers: dict[str, str] = Field(default_factory=dict)


class ParallelSettings(Section):
    heartbeat_interval_s: float = Field(2.0, ge=0.05, le=HOUR_S)
    heartbeat_timeout_s: float = Field(30.0, gt=0, le=DAY_S)
    lock_poll_s: float = Field(0.2, ge=0.01, le=60.0)
    queue_ahead: bool = True  # a busy worker holds its next (lock-free command) task
    isolate: Literal["none", "task", "session", "worktree"] = "none"  # worktree: as session

    @model_validator(mode="after")
    def _timeout_covers_a_beat(self) -> ParallelSettings:
        least = self.heartbeat_interval_s + STARTUP_MARGIN_S
        if self.heartbeat_timeout_s < least:
            raise ValueError(
                f"heartbeat_timeout_s ({self.heartbeat_timeout_s:g}) must be at least "
                f"heartbeat_interval_s + {STARTUP_MARGIN_S:g}s of start-up ({least:g}): "
                "a shorter one declares healthy workers lost"
            )
        return self


class QualitySettings(Section):
    min_coverage: float | None = Field(None, ge=0, le=100)
    coverage_file: str = "coverage.json"
    test_task: str | None = None  # id of the plan's test task
    run_after_build: bool = False


class CacheSettings(Section):
    enabled: bool = True  # reuse results of unchanged tasks (docs/CACHE.md)
    dir: str = ".buildrunner/cache"  # relative to the project root; may be a shared path
    max_bytes: int | None = Field(5_000_000_000, ge=0)  # LRU-pruned above this; None: no cap


class Settings(Section):
    store: StoreSettings = Field(default_factory=StoreSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    parallel: ParallelSettings = Field(default_factory=ParallelSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)


def load_settings(root: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the project's settings; raise ConfigError naming the bad key."""
    environ = dict(os.environ) if environ is None else environ
    merged = merged_settings(root, environ, Settings.model_fields)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown setting '{key}'"
    if error["type"] == "value_error":  # a relation between settings: the message names them
        section = f"[{key}] " if key else ""
        return f"settings {section}{error['msg'].removeprefix('Value error, ')}"
    message = error["msg"]
    if error["type"] == "finite_number":
        message = "must be a finite number (not inf or nan)"
    shown = repr(error.get("input"))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"setting '{key}': {message} (got {shown})"
