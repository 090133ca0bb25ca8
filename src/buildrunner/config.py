"""Settings: `[tool.buildrunner]` in pyproject.toml or `.buildrunner/config.toml`, then `BR_*` env.

Precedence (later wins): defaults < pyproject.toml < .buildrunner/config.toml < environment.
Environment variables are `BR_<SECTION>_<KEY>` (e.g. `BR_RUN_WORKERS=4`,
`BR_TELEMETRY_RETENTION_DAYS=7`). Unknown keys and wrong types are errors naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from buildrunner.config_sources import merged_settings
from buildrunner.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StoreSettings(Section):
    busy_timeout_s: float = Field(10.0, gt=0)


class RunSettings(Section):
    workers: int = Field(4, ge=1, le=256)
    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    ray_shared_filesystem: bool = False  # every Ray node sees the repository at the same path
    default_timeout_s: float | None = Field(None, gt=0)
    log_max_bytes: int = Field(10_000_000, ge=1024)  # per task log before truncation


class SecuritySettings(Section):
    allow_paths: list[str] = Field(default_factory=list)  # globs never scanned
    max_file_bytes: int = Field(2_000_000, ge=1)
    baseline: str = ".buildrunner/security-baseline.json"
    gate: Literal["block", "warn", "off"] = "block"  # after agent tasks
    secrets: bool = True
    sql: bool = True


class RoutingSettings(Section):
    estimator: Literal["auto", "heuristic", "learned"] = "auto"
    catalog: str | None = None  # path to a catalog file overriding the shipped one
    tiers: dict[str, str] = Field(default_factory=dict)  # level -> tier or model id
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)  # tier/model -> chain
    default_cost_limit_usd: float | None = Field(None, gt=0)
    max_turns: int = Field(30, ge=1)
    provider: Literal["anthropic", "claude-code"] = "anthropic"
    api_key: str | None = None
    base_url: str | None = None
    request_timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    # what a resolved task is worth, in attempts on its dearest tier (routing/data/policy.toml):
    # higher climbs to stronger models more often (more resolved tasks, more money)
    value_of_resolve: float | None = Field(None, gt=0, le=100)


class ThresholdSettings(Section):
    enabled: bool = True
    value: float | None = None
    level: Literal["info", "warning", "error", "critical"] | None = None
    for_s: float | None = Field(None, ge=0)


class NotifierSettings(Section):
    kind: Literal["slack", "webhook"] = "webhook"
    url: str
    min_level: Literal["info", "warning", "error", "critical"] = "warning"
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(3, ge=0)


class TelemetrySettings(Section):
    retention_days: int = Field(30, ge=1)
    batch_size: int = Field(200, ge=1)
    flush_interval_s: float = Field(1.0, gt=0)
    window_s: float = Field(3600.0, gt=0)  # metrics window the thresholds look at
    thresholds: dict[str, ThresholdSettings] = Field(default_factory=dict)
    notifiers: list[NotifierSettings] = Field(default_factory=list)
    pause_on_critical: bool = False
    drop_types: list[str] = Field(default_factory=list)  # event types never stored
    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318: spans over OTLP/HTTP
    otlp_headers: dict[str, str] = Field(default_factory=dict)


class ParallelSettings(Section):
    heartbeat_interval_s: float = Field(2.0, gt=0)
    heartbeat_timeout_s: float = Field(30.0, gt=0)
    lock_poll_s: float = Field(0.2, gt=0)
    queue_ahead: bool = True  # a busy worker holds its next (lock-free command) task
    isolate: Literal["none", "worktree"] = "none"


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
    return f"setting '{key}': {error['msg']} (got {error.get('input')!r})"
