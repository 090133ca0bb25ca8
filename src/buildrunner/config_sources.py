"""Where settings come from, merged but not validated (no pydantic: the pre-commit hook uses it).

Precedence (later wins): `[tool.buildrunner]` in pyproject.toml < `buildrunner.toml` (shared,
committed) < `.buildrunner/config.toml` (private, this checkout only) < environment
`BR_<SECTION>_<KEY>` (values parsed as TOML scalars when they parse).
`buildrunner.config` validates the result; `buildrunner.security.options` reads one section.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from buildrunner.errors import ConfigError
from buildrunner.userfiles import read_text

NOT_SETTINGS = frozenset({"BR_PROJECT_DIR"})
MAX_CONFIG_BYTES = 5_000_000  # a pyproject.toml is a few KB; this stops /dev/zero and mistakes


def merged_settings(
    root: Path, environ: Mapping[str, str], sections: Iterable[str]
) -> dict[str, Any]:
    """Every source merged into one table of sections (only `sections` are read from the env)."""
    merged: dict[str, Any] = {}
    pyproject = root / "pyproject.toml"
    if _exists(pyproject):
        tool = read_toml(pyproject).get("tool", {})
        section = tool.get("buildrunner", {}) if isinstance(tool, dict) else {}
        deep_merge(merged, section if isinstance(section, dict) else {})
    for path in (root / "buildrunner.toml", root / ".buildrunner" / "config.toml"):
        if _exists(path):
            deep_merge(merged, read_toml(path))
    deep_merge(merged, from_environment(environ, tuple(sections)))
    return merged


def _exists(path: Path) -> bool:
    """True for anything at `path` (a FIFO or folder there is refused by read_toml, not skipped)."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return True  # unreadable: read_toml says why


def read_toml(path: Path) -> dict[str, Any]:
    """A settings file's TOML: a regular UTF-8 file of at most MAX_CONFIG_BYTES, else ConfigError."""
    text = read_text(path, max_bytes=MAX_CONFIG_BYTES, what="settings file", error=ConfigError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # arrays nested thousands deep
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None


def deep_merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value


def from_environment(environ: Mapping[str, str], sections: tuple[str, ...]) -> dict[str, Any]:
    """`BR_<SECTION>_<KEY>=value` pairs for the known sections."""
    found: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("BR_") or name in NOT_SETTINGS:
            continue
        rest = name[3:].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue
        found.setdefault(section, {})[rest[len(section) + 1 :]] = parse_scalar(raw)
    return found


def parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def as_bool(value: Any, key: str) -> bool:
    """A boolean setting read the way the validated settings read it ('off' is False)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"setting '{key}': Input should be a valid boolean (got {value!r})")
