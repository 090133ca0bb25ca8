"""Security settings read without pydantic (for the pre-commit hook, which must start fast).

Same sources and precedence as `buildrunner.config`: `[tool.buildrunner.security]` in
pyproject.toml, then `[security]` in `.buildrunner/config.toml`, then `BR_SECURITY_*` variables.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from buildrunner.errors import ConfigError
from buildrunner.security.scanner import DEFAULT_MAX_FILE_BYTES, ScanOptions

DEFAULT_BASELINE = ".buildrunner/security-baseline.json"


def load_security_section(root: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The merged `security` settings table (unvalidated, but types are checked where used)."""
    environ = dict(os.environ) if environ is None else environ
    merged: dict[str, Any] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _read(pyproject).get("tool", {})
        section = tool.get("buildrunner", {}).get("security", {}) if isinstance(tool, dict) else {}
        merged.update(section if isinstance(section, dict) else {})
    own = root / ".buildrunner" / "config.toml"
    if own.is_file():
        section = _read(own).get("security", {})
        merged.update(section if isinstance(section, dict) else {})
    for name, raw in environ.items():
        if name.startswith("BR_SECURITY_"):
            merged[name[len("BR_SECURITY_"):].lower()] = _scalar(raw)
    return merged


def load_options(root: Path, environ: dict[str, str] | None = None) -> tuple[ScanOptions, Path]:
    """(scan options, baseline path) for the project at `root`."""
    section = load_security_section(root, environ)
    allow = section.get("allow_paths", [])
    if isinstance(allow, str):
        allow = [allow]
    max_bytes = section.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
    if not isinstance(allow, list) or not isinstance(max_bytes, int):
        raise ConfigError("setting 'security.allow_paths' must be a list and 'max_file_bytes' an integer")
    options = ScanOptions(
        secrets=bool(section.get("secrets", True)),
        sql=bool(section.get("sql", True)),
        allow_paths=tuple(str(item) for item in allow),
        max_file_bytes=max_bytes,
    )
    return options, root / str(section.get("baseline", DEFAULT_BASELINE))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from None


def _scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
