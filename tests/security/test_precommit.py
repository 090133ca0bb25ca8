"""The hook under the real pre-commit framework (issue 18 item 3) and the hook's own advice.

pre-commit runs offline here: the repository's hook definition (`.pre-commit-hooks.yaml`) is
copied into a `repo: local` configuration with `language: system`, so pre-commit calls the `br`
installed in this environment instead of building one from the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from buildrunner.security.findings import Finding
from buildrunner.security.formats import hook_text
from tests.security.tokens import TokenFactory

HOOKS_FILE = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
    "pre-commit"
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if PRE_COMMIT is None:
        pytest.fail("pre-commit is not installed: it is in the dev extra (`make dev`)")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    hook = yaml.safe_load(HOOKS_FILE.read_text())[0]
    local = {**hook, "language": "system"}
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]})
    )
    (repo / "README.md").write_text("# demo\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "start", "--no-verify")
    return repo


def _pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    assert PRE_COMMIT is not None
    return subprocess.run(
        [PRE_COMMIT, *args], cwd=repo, capture_output=True, text=True, env=env, timeout=300
    )


def test_hook_definition_passes_the_files(repo: Path) -> None:
    hook = yaml.safe_load(HOOKS_FILE.read_text())[0]
    assert hook["pass_filenames"] is True and hook["entry"] == "br security precommit"
    assert not hook.get("always_run", False)


def test_run_all_files_scans_committed_files(repo: Path) -> None:
    token = TokenFactory(seed=31).github()
    (repo / "settings.py").write_text(f'GITHUB_TOKEN = "{token}"\n')
    _git(repo, "add", "settings.py")
    _git(
        repo, "commit", "-q", "-m", "leak", "--no-verify"
    )  # already committed: only --all-files sees it
    result = _pre_commit(repo, "run", "--all-files")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "settings.py:1" in output and "github-token" in output
    assert token not in output
    (repo / "settings.py").write_text('import os\nGITHUB_TOKEN = os.environ["GITHUB_TOKEN"]\n')
    clean = _pre_commit(repo, "run", "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_commit_through_the_installed_framework_hook_is_blocked(repo: Path) -> None:
    installed = _pre_commit(repo, "install")
    assert installed.returncode == 0, installed.stderr
    token = TokenFactory(seed=32).github()
    (repo / "deploy.py").write_text(f'TOKEN = "{token}"\n')
    _git(repo, "add", "deploy.py")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    commit = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-m", "leak"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert commit.returncode != 0
    assert "deploy.py:1" in commit.stdout + commit.stderr


def _finding(kind: str) -> Finding:
    return Finding(
        "app.py",
        3,
        1,
        3,
        "github-token" if kind == "secret" else "sqli-python-fstring",
        "secret" if kind == "secret" else "sql_injection",
        "high",
        "m",
        "ghp_…abcd",
        "f" * 32,
    )


def test_hook_advice_fits_the_findings() -> None:
    secret_only = hook_text([_finding("secret")])
    assert "query parameters" not in secret_only and "rotate" in secret_only
    sql_only = hook_text([_finding("sql")])
    assert "query parameters" in sql_only and "rotate" not in sql_only
    both = hook_text([_finding("secret"), _finding("sql")])
    assert "query parameters" in both and "rotate" in both
