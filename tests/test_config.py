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


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"BR_STORE_BUSY_TIMEOUT_S": "inf"}, "'store.busy_timeout_s': must be a finite number"),
        ({"BR_STORE_BUSY_TIMEOUT_S": "nan"}, "'store.busy_timeout_s': must be a finite number"),
        ({"BR_STORE_BUSY_TIMEOUT_S": "1e9"}, "'store.busy_timeout_s': Input should be less than"),
        ({"BR_RUN_DEFAULT_TIMEOUT_S": "inf"}, "'run.default_timeout_s': must be a finite number"),
        ({"BR_PARALLEL_HEARTBEAT_INTERVAL_S": "inf"}, "'parallel.heartbeat_interval_s'"),
        ({"BR_PARALLEL_HEARTBEAT_INTERVAL_S": "1e-6"}, "'parallel.heartbeat_interval_s'"),
        ({"BR_TELEMETRY_FLUSH_INTERVAL_S": "inf"}, "'telemetry.flush_interval_s'"),
        ({"BR_TELEMETRY_RETENTION_DAYS": "99999999999999999999"}, "'telemetry.retention_days'"),
        ({"BR_RUN_LOG_MAX_BYTES": "1e30"}, "'run.log_max_bytes'"),
        ({"BR_ROUTING_DEFAULT_COST_LIMIT_USD": "1e400"}, "'routing.default_cost_limit_usd'"),
    ],
)
def test_numbers_outside_their_range_are_one_line_errors(
    tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ=environ)
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("timeout", ["0.5", "1e-6", "2.5"])
def test_heartbeat_timeout_must_leave_room_for_a_beat_and_start_up(
    tmp_path: Path, timeout: str
) -> None:
    # a timeout under the interval declared healthy workers lost; 1e-6 respawned them forever
    with pytest.raises(
        ConfigError, match=r"heartbeat_timeout_s .* must be at least heartbeat_interval_s"
    ):
        load_settings(tmp_path, environ={"BR_PARALLEL_HEARTBEAT_TIMEOUT_S": timeout})
    settings = load_settings(
        tmp_path,
        environ={
            "BR_PARALLEL_HEARTBEAT_INTERVAL_S": "0.2",
            "BR_PARALLEL_HEARTBEAT_TIMEOUT_S": "1.5",
        },
    )
    assert settings.parallel.heartbeat_timeout_s == 1.5


def test_the_same_limits_hold_in_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.buildrunner.telemetry]\nflush_interval_s = inf\n"
    )
    with pytest.raises(ConfigError, match=r"'telemetry.flush_interval_s': must be a finite number"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize("name", ["pyproject.toml", "buildrunner.toml", ".buildrunner/config.toml"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe[run]\nworkers = 2\n", "not a UTF-8 text file"),
        (b"[run]\nworkers = \x00\n", "invalid TOML"),
        (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML"),
    ],
)
def test_unreadable_settings_files_are_named(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert name in str(info.value) and expected in str(info.value)


def test_a_settings_path_that_is_no_file_is_refused_not_read(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "buildrunner.toml")  # reading would block forever
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(tmp_path, environ={})


def test_shared_then_private_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.buildrunner.run]\nworkers = 2\n")
    (tmp_path / "buildrunner.toml").write_text(
        "[run]\nworkers = 3\n[telemetry]\nretention_days = 8\n"
    )
    assert load_settings(tmp_path, environ={}).run.workers == 3
    (tmp_path / ".buildrunner").mkdir()
    (tmp_path / ".buildrunner" / "config.toml").write_text("[run]\nworkers = 5\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.run.workers == 5 and settings.telemetry.retention_days == 8
    assert settings.security.baseline == ".buildrunner-baseline.json"
