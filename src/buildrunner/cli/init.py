"""`br init`: set up a project: `.buildrunner/` (private) and `buildrunner.toml` (shared)."""

from __future__ import annotations

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console

CONFIG_TEMPLATE = """\
# BuildRunner settings shared by everyone working on this project: commit this file.
# All keys are optional; a private .buildrunner/config.toml overrides them for this checkout
# only, and BR_<SECTION>_<KEY> environment variables override both.
# Every key is listed in docs/ARCHITECTURE.md (Configuration).

[run]
# workers = 4

[telemetry]
# retention_days = 30

[parallel]
# heartbeat_timeout_s = 30
"""


def init_command(json_output: bool = JSON_OPTION) -> None:
    """Set up this project: .buildrunner/ (private) and buildrunner.toml (shared).

    `.buildrunner/` (mode 0700, ignored by git) holds the database, logs and cache;
    `buildrunner.toml` at the project root holds settings meant to be committed. An existing
    buildrunner.toml is never overwritten.

    \b
    Examples:
      br init
      br init --json
    """
    from pathlib import Path

    from buildrunner.store.db import SHARED_CONFIG, Store
    from buildrunner.store.migrate import latest_version

    store = Store(Path.cwd().resolve())
    conn = store.connect()
    conn.close()
    config = store.root / SHARED_CONFIG
    created_config = not config.exists()
    if created_config:
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    result = {
        "project": str(store.root),
        "database": str(store.db_path),
        "schema_version": latest_version(),
        "config": str(config),
        "config_created": created_config,
    }
    if json_output:
        emit_json(result)
    else:
        from buildrunner.display import printable

        err_console.print(
            f"initialised {printable(str(store.data_dir))} (private, schema v{latest_version()})"
            + (f"; wrote {SHARED_CONFIG} (commit it)" if created_config else ""),
            markup=False,
        )
