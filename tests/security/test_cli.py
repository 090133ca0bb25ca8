"""`br security ...` through the real command: formats, exit codes, baseline, masking, rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_br
from tests.security.tokens import TokenFactory


def _leaky_project(root: Path, seed: int = 1) -> str:
    token = TokenFactory(seed=seed).github()
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "config.py").write_text(f'import os\nTOKEN = "{token}"\n')
    (root / "app" / "main.py").write_text("print('hi')\n")
    return token


def test_scan_json_document_and_exit_codes(project: Path) -> None:
    token = _leaky_project(project)
    result = run_br("security", "scan", "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"findings", "files_scanned", "bytes_scanned", "duration_s", "skipped"}
    assert data["files_scanned"] == 2 and data["bytes_scanned"] > 0
    finding = data["findings"][0]
    assert {k: finding[k] for k in ("path", "line", "column", "end_line", "rule_id", "kind")} == {
        "path": "app/config.py",
        "line": 2,
        "column": 10,
        "end_line": 2,
        "rule_id": "github-token",
        "kind": "secret",
    }
    assert finding["severity"] == "critical" and len(finding["fingerprint"]) == 32
    assert token not in result.stdout + result.stderr
    (project / "app" / "config.py").write_text("import os\nTOKEN = os.environ['TOKEN']\n")
    clean = run_br("security", "scan", "--json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["findings"] == []


def test_table_output_goes_to_stderr_and_masks(project: Path) -> None:
    token = _leaky_project(project)
    result = run_br("security", "scan", "app")
    assert result.returncode == 1
    assert "github-token" in result.stderr and token[:4] + "…" + token[-4:] in result.stderr
    assert token not in result.stderr and result.stdout == ""


def test_sarif_report_to_a_file(project: Path) -> None:
    token = _leaky_project(project)
    result = run_br("security", "scan", "--format", "sarif", "--output", "out.sarif")
    assert result.returncode == 1
    sarif = json.loads((project / "out.sarif").read_text())
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["github-token"]
    location = run["results"][0]["locations"][0]["physicalLocation"]
    assert (
        location["artifactLocation"]["uri"] == "app/config.py"
        and location["region"]["startLine"] == 2
    )
    assert run["results"][0]["level"] == "error" and run["results"][0]["partialFingerprints"]
    assert token not in (project / "out.sarif").read_text()


def test_baseline_accepts_current_findings_and_reports_only_new_ones(project: Path) -> None:
    token = _leaky_project(project)
    written = run_br("security", "baseline", "--json")
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["fingerprints"] == 1
    baseline_text = (project / ".buildrunner-baseline.json").read_text()  # committed, at the root
    assert token not in baseline_text
    assert run_br("security", "scan", "--json").returncode == 0
    new_token = TokenFactory(seed=99).github()
    (project / "app" / "new.py").write_text(f'T = "{new_token}"\n')
    result = run_br("security", "scan", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [f["path"] for f in data["findings"]] == ["app/new.py"] and data["baselined"] == 1
    explicit = run_br("security", "scan", "--json", "--baseline", "missing.json")
    assert explicit.returncode == 2 and "baseline file not found" in explicit.stderr


def test_no_secrets_and_no_sql_switches(project: Path) -> None:
    _leaky_project(project)
    (project / "app" / "db.py").write_text(
        "def f(cur, x):\n    cur.execute('SELECT * FROM t WHERE a=' + x)\n"
    )
    both = json.loads(run_br("security", "scan", "--json").stdout)["findings"]
    assert sorted(f["kind"] for f in both) == ["secret", "sql_injection"]
    only_sql = json.loads(run_br("security", "scan", "--json", "--no-secrets").stdout)["findings"]
    assert [f["kind"] for f in only_sql] == ["sql_injection"]
    nothing = run_br("security", "scan", "--json", "--no-secrets", "--no-sql")
    assert nothing.returncode == 0


def test_allow_paths_from_config(project: Path) -> None:
    _leaky_project(project)
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text(
        '[security]\nallow_paths = ["app/config.py"]\n'
    )
    result = run_br("security", "scan", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["skipped"] == {"allow_paths": 1}


def test_mask_command_reads_arguments_and_stdin(project: Path) -> None:
    token = TokenFactory(seed=5).github()
    masked = token[:4] + "…" + token[-4:]
    assert run_br("security", "mask", f"token={token} done").stdout == f"token={masked} done\n"
    piped = run_br("security", "mask", input=f"line one\npush {token}\n")
    assert piped.returncode == 0 and piped.stdout == f"line one\npush {masked}\n"


def test_rules_command_lists_the_table(project: Path) -> None:
    data = json.loads(run_br("security", "rules", "--json").stdout)
    providers = {rule["provider"] for rule in data["rules"]}
    assert len(providers) >= 30 and {"AWS", "GitHub", "Slack", "Stripe"} <= providers
    assert "github-token" in run_br("security", "rules").stderr


def test_bad_input_is_one_line_and_exit_2(project: Path) -> None:
    result = run_br("security", "scan", "does-not-exist")
    assert (
        result.returncode == 2
        and result.stderr.count("\n") == 1
        and "Traceback" not in result.stderr
    )
    outside = run_br("security", "check", "--staged")
    assert outside.returncode == 2 and "git" in outside.stderr and "Traceback" not in outside.stderr
    (project / ".buildrunner").mkdir()
    (project / ".buildrunner" / "config.toml").write_text("[security]\nmax_file_bytes = 'lots'\n")
    bad_config = run_br("security", "scan")
    assert bad_config.returncode == 2 and "max_file_bytes" in bad_config.stderr


def test_check_staged_and_hooks_commands_in_a_repo(project: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    token = _leaky_project(project)
    subprocess.run(["git", "add", "app"], cwd=project, check=True)
    staged = run_br("security", "check", "--staged", "--json")
    assert (
        staged.returncode == 1
        and json.loads(staged.stdout)["findings"][0]["path"] == "app/config.py"
    )
    assert token not in staged.stdout
    installed = run_br("security", "hooks", "install", "--json")
    assert installed.returncode == 0 and json.loads(installed.stdout)["installed"] is True
    assert json.loads(run_br("security", "hooks", "status", "--json").stdout)["installed"] is True
    precommit = run_br("security", "precommit")
    assert precommit.returncode == 1 and "commit blocked" in precommit.stderr
    assert (
        json.loads(run_br("security", "hooks", "uninstall", "--json").stdout)["installed"] is False
    )


def test_git_history_option(project: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e.org",
    }
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    token = _leaky_project(project)
    subprocess.run(["git", "add", "app"], cwd=project, check=True)
    subprocess.run(
        ["git", "commit", "-q", "--no-verify", "-m", "leak"],
        cwd=project,
        check=True,
        env={**__import__("os").environ, **env},
    )
    (project / "app" / "config.py").unlink()
    assert run_br("security", "scan", "--json").returncode == 0
    history = run_br("security", "scan", "--git-history", "--json")
    assert history.returncode == 1
    findings = json.loads(history.stdout)["findings"]
    assert findings[0]["path"] == "app/config.py" and findings[0]["extra"]["commit"]
    assert token not in history.stdout


def test_settings_choose_analysers_unless_flags_say_otherwise(project: Path) -> None:
    _leaky_project(project)
    (project / "app" / "db.py").write_text(
        "def f(cur, x):\n    cur.execute('SELECT * FROM t WHERE a=' + x)\n"
    )
    kinds = json.loads(
        run_br("security", "scan", "--json", env={"BR_SECURITY_SQL": "false"}).stdout
    )
    assert [f["kind"] for f in kinds["findings"]] == ["secret"]
    forced = json.loads(
        run_br("security", "scan", "--json", "--sql", env={"BR_SECURITY_SQL": "false"}).stdout
    )
    assert sorted(f["kind"] for f in forced["findings"]) == ["secret", "sql_injection"]


def test_table_shows_paths_and_code_as_text_not_markup(project: Path) -> None:
    page = project / "app" / "[id]"
    page.mkdir(parents=True)
    (page / "page.py").write_text(
        "def show(cursor, request, key):\n"
        '    cursor.execute(f"SELECT * FROM t WHERE id = {request.args[key]}")\n'
    )
    result = run_br("security", "scan", "--format", "table", "--no-secrets")
    assert result.returncode == 1, result.stderr
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    assert "[id]" in shown and "args[key]" in shown
