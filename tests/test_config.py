from __future__ import annotations

from pathlib import Path

import pytest

from buildrunner.config import load_settings
from buildrunner.errors import ConfigError


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.run.workers == 4
    assert settings.parallel.heartbeat_timeout_s == 30


def test_pyproject_then_config_toml_then_environment(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.buildrunner.run]\nworkers = 3\n[tool.buildrunner.telemetry]\nretention_days = 9\n"
    )
    (tmp_path / ".buildrunner").mkdir()
    (tmp_path / ".buildrunner" / "config.toml").write_text("[run]\nworkers = 5\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.run.workers == 5
    assert settings.telemetry.retention_days == 9
    settings = load_settings(tmp_path, environ={"BR_RUN_WORKERS": "7", "BR_PROJECT_DIR": "x"})
    assert settings.run.workers == 7


def test_unknown_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.buildrunner.run]\nworkerz = 3\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'run.workerz'"):
        load_settings(tmp_path, environ={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.buildrunner.bogus]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'bogus'"):
        load_settings(tmp_path, environ={})


def test_wrong_type_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"setting 'run.workers'"):
        load_settings(tmp_path, environ={"BR_RUN_WORKERS": "many"})


def test_environment_unknown_key_in_known_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting .telemetry\.colour."):
        load_settings(tmp_path, environ={"BR_TELEMETRY_COLOUR": "red"})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.buildrunner\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: invalid TOML"):
        load_settings(tmp_path, environ={})


def test_the_hook_reads_security_settings_like_the_cli(tmp_path: Path) -> None:
    from buildrunner.security.options import load_options

    for raw, expected in (("off", False), ("false", False), ("on", True), ("1", True)):
        environ = {"BR_SECURITY_SQL": raw}
        assert load_settings(tmp_path, environ=environ).security.sql is expected
        assert load_options(tmp_path, environ)[0].sql is expected
    with pytest.raises(ConfigError, match=r"security\.sql"):
        load_options(tmp_path, {"BR_SECURITY_SQL": "maybe"})
