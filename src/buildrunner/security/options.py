"""Security settings read without pydantic (for the pre-commit hook, which must start fast).

Same sources and precedence as `buildrunner.config`: `[tool.buildrunner.security]` in
pyproject.toml, then `[security]` in `.buildrunner/config.toml`, then `BR_SECURITY_*` variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from buildrunner.config_sources import as_bool, merged_settings
from buildrunner.errors import ConfigError
from buildrunner.security.filescan import DEFAULT_MAX_FILE_BYTES, ScanOptions

DEFAULT_BASELINE = ".buildrunner-baseline.json"  # committed at the project root (see store.db)


def load_security_section(root: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The merged `security` settings table (unvalidated, but types are checked where used)."""
    environ = dict(os.environ) if environ is None else environ
    section = merged_settings(root, environ, ("security",)).get("security", {})
    return section if isinstance(section, dict) else {}


def load_options(root: Path, environ: dict[str, str] | None = None) -> tuple[ScanOptions, Path]:
    """(scan options, baseline path) for the project at `root`."""
    section = load_security_section(root, environ)
    allow = section.get("allow_paths", [])
    if isinstance(allow, str):
        allow = [allow]
    max_bytes = section.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
    if not isinstance(allow, list) or not isinstance(max_bytes, int):
        raise ConfigError(
            "setting 'security.allow_paths' must be a list and 'max_file_bytes' an integer"
        )
    options = ScanOptions(
        secrets=as_bool(section.get("secrets", True), "security.secrets"),
        sql=as_bool(section.get("sql", True), "security.sql"),
        allow_paths=tuple(str(item) for item in allow),
        max_file_bytes=max_bytes,
    )
    return options, root / str(section.get("baseline", DEFAULT_BASELINE))
