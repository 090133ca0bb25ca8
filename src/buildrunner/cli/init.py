"""`br init`: create `.buildrunner/` with its database and a commented config file."""

from __future__ import annotations

from buildrunner.cli.common import JSON_OPTION, emit_json, err_console

CONFIG_TEMPLATE = """\
# BuildRunner settings for this project (all optional; BR_<SECTION>_<KEY> env vars override).
# See docs/ARCHITECTURE.md for every key.

[run]
# workers = 4

[telemetry]
# retention_days = 30

[parallel]
# heartbeat_timeout_s = 30
"""


def init_command(json_output: bool = JSON_OPTION) -> None:
    """Create .buildrunner/ (mode 0700) with the database and a starter config.toml."""
    from pathlib import Path

    from buildrunner.store.db import Store
    from buildrunner.store.migrate import latest_version

    store = Store(Path.cwd().resolve())
    conn = store.connect()
    conn.close()
    config = store.data_dir / "config.toml"
    created_config = not config.exists()
    if created_config:
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
        config.chmod(0o600)
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
        err_console.print(f"initialised {store.data_dir} (schema v{result['schema_version']})")
